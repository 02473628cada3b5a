using System.Globalization;
using Confluent.Kafka;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Kafka.Broker;
using MvnStream.Kafka.Streaming;

namespace MvnStream.Kafka.Tests.Intake;

/// <summary>
/// An intake whose broker goes away stops after the broker timeout and reports it (docs/ARCHITECTURE.md, "Streaming"),
/// whatever its Kafka clients do while they close. librdkafka's consumer close has no timeout and, with no broker
/// reachable, may never return: the intake used to report that it stopped only after the close returned, so its worker
/// never told the coordinator, which waited for it for ever (StreamBrokerLossTests hung in about one run of three, its
/// thread dump showing the intake's thread inside <c>rd_kafka_consumer_close</c>). Here the close is made to block
/// (a test hook around the real close) so the case is deterministic. Real parts: a development broker of its own
/// (disposed to take it away) and the real consumer.
/// </summary>
public sealed class IntakeStopReportTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private const int Rows = 200;

    /// <summary>A ledger that accepts everything in order, and records how the intake stopped.</summary>
    private sealed class Sink : IIntakeSink
    {
        private readonly long[] _next = new long[DevelopmentBroker.PartitionsPerTopic];
        private long _merged;

        public KafkaIntake? Intake { get; set; }
        public ManualResetEventSlim StoppedEvent { get; } = new(false);
        public volatile string? StopError;

        /// <summary>Set by the close hook: whether the close was still blocked when the intake reported that it stopped.</summary>
        public volatile bool CloseBlockedAtStop;

        public Func<bool>? CloseBlocked { get; set; }

        public long Merged => Interlocked.Read(ref _merged);

        public long Next(int partition)
        {
            lock (_next) return _next[partition];
        }

        public void NeedPosition(int partition, long lowWatermark) => Task.Run(() => Intake!.Seek(partition, Next(partition)));

        public void Contribute(PartitionContribution c)
        {
            ContributionOutcome outcome;
            long next;
            lock (_next)
            {
                outcome = c.From == _next[c.Partition] ? ContributionOutcome.Accepted : c.To <= _next[c.Partition] ? ContributionOutcome.Duplicate : ContributionOutcome.Refused;
                if (outcome == ContributionOutcome.Accepted)
                {
                    _next[c.Partition] = c.To;
                    Interlocked.Add(ref _merged, c.Statistics?.Count ?? 0);
                }
                next = _next[c.Partition];
            }
            Intake!.Acknowledge(new ContributionAck(c.JobId, c.Epoch, c.Topic, c.Partition, c.From, c.To, outcome, next));
        }

        public void Lost(int partition, long next, long lowWatermark) { }

        public void Status(int[] partitions, long[] lag, long[] unreadMilliseconds, bool atEnd, string? error) { }

        public void Drained() { }

        public void Stopped(string? error)
        {
            StopError = error;
            CloseBlockedAtStop = CloseBlocked?.Invoke() ?? false;
            StoppedEvent.Set();
        }
    }

    private static StreamJobSettings Settings(string bootstrap, string topic) => new(
        bootstrap, topic, "g-" + Guid.NewGuid().ToString("N"), RowFormat.Csv, 2, 1.0, "", "", "", 0.001, "", "", 0, 0, 0, 0, SolverKind.Lbfgs,
        Parameterization.LowerTriangular, 0, 1e-10, 0.05, 0, ShrinkageMode.None, 0, 100, 20, [],
        Tunables: StreamTunables.Default with { BrokerTimeoutSeconds = 1 });

    private static string ProduceRows(string bootstrap)
    {
        string topic = "intake-stop-" + Guid.NewGuid().ToString("N");
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = bootstrap, LingerMs = 5 }).SetLogHandler((_, _) => { }).Build();
        for (int r = 0; r < Rows; r++)
            producer.Produce(new TopicPartition(topic, r % DevelopmentBroker.PartitionsPerTopic), new Message<Null, string> { Value = string.Create(CultureInfo.InvariantCulture, $"{r}.5,{r % 7}") });
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        return topic;
    }

    /// <summary>
    /// The broker goes away after every row was merged; the consumer's close then blocks (until the test ends). The intake
    /// must still report that it stopped, with the broker error, while the close is blocked. Before the change the report
    /// came only after the close returned: this test waited its 60 s in vain.
    /// </summary>
    [Fact]
    public void A_gone_broker_is_reported_as_the_stop_reason_while_the_consumer_close_still_blocks()
    {
        var broker = DevelopmentBroker.Start();
        using var releaseClose = new ManualResetEventSlim(false);
        int closeState = 0; // 0 not called, 1 blocked in the close, 2 returned
        var sink = new Sink { CloseBlocked = () => Volatile.Read(ref closeState) == 1 };
        KafkaIntake? intake = null;
        try
        {
            string topic = ProduceRows(broker.Bootstrap);
            var settings = Settings(broker.Bootstrap, topic);
            // A short bound keeps the test fast; nothing here is timed, the order of events is what is checked.
            var options = KafkaIntake.FromTunables(settings.Tuning) with { ConsumerCloseTimeout = TimeSpan.FromMilliseconds(500) };
            intake = new KafkaIntake(settings, "w1", sink, (partition, _) => sink.Next(partition), options)
            {
                CloseConsumer = c =>
                {
                    Volatile.Write(ref closeState, 1);
                    try
                    {
                        // Bounded, so a broken intake cannot hang the test run: the test fails on its own condition first.
                        releaseClose.Wait(TimeSpan.FromMinutes(3));
                    }
                    finally
                    {
                        Volatile.Write(ref closeState, 2);
                    }
                    c.Close();
                },
            };
            sink.Intake = intake;
            intake.Start();
            Assert.True(SpinWait.SpinUntil(() => sink.Merged == Rows, Generous), $"merged {sink.Merged} of {Rows} rows; stopped: {sink.StopError ?? "-"}");

            broker.Dispose();
            Assert.True(sink.StoppedEvent.Wait(Generous),
                $"the intake did not report that it stopped within {Generous.TotalSeconds:F0} s of its broker going away "
                + $"(close {(Volatile.Read(ref closeState) switch { 0 => "not called", 1 => "blocked", _ => "returned" })})");
            Assert.Contains($"no Kafka broker reachable at {broker.Bootstrap}", sink.StopError ?? "(stopped without an error)", StringComparison.Ordinal);
            Assert.True(sink.CloseBlockedAtStop, "the stop must be reported while the consumer's close is still blocked (the close must have been started)");
        }
        finally
        {
            releaseClose.Set();
            intake?.Dispose();
            broker.Dispose();
        }
    }
}
