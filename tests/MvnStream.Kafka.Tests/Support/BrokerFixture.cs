using System.Diagnostics;
using Confluent.Kafka;
using MvnStream.Kafka.Broker;

namespace MvnStream.Kafka.Tests.Support;

/// <summary>One development broker shared by the tests of the "broker" collection; every test uses its own topic.</summary>
public sealed class BrokerFixture : IDisposable
{
    public BrokerFixture() => Broker = DevelopmentBroker.Start();

    public DevelopmentBroker Broker { get; }

    public string Bootstrap => Broker.Bootstrap;

    public void Dispose() => Broker.Dispose();
}

[CollectionDefinition("broker")]
public sealed class BrokerCollection : ICollectionFixture<BrokerFixture>;

/// <summary>A fresh topic name per test, so tests sharing a broker never see each other's records.</summary>
public static class Topics
{
    private static int _next;

    public static string New(string prefix) => $"{prefix}-{Interlocked.Increment(ref _next)}-{Guid.NewGuid():N}";
}

/// <summary>A record read back: where it was and its value.</summary>
public sealed record ConsumedRecord(int Partition, long Offset, byte[] Value);

/// <summary>Reads topics back with a plain Confluent.Kafka consumer (partitions assigned explicitly, from the beginning).</summary>
public static class TopicReader
{
    /// <summary>
    /// Reads exactly <paramref name="expected"/> records from all <paramref name="partitions"/> partitions of an existing
    /// topic, failing after <paramref name="timeout"/>; then checks for a short while that no extra record follows.
    /// Ordered by (offset, partition), which is the production order for round-robin producing to a fresh topic.
    /// </summary>
    public static List<ConsumedRecord> ReadAll(string bootstrap, string topic, int expected, TimeSpan timeout, int partitions = DevelopmentBroker.PartitionsPerTopic)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        };
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<ConsumedRecord>();
        var clock = Stopwatch.StartNew();
        while (records.Count < expected)
        {
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"read {records.Count} of {expected} records of {topic} within {timeout.TotalSeconds} s");
            var r = consumer.Consume(left < TimeSpan.FromMilliseconds(500) ? left : TimeSpan.FromMilliseconds(500));
            if (r is null || r.IsPartitionEOF) continue;
            records.Add(new ConsumedRecord(r.Partition.Value, r.Offset.Value, r.Message.Value));
        }
        var extra = consumer.Consume(TimeSpan.FromMilliseconds(300));
        if (extra is not null && !extra.IsPartitionEOF)
            throw new InvalidOperationException($"{topic} holds more than the {expected} expected records");
        return records.OrderBy(r => r.Offset).ThenBy(r => r.Partition).ToList();
    }
}
