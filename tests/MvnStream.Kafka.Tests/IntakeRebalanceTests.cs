using System.Globalization;
using Confluent.Kafka;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Kafka.Broker;
using MvnStream.Kafka.Streaming;
using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

/// <summary>
/// <see cref="KafkaIntake"/> against the development broker with an in-test ledger whose position queries are answered
/// only when the test releases them (a slow coordinator): the rebalance callback records the assignment and returns at
/// once (no remote query, no watermark query inside it), and once the ledger answers, every record is counted exactly once,
/// including partitions revoked from one consumer while they were still waiting for their position.
/// </summary>
[Collection("broker")]
public sealed class IntakeRebalanceTests(BrokerFixture fixture)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(90);
    private const int RowsPerPartition = 500;
    private const int Partitions = DevelopmentBroker.PartitionsPerTopic;

    /// <summary>
    /// The coordinator's offset ledger in miniature (docs/ARCHITECTURE.md, "The offset ledger"): merges a contribution only
    /// at next[p], drops replays, refuses gaps and overlaps. Position queries block until <see cref="Release"/>.
    /// </summary>
    private sealed class SlowLedger
    {
        private readonly object _gate = new();
        private readonly ManualResetEventSlim _released = new(false);
        private readonly long[] _next = new long[Partitions];
        private readonly System.Diagnostics.Stopwatch _heldSince = new();
        private int _asked;

        public long MergedRows { get; private set; }
        public long MergedRecords { get; private set; }
        public int Losses { get; private set; }
        public int Asked => Volatile.Read(ref _asked);

        /// <summary>From the first position query to <see cref="Release"/>.</summary>
        public TimeSpan HeldFor { get; private set; }

        public long Next(int p)
        {
            lock (_gate) return _next[p];
        }

        public long? Ask(int partition)
        {
            lock (_gate)
            {
                if (!_heldSince.IsRunning) _heldSince.Start();
            }
            Interlocked.Increment(ref _asked);
            // Bounded, so a broken intake cannot hang the test run: the test fails on its own condition first.
            if (!_released.Wait(TimeSpan.FromMinutes(3))) return null;
            return Next(partition);
        }

        public void Release()
        {
            lock (_gate) HeldFor = _heldSince.Elapsed;
            _released.Set();
        }

        public ContributionAck Contribute(PartitionContribution c)
        {
            lock (_gate)
            {
                long next = _next[c.Partition];
                var outcome = c.From == next ? ContributionOutcome.Accepted : c.To <= next ? ContributionOutcome.Duplicate : ContributionOutcome.Refused;
                if (outcome == ContributionOutcome.Accepted)
                {
                    _next[c.Partition] = c.To;
                    MergedRows += c.Statistics?.Count ?? 0;
                    MergedRecords += c.AcceptedRecords;
                }
                return new ContributionAck(c.JobId, c.Epoch, c.Topic, c.Partition, c.From, c.To, outcome, _next[c.Partition]);
            }
        }

        public void Lost()
        {
            lock (_gate) Losses++;
        }
    }

    /// <summary>Routes an intake's reports to the ledger, and the ledger's answers back, as the worker actor does.</summary>
    private sealed class Sink(SlowLedger ledger) : IIntakeSink
    {
        public KafkaIntake? Intake { get; set; }
        public volatile string? StopError;

        public void NeedPosition(int partition, long lowWatermark) =>
            Task.Run(() => { if (ledger.Ask(partition) is { } next) Intake!.Seek(partition, next); });

        public void Contribute(PartitionContribution contribution) => Intake!.Acknowledge(ledger.Contribute(contribution));

        public void Lost(int partition, long next, long lowWatermark) => ledger.Lost();

        public void Status(int[] partitions, long[] lag, long[] unreadMilliseconds, bool atEnd, string? error) { }

        public void Drained() { }

        public void Stopped(string? error) => StopError = error;
    }

    private StreamJobSettings Settings(string topic, string group) => new(
        fixture.Bootstrap, topic, group, RowFormat.Csv, 2, 1.0, "", "", "", 0.001, "", "", 0, 0, 0, 0, SolverKind.Lbfgs,
        Parameterization.LowerTriangular, 0, 1e-10, 0.05, 0, ShrinkageMode.None, 0, 100, 20, []);

    private (KafkaIntake Intake, Sink Sink) NewIntake(SlowLedger ledger, string topic, string group, string id)
    {
        var sink = new Sink(ledger);
        var intake = new KafkaIntake(Settings(topic, group), id, sink, (partition, _) => ledger.Ask(partition));
        sink.Intake = intake;
        return (intake, sink);
    }

    private string ProduceRows()
    {
        string topic = Topics.New("intake-rebalance");
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = fixture.Bootstrap, LingerMs = 5 }).SetLogHandler((_, _) => { }).Build();
        for (int p = 0; p < Partitions; p++)
            for (int r = 0; r < RowsPerPartition; r++)
                producer.Produce(new TopicPartition(topic, p), new Message<Null, string> { Value = string.Create(CultureInfo.InvariantCulture, $"{p}.5,{r}") });
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        return topic;
    }

    private static bool AllCounted(SlowLedger ledger) => Enumerable.Range(0, Partitions).All(p => ledger.Next(p) == RowsPerPartition);

    private static string State(SlowLedger ledger, params (string Name, KafkaIntake Intake, Sink Sink)[] intakes) =>
        $"ledger next = [{string.Join(", ", Enumerable.Range(0, Partitions).Select(ledger.Next))}], merged rows {ledger.MergedRows}, records {ledger.MergedRecords}, "
        + $"position queries {ledger.Asked}, losses {ledger.Losses}; "
        + string.Join("; ", intakes.Select(i => $"{i.Name}: assigned callbacks {i.Intake.AssignedCallbacks}, longest {i.Intake.LongestAssignedCallback.TotalMilliseconds:F1} ms, stopped: {i.Sink.StopError ?? "-"}"));

    /// <summary>
    /// The ledger holds every position query. The partitions-assigned callback must still return (before this change it
    /// made the query itself and stayed inside it, for as long as the ledger did not answer: up to 3 s each, here until
    /// released); once released, every row is merged exactly once and nothing is reported lost.
    /// </summary>
    [Fact]
    public void The_assigned_callback_returns_while_the_ledger_has_not_answered_and_rows_count_once()
    {
        string topic = ProduceRows();
        var ledger = new SlowLedger();
        var (intake, sink) = NewIntake(ledger, topic, "g-" + Guid.NewGuid().ToString("N"), "w1");
        try
        {
            intake.Start();
            bool returned = SpinWait.SpinUntil(() => intake.AssignedCallbacks >= 1 && ledger.Asked >= Partitions, Generous);
            Assert.True(returned, "the partitions-assigned callback did not return while the ledger held its answer: " + State(ledger, ("w1", intake, sink)));
            ledger.Release();
            Assert.True(intake.LongestAssignedCallback < ledger.HeldFor,
                $"the callback took {intake.LongestAssignedCallback.TotalMilliseconds:F1} ms, not less than the {ledger.HeldFor.TotalMilliseconds:F1} ms the ledger held its answer");
            Assert.True(SpinWait.SpinUntil(() => AllCounted(ledger), Generous), "not every row was counted: " + State(ledger, ("w1", intake, sink)));
            Assert.True(ledger.MergedRows == Partitions * RowsPerPartition && ledger.MergedRecords == Partitions * RowsPerPartition && ledger.Losses == 0,
                $"expected {Partitions * RowsPerPartition} rows counted once and no loss: " + State(ledger, ("w1", intake, sink)));
            Assert.Null(sink.StopError);
        }
        finally
        {
            ledger.Release();
            intake.Dispose();
        }
    }

    /// <summary>
    /// A second consumer joins while the first one's partitions still wait for the ledger: the cooperative rebalance revokes
    /// some of them from the first while they are positioning. Its late ledger answers for them must be dropped (not seek a
    /// partition it no longer owns or owns again), and across both consumers every row is merged exactly once.
    /// </summary>
    [Fact]
    public void Partitions_revoked_while_positioning_are_dropped_and_rows_count_once()
    {
        string topic = ProduceRows();
        var ledger = new SlowLedger();
        string group = "g-" + Guid.NewGuid().ToString("N");
        var (a, sinkA) = NewIntake(ledger, topic, group, "wa");
        var (b, sinkB) = NewIntake(ledger, topic, group, "wb");
        try
        {
            a.Start();
            Assert.True(SpinWait.SpinUntil(() => a.AssignedCallbacks >= 1 && ledger.Asked >= Partitions, Generous),
                "the first consumer's assigned callback did not return while the ledger held its answer: " + State(ledger, ("a", a, sinkA)));
            int askedByA = ledger.Asked;
            b.Start();
            // The second consumer got partitions only once the first revoked them (cooperative-sticky), all while positioning.
            Assert.True(SpinWait.SpinUntil(() => b.AssignedCallbacks >= 1 && ledger.Asked > askedByA, Generous),
                "the second consumer was never assigned partitions while the ledger held its answers: " + State(ledger, ("a", a, sinkA), ("b", b, sinkB)));
            ledger.Release();
            Assert.True(SpinWait.SpinUntil(() => AllCounted(ledger), Generous), "not every row was counted: " + State(ledger, ("a", a, sinkA), ("b", b, sinkB)));
            Assert.True(ledger.MergedRows == Partitions * RowsPerPartition && ledger.MergedRecords == Partitions * RowsPerPartition && ledger.Losses == 0,
                $"expected {Partitions * RowsPerPartition} rows counted once and no loss: " + State(ledger, ("a", a, sinkA), ("b", b, sinkB)));
            Assert.Null(sinkA.StopError);
            Assert.Null(sinkB.StopError);
        }
        finally
        {
            ledger.Release();
            a.Dispose();
            b.Dispose();
        }
    }
}
