using Confluent.Kafka;
using MvnStream.Kafka.Logging;

namespace MvnStream.Kafka.Broker;

/// <summary>
/// An embedded Kafka-protocol broker for development, tests and demos: librdkafka's built-in mock cluster
/// (<c>test.mock.num.brokers</c>), owned by a producer client that this object keeps alive until
/// <see cref="Dispose"/>. Other clients, in this process or others, reach it over TCP on loopback through
/// <see cref="Bootstrap"/>.
/// </summary>
/// <remarks>
/// <para><b>A development broker, not a Kafka server.</b> Everything is in memory and lost at
/// <see cref="Dispose"/> (or when the process exits); it is not durable and not replicated for real.</para>
/// <para>Topics are created on first produce with <see cref="PartitionsPerTopic"/> partitions; CreateTopics
/// requests are not answered, so create a topic by producing to it.</para>
/// <para>Each partition keeps only its last <see cref="PartitionWindowBytes"/> bytes / <see cref="PartitionWindowMessageSets"/>
/// message sets: a consumer that falls further behind than that loses the older records (its offset is out of
/// range). Producers in tests and demos must not run far ahead of their consumers.</para>
/// <para>A consumer that subscribes before its topic exists learns of it only at the next metadata refresh
/// (<c>topic.metadata.refresh.interval.ms</c>, 5 minutes by default): produce first, or lower that interval.</para>
/// <para>Production uses a real Apache Kafka cluster; point <c>--bootstrap</c> at it instead.</para>
/// </remarks>
public sealed class DevelopmentBroker : IDisposable
{
    /// <summary>Partitions of an auto-created topic.</summary>
    public const int PartitionsPerTopic = 4;

    /// <summary>Bytes of the newest records each partition keeps (5 MB); older records are dropped.</summary>
    public const long PartitionWindowBytes = 5L * 1024 * 1024;

    /// <summary>Message sets (produce batches) each partition keeps; older ones are dropped.</summary>
    public const int PartitionWindowMessageSets = 100_000;

    /// <summary>One sentence for users, printed by <c>mvnstream broker</c>.</summary>
    public const string Description =
        "development broker (librdkafka mock cluster): in memory, not durable, keeps only the last 5 MB / 100,000 message sets per partition; for tests and demos only";

    private readonly IProducer<Null, Null> _owner;
    private bool _disposed;

    private DevelopmentBroker(IProducer<Null, Null> owner, IReadOnlyList<string> brokers)
    {
        _owner = owner;
        Brokers = brokers;
        Bootstrap = string.Join(',', brokers);
    }

    /// <summary>Role of the mock cluster's log lines.</summary>
    private static readonly MvnStream.Cluster.Logging.LogContext BrokerContext = new("broker", null);

    /// <summary>"host:port[,host:port...]" of the brokers, for <c>bootstrap.servers</c>.</summary>
    public string Bootstrap { get; }

    /// <summary>The brokers' "host:port", one per broker, ordered by broker id.</summary>
    public IReadOnlyList<string> Brokers { get; }

    /// <summary>
    /// Starts a mock cluster of <paramref name="brokers"/> brokers and waits until its metadata lists all of
    /// them (normally milliseconds).
    /// </summary>
    /// <param name="brokers">Number of brokers, 1 or more (1 by default).</param>
    /// <param name="timeout">How long to wait for the brokers' addresses (10 s by default).</param>
    /// <param name="log">Receives librdkafka's log and error lines of the owning client; null = the process's logging (role broker).</param>
    /// <exception cref="TimeoutException">The brokers did not all appear within <paramref name="timeout"/>.</exception>
    public static DevelopmentBroker Start(int brokers = 1, TimeSpan? timeout = null, Action<string>? log = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        var wait = timeout ?? TimeSpan.FromSeconds(10);
        var config = new ProducerConfig(new Dictionary<string, string>
        {
            ["test.mock.num.brokers"] = brokers.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // The owner never produces; it only keeps the cluster alive. Keep its own chatter low.
            ["log.connection.close"] = "false",
        });
        var owner = new ProducerBuilder<Null, Null>(config)
            .SetLogHandler((_, m) =>
            {
                if (log is null) KafkaLogging.Log(m, BrokerContext);
                else log($"librdkafka {m.Level} {m.Facility}: {m.Message}");
            })
            .SetErrorHandler((client, e) =>
            {
                if (log is null) KafkaLogging.Log(client.Name, e, BrokerContext);
                else log($"librdkafka error: {e.Reason}");
            })
            .Build();
        try
        {
            var list = WaitForBrokers(owner, brokers, wait);
            return new DevelopmentBroker(owner, list);
        }
        catch
        {
            owner.Dispose();
            throw;
        }
    }

    private static List<string> WaitForBrokers(IProducer<Null, Null> owner, int expected, TimeSpan timeout)
    {
        using var admin = new DependentAdminClientBuilder(owner.Handle).Build();
        var deadline = DateTime.UtcNow + timeout;
        string last = "no metadata";
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"the development broker did not list its {expected} broker(s) within {timeout.TotalSeconds:0.#} s ({last})");
            try
            {
                var md = admin.GetMetadata(left < TimeSpan.FromSeconds(2) ? left : TimeSpan.FromSeconds(2));
                if (md.Brokers.Count >= expected)
                    return md.Brokers.OrderBy(b => b.BrokerId).Select(b => $"{b.Host}:{b.Port}").ToList();
                last = $"{md.Brokers.Count} of {expected} brokers listed";
            }
            catch (KafkaException e)
            {
                last = e.Error.Reason;
            }
            Thread.Sleep(20);
        }
    }

    /// <summary>Stops the brokers; all their topics and records are gone.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _owner.Dispose();
    }
}
