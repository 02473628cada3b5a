using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Scoring;
using MvnStream.Core.Statistics;
using MvnStream.Kafka.Logging;

namespace MvnStream.Kafka.Streaming;

/// <summary>What the intake reports to its actor (called on the consumer thread; implementations only Tell).</summary>
public interface IIntakeSink
{
    void NeedPosition(int partition, long lowWatermark);
    void Contribute(PartitionContribution contribution);
    void Lost(int partition, long next, long lowWatermark);
    /// <param name="unreadMilliseconds">Per partition: how long it has had lag (records to read) without a record read from it; 0 without lag.</param>
    void Status(int[] partitions, long[] lag, long[] unreadMilliseconds, bool atEnd, string? error);

    /// <summary>After <see cref="KafkaIntake.Drain"/>: everything read was sent and acknowledged (or timed out).</summary>
    void Drained();

    void Stopped(string? error);
}

/// <summary>
/// One consumer-group member's intake (docs/ARCHITECTURE.md, "Streaming" and "The offset ledger"), on its own thread: owns the partitions Kafka assigns,
/// asks the coordinator's ledger where each starts and seeks there, decodes and validates records, sends
/// rejected ones to the dead-letter topic with their reason and coordinates, accumulates accepted rows per
/// partition and sends contributions with their exact offset range [from, to). A partition whose
/// contribution is refused is re-sought to the ledger's next offset; one whose acknowledgement does not
/// come is re-synchronised through the ledger. Nothing is committed to Kafka but what the checkpoint holds.
/// </summary>
public sealed class KafkaIntake : IDisposable
{
    // The tunables below were constants; they are settings now (section Stream, README "Configuration"), sent with the job.

    /// <summary>Contributions of one partition awaiting acknowledgement; beyond it the pending batch grows instead.</summary>
    private int MaxInFlight => _settings.Tuning.MaxInFlight;

    /// <summary>Pending rows of one partition (in BatchRows) beyond which fetching it pauses until acknowledgements come.</summary>
    private int MaxPendingBatches => _settings.Tuning.MaxPendingBatches;
    private TimeSpan AckTimeout => TimeSpan.FromSeconds(_settings.Tuning.AckTimeoutSeconds);

    /// <summary>Longest wait for dead letters and scores to be delivered (or for room in the producer's queue) before the intake gives up.</summary>
    private TimeSpan SideDeliveryTimeout => TimeSpan.FromSeconds(_settings.Tuning.SideDeliveryTimeoutSeconds);

    /// <summary>While no broker is reachable, how often the intake asks the cluster for metadata to learn that one is back.</summary>
    private TimeSpan ReachabilityProbe => TimeSpan.FromSeconds(_settings.Tuning.ReachabilityProbeSeconds);
    private TimeSpan PositionRetry => TimeSpan.FromSeconds(_settings.Tuning.PositionRetrySeconds);

    /// <summary>A partition with lag that delivered nothing for this long is checked against the broker's log start (see <see cref="Unstall"/>).</summary>
    private TimeSpan StallCheck => TimeSpan.FromSeconds(_settings.Tuning.StallCheckSeconds);

    private sealed class PartitionState(int partition)
    {
        public int Partition { get; } = partition;
        public bool Positioned { get; set; }

        /// <summary>The ledger query started when the partition was assigned is still unanswered (see <see cref="QueryPosition"/>).</summary>
        public bool Querying { get; set; }
        public bool PausedForFlow { get; set; }
        public bool Paused { get; set; }
        public long From { get; set; }
        public long Expected { get; set; }
        public RowBuffer Rows { get; } = new();
        public long Accepted { get; set; }
        public long Rejected { get; set; }
        public bool ProducedSide { get; set; }
        public Stopwatch BatchAge { get; } = new();
        public Stopwatch PositionAsked { get; } = new();
        public List<(long From, long To, Stopwatch Sent)> InFlight { get; } = [];
        public bool AtEnd { get; set; }
        public long PendingSeek { get; set; } = -1;
        public long High { get; set; } = -1;

        /// <summary>Since the last record (or end of partition) this partition delivered, or since it was positioned.</summary>
        public Stopwatch LastRead { get; } = Stopwatch.StartNew();

        /// <summary>Since the last stall check (<see cref="Unstall"/>).</summary>
        public Stopwatch StallChecked { get; } = Stopwatch.StartNew();

        /// <summary>Records to read, from the last status (the consumer's cached high watermark minus Expected).</summary>
        public long Lag { get; set; }

        /// <summary>
        /// Where the partition went on after a loss it reported (-1: none pending): the coordinator answers the loss report with
        /// that position, which must not re-seek a partition already reading past it.
        /// </summary>
        public long ResumedAfterLoss { get; set; } = -1;
    }

    private readonly StreamJobSettings _settings;
    private readonly IIntakeSink _sink;
    private readonly Func<int, long, long?> _askPosition;
    private readonly string _workerId;
    private readonly ConcurrentQueue<Action> _commands = new();
    private readonly ConcurrentQueue<(int Partition, long Offset)> _toStore = new();
    private readonly Dictionary<int, PartitionState> _parts = [];
    private readonly Thread _thread;
    private readonly CancellationTokenSource _stop = new();
    private IConsumer<byte[]?, byte[]?>? _consumer;
    private IProducer<byte[]?, byte[]?>? _sideProducer;
    private MvnScorer? _scorer;
    private long _modelVersion;
    private volatile bool _draining;
    private bool _drainReported;
    private readonly Stopwatch _drainClock = new();
    private readonly Stopwatch _statusClock = Stopwatch.StartNew();
    private readonly Stopwatch _housekeepingClock = Stopwatch.StartNew();
    private bool _waiting = true;
    private long _sideErrors;
    private string? _sideError;

    /// <summary>Dead letters and scores produced whose delivery handler has not run yet (a bounded retry counts before the record it replaces is done).</summary>
    private long _sidePending;

    /// <summary>The side producer's message.max.bytes: a dead letter larger than this is sent bounded (<see cref="DeadLetters.Bounded"/>).</summary>
    private int _sideMessageMaxBytes = 1_000_000;

    /// <summary>
    /// Set when the intake ends (stop, failure): from then on nothing is sent to the coordinator, so the consumer's close
    /// (whose rebalance callback hands revoked partitions over) can never send a range whose rows were dropped.
    /// </summary>
    private volatile bool _closing;

    /// <summary>Why the intake must stop (a fatal Kafka error, undeliverable dead letters, brokers gone too long); checked by the loop.</summary>
    private string? _failure;

    /// <summary>Runs from librdkafka's "all brokers down" until a metadata request is answered again.</summary>
    private readonly Stopwatch _unreachable = new();
    private readonly Stopwatch _reachabilityProbe = new();
    private string? _brokerError;
    private TimeSpan BrokerTimeout => TimeSpan.FromSeconds(_settings.Tuning.BrokerTimeoutSeconds);
    private IAdminClient? _metadata;

    /// <summary>Rebalance "partitions assigned" callbacks that returned, and the longest one's duration in ticks: a test hook (no blocking call may run in them).</summary>
    private int _assignedCallbacks;
    private long _longestAssignedCallbackTicks;

    /// <summary>"Partitions assigned" callbacks that have returned (a test hook).</summary>
    internal int AssignedCallbacks => Volatile.Read(ref _assignedCallbacks);

    /// <summary>The longest "partitions assigned" callback so far, measured inside it (a test hook).</summary>
    internal TimeSpan LongestAssignedCallback => TimeSpan.FromTicks(Interlocked.Read(ref _longestAssignedCallbackTicks));

    /// <param name="askPosition">
    /// Asks the coordinator's ledger, synchronously and with a short timeout, where a partition resumes
    /// (partition, low watermark) -> next, or null when it does not answer; used when partitions are assigned,
    /// so consumption starts exactly at next[p]. Never called in a rebalance callback: on a pool thread, whose answer the
    /// consume loop applies (<see cref="QueryPosition"/>).
    /// </param>
    public KafkaIntake(StreamJobSettings settings, string workerId, IIntakeSink sink, Func<int, long, long?> askPosition)
    {
        _settings = settings;
        _sink = sink;
        _askPosition = askPosition;
        _workerId = workerId;
        _thread = new Thread(Run) { IsBackground = true, Name = "mvnstream-intake-" + workerId };
    }

    public void Start() => _thread.Start();

    /// <summary>The ledger says where partition p resumes.</summary>
    public void Seek(int partition, long next) => _commands.Enqueue(() =>
    {
        if (_parts.TryGetValue(partition, out var s) && s.Positioned && s.ResumedAfterLoss >= 0 && next == s.ResumedAfterLoss)
        {
            // The answer to our own loss report: the partition already reads on from there.
            s.ResumedAfterLoss = -1;
            return;
        }
        DoSeek(partition, next);
    });

    public void Acknowledge(ContributionAck ack) => _commands.Enqueue(() => DoAck(ack));

    public void UseModel(long version, MvnParameters theta) => _commands.Enqueue(() =>
    {
        if (version <= _modelVersion) return;
        _modelVersion = version;
        _scorer = new MvnScorer(theta);
    });

    /// <summary>
    /// Offsets the checkpoint holds: stored for librdkafka's background commit (enable.auto.offset.store=false, so only
    /// stored offsets are ever committed). Never a synchronous Commit on the consumer thread: that waits for the group
    /// coordinator without a bound, and an unreachable broker would freeze the intake (no drain, no stop, no error).
    /// </summary>
    public void Commit(int[] partitions, long[] offsets)
    {
        for (int i = 0; i < partitions.Length; i++) _toStore.Enqueue((partitions[i], offsets[i]));
    }

    /// <summary>On the consumer thread, in the loop and once more before the consumer closes (which commits them).</summary>
    private void StoreOffsets()
    {
        while (_toStore.TryDequeue(out var x))
        {
            if (!_parts.ContainsKey(x.Partition) || _consumer is null) continue;
            try { _consumer.StoreOffset(new TopicPartitionOffset(_settings.Topic, x.Partition, x.Offset)); }
            catch (KafkaException) { } // revoked meanwhile; lag monitoring only: the checkpoint is the source of truth
        }
    }

    /// <summary>Stop fetching, send what is pending, wait for the acknowledgements; the consumer stays in the group (paused) until disposed, so it can still commit the final offsets.</summary>
    public void Drain() => _commands.Enqueue(() =>
    {
        _draining = true;
        _drainClock.Restart();
        foreach (var s in _parts.Values) Flush(s);
        if (_consumer is not null && _parts.Count > 0) _consumer.Pause(_parts.Keys.Select(p => new TopicPartition(_settings.Topic, p)));
    });

    public void Dispose()
    {
        _stop.Cancel();
        if (_thread.IsAlive && Thread.CurrentThread != _thread) _thread.Join(TimeSpan.FromSeconds(15));
        _stop.Dispose();
    }

    private void Run()
    {
        string? error = null;
        try
        {
            var config = new ConsumerConfig
            {
                BootstrapServers = _settings.Bootstrap,
                GroupId = _settings.Group,
                ClientId = "mvnstream-" + _workerId,
                // Commits are for lag monitoring only (the checkpoint is the source of truth): librdkafka commits in the
                // background exactly the offsets stored after a checkpoint (see Commit), and on close.
                EnableAutoCommit = true,
                AutoCommitIntervalMs = 1000,
                EnableAutoOffsetStore = false,
                AutoOffsetReset = AutoOffsetReset.Earliest,
                EnablePartitionEof = true,
                // Records of aborted transactions are never counted (librdkafka's default, stated for operators).
                IsolationLevel = IsolationLevel.ReadCommitted,
                SessionTimeoutMs = 6000,
                HeartbeatIntervalMs = 1500,
                PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
                // A consumer subscribed before its topic exists learns of it at the next metadata refresh (docs/ARCHITECTURE.md,
                // streaming): every second, so a stream started first loses no time once rows arrive.
                TopicMetadataRefreshIntervalMs = 1000,
                FetchWaitMaxMs = 50,
                // After a fetch error (an offset the broker no longer holds) fetch again at once: at 500 ms (librdkafka's default)
                // a consumer reset to the log start keeps landing behind a log start that moves on meanwhile.
                FetchErrorBackoffMs = 10,
            };
            KafkaProperties.Apply(config, _settings.KafkaProperties);
            _consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
                .SetPartitionsAssignedHandler((_, parts) => OnAssigned(parts))
                .SetPartitionsRevokedHandler((_, parts) => OnRevoked(parts.Select(p => p.Partition.Value), handOver: true))
                .SetPartitionsLostHandler((_, parts) => OnRevoked(parts.Select(p => p.Partition.Value), handOver: false))
                // Errors go to OnKafkaError, which reports an unreachable broker and fatal errors itself (once); the log through the logging.
                .WithLogging(LogContextOf(_workerId), OnKafkaError)
                .Build();
            _metadata = new DependentAdminClientBuilder(_consumer.Handle).Build();
            if (!string.IsNullOrEmpty(_settings.DeadLetterTopic) || !string.IsNullOrEmpty(_settings.ScoresTopic))
            {
                var pc = new ProducerConfig { BootstrapServers = _settings.Bootstrap, LingerMs = 5, MessageTimeoutMs = 30000, EnableIdempotence = true };
                KafkaProperties.Apply(pc, _settings.KafkaProperties);
                _sideMessageMaxBytes = pc.MessageMaxBytes ?? _sideMessageMaxBytes;
                _sideProducer = new ProducerBuilder<byte[]?, byte[]?>(pc).WithLogging(LogContextOf(_workerId)).Build();
            }
            _consumer.Subscribe(_settings.Topic);
            Loop();
            error = _failure;
        }
        catch (Exception e) when (e is KafkaException or ArgumentException or InvalidOperationException)
        {
            // Recorded as the failure before anything else runs: a half-handled record must not be followed by a flush.
            _failure ??= e.Message;
            error = _failure;
        }
        finally
        {
            _closing = true;
            try
            {
                // Rows read but not sent are dropped with their counters and range (never the rows alone): the next owner
                // of each partition reads them again from the ledger's offset.
                foreach (var s in _parts.Values) Forget(s);
                _sideProducer?.Flush(TimeSpan.FromSeconds(10));
                StoreOffsets();
                _consumer?.Close();
            }
            catch (KafkaException) { }
            _metadata?.Dispose();
            _consumer?.Dispose();
            _sideProducer?.Dispose();
            _sink.Stopped(error);
        }
    }

    /// <summary>
    /// librdkafka's errors: fatal ones stop the intake; "all brokers down" starts the unreachability clock (the intake
    /// reports it and, after the broker timeout, stops with the last connection error); other errors are transient and
    /// kept only to explain an outage.
    /// </summary>
    /// <summary>The worker node's role and address for its Kafka clients' log lines (the worker id is the node's host:port).</summary>
    private static MvnStream.Cluster.Logging.LogContext LogContextOf(string workerId) =>
        new(MvnStream.Cluster.Hosting.NodeConfiguration.WorkerRole, $"akka.tcp://{MvnStream.Cluster.Hosting.NodeConfiguration.SystemName}@{workerId}");

    private void OnKafkaError(Error e)
    {
        if (e.IsFatal)
        {
            _failure ??= "fatal Kafka error: " + e.Reason;
            return;
        }
        if (e.Code == ErrorCode.Local_AllBrokersDown)
        {
            if (!_unreachable.IsRunning) _unreachable.Restart();
            _reachabilityProbe.Restart();
            _brokerError ??= e.Reason;
        }
        else _brokerError = e.Reason;
    }

    private void Reachable()
    {
        _unreachable.Reset();
        _brokerError = null;
    }

    /// <summary>While every broker is down: ask for metadata now and then (an idle, healthy consumer gets no other sign that a broker is back); stop after the broker timeout.</summary>
    private void CheckReachability()
    {
        if (!_unreachable.IsRunning) return;
        if (_reachabilityProbe.Elapsed >= ReachabilityProbe)
        {
            _reachabilityProbe.Restart();
            try
            {
                _metadata!.GetMetadata(_settings.Topic, TimeSpan.FromSeconds(1));
                Reachable();
                return;
            }
            catch (KafkaException) { }
        }
        if (_unreachable.Elapsed >= BrokerTimeout)
            _failure ??= $"no Kafka broker reachable at {_settings.Bootstrap} for {_unreachable.Elapsed.TotalSeconds:F0} s (last error: {_brokerError ?? "all brokers down"}); "
                + "stopped consuming: what was merged is kept, the rest is read again on the next start";
    }

    private void Loop()
    {
        var consumer = _consumer!;
        while (!_stop.IsCancellationRequested && _failure is null)
        {
            while (_commands.TryDequeue(out var cmd)) cmd();
            StoreOffsets();
            if (_draining && !_drainReported)
            {
                bool acked = _parts.Values.All(s => s.InFlight.Count == 0 && (!s.Positioned || s.Expected == s.From));
                if (acked || _drainClock.Elapsed > AckTimeout)
                {
                    _drainReported = true;
                    _sink.Drained();
                }
            }
            ConsumeResult<byte[]?, byte[]?>? r = null;
            // Short polls while anything waits for an acknowledgement or is paused, so acks are handled promptly.
            try { r = consumer.Consume(_draining || _waiting ? Math.Min(5, _settings.Tuning.PollMilliseconds) : _settings.Tuning.PollMilliseconds); }
            catch (ConsumeException e) when (!e.Error.IsFatal)
            {
                // Dead-lettered and counted in its range like any rejected record (only at the partition's next offset).
                if (e.ConsumerRecord is { } bad && _parts.TryGetValue(bad.Partition.Value, out var bs) && bs.Positioned && bad.Offset.Value == bs.Expected
                    && Reject(bad, "undecodable record: " + e.Error.Reason))
                {
                    bs.Rejected++;
                    bs.Expected = bad.Offset.Value + 1;
                }
            }
            // Not a sign that a broker is back: the record may have been fetched before the outage. Only the probe says so.
            if (r is not null && !_draining) Handle(r);
            // Timers (linger, ack timeouts, retries, status) every few milliseconds, not after every record.
            if (r is null || _housekeepingClock.ElapsedMilliseconds >= 5)
            {
                _housekeepingClock.Restart();
                CheckReachability();
                Housekeeping();
                _waiting = _parts.Values.Any(p => p.PausedForFlow || p.InFlight.Count > 0 || !p.Positioned);
            }
        }
    }

    /// <summary>
    /// Partitions assigned (librdkafka's rebalance callback, on the consumer thread inside Consume): only records them as
    /// positioning and returns at once. Nothing here blocks (docs/ARCHITECTURE.md, "Streaming"): a blocking ledger query or
    /// watermark query would hold up the rebalance of the whole group (and this consumer's heartbeats and fetches). Each
    /// partition is paused by the loop before any record of it counts; its ledger query runs off this thread
    /// (<see cref="QueryPosition"/>) and the loop seeks and resumes it once the ledger answers (<see cref="DoSeek"/>, which
    /// also asks the broker's low watermark).
    /// </summary>
    private IEnumerable<TopicPartitionOffset> OnAssigned(List<TopicPartition> parts)
    {
        long started = Stopwatch.GetTimestamp();
        var result = new List<TopicPartitionOffset>();
        foreach (var tp in parts)
        {
            var s = new PartitionState(tp.Partition.Value) { Querying = true };
            _parts[s.Partition] = s;
            s.PositionAsked.Restart();
            QueryPosition(s);
            // Fetches nothing that counts until positioned: records of an unpositioned partition are ignored (Handle).
            result.Add(new TopicPartitionOffset(tp, Offset.End));
        }
        _commands.Enqueue(() => PauseUnpositioned());
        var took = Stopwatch.GetElapsedTime(started).Ticks;
        long longest;
        while (took > (longest = Interlocked.Read(ref _longestAssignedCallbackTicks))
            && Interlocked.CompareExchange(ref _longestAssignedCallbackTicks, took, longest) != longest) { }
        Interlocked.Increment(ref _assignedCallbacks);
        return result;
    }

    /// <summary>
    /// Asks the ledger where a newly assigned partition resumes, on a pool thread; the answer is applied by the consume loop
    /// (a command) only to the same assignment of the partition while it is still unpositioned: a partition revoked (or
    /// revoked and assigned again) meanwhile drops it. No answer: the partition asks again through the sink, as after any
    /// lost position, and the coordinator's reply comes through <see cref="Seek"/>.
    /// </summary>
    private void QueryPosition(PartitionState s)
    {
        int partition = s.Partition;
        Task.Run(() =>
        {
            long? next = null;
            try { next = _askPosition(partition, 0); }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException) { } // the worker is stopping: as no answer
            _commands.Enqueue(() =>
            {
                if (!_parts.TryGetValue(partition, out var current) || !ReferenceEquals(current, s) || !s.Querying) return; // revoked meanwhile
                s.Querying = false;
                if (s.Positioned || _draining) return; // draining: nothing more is read
                if (next is { } n)
                {
                    DoSeek(partition, n);
                    return;
                }
                s.PositionAsked.Restart();
                _sink.NeedPosition(partition, 0);
            });
        });
    }

    /// <summary>
    /// Where the consumer fetches to resume at the ledger's <paramref name="next"/>: there, unless the broker's log starts at or
    /// after it (<paramref name="low"/>, -1 when unknown): then at the log's beginning, which librdkafka looks up when it fetches,
    /// so the fetch never asks for an offset deleted meanwhile. What was deleted is accounted when the first record comes
    /// (<see cref="PassOver"/>, with the broker's low watermark at that time), and a record below next (the log start was
    /// not past it after all) is skipped.
    /// </summary>
    private static Offset Target(long next, long low) => low >= 0 && next <= low ? Offset.Beginning : new Offset(next);

    private void PauseUnpositioned()
    {
        var toPause = _parts.Values.Where(s => !s.Positioned && !s.Paused).ToList();
        if (toPause.Count == 0 || _consumer is null) return;
        _consumer.Pause(toPause.Select(s => new TopicPartition(_settings.Topic, s.Partition)));
        foreach (var s in toPause) s.Paused = true;
    }

    /// <summary>
    /// Partitions taken away. Revoked (an orderly rebalance: nobody owns them until this returns): what was read but not
    /// yet sent goes to the coordinator now, so the next owner, which asks the ledger where to start, does not read it
    /// again and its dead letters and scores are not written twice. Lost (the group moved on without us, e.g. after a
    /// session timeout): someone else may be reading them already, so pending rows are dropped; the ledger decides.
    /// Contributions in flight stay valid either way: the ledger merges one only at next[p], and their acks are ignored.
    /// </summary>
    private void OnRevoked(IEnumerable<int> partitions, bool handOver)
    {
        foreach (var p in partitions)
        {
            if (handOver && !_draining && !_closing && _failure is null && _parts.TryGetValue(p, out var s) && s.Positioned && s.Expected > s.From)
            {
                s.InFlight.Clear(); // the in-flight window is flow control only; this partition's acks no longer matter
                Flush(s);
            }
            _parts.Remove(p);
        }
    }

    private void DoSeek(int partition, long next)
    {
        if (!_parts.TryGetValue(partition, out var s) || _consumer is null) return;
        if (s.Positioned && s.Expected == next && s.InFlight.Count == 0) return;
        var tp = new TopicPartition(_settings.Topic, partition);
        long low = LowWatermark(_consumer, tp, unknown: -1);
        s.ResumedAfterLoss = -1;
        s.LastRead.Restart();
        s.Rows.Clear();
        s.Accepted = s.Rejected = 0;
        s.InFlight.Clear();
        s.From = s.Expected = next;
        s.Positioned = true;
        s.Querying = false; // a later answer to the first ledger query is stale: dropped
        s.AtEnd = false;
        try
        {
            if (!s.Paused) { _consumer.Pause([tp]); }
            _consumer.Seek(new TopicPartitionOffset(tp, Target(next, low)));
        }
        catch (KafkaException)
        {
            // Not yet fetchable (the assignment is still settling): retry this seek on the next loop.
            s.Positioned = false;
            s.PendingSeek = next;
            s.PositionAsked.Restart();
            return;
        }
        s.PendingSeek = -1;
        _consumer.Resume([tp]);
        s.Paused = false;
        s.PausedForFlow = false;
    }

    private void DoAck(ContributionAck ack)
    {
        if (!_parts.TryGetValue(ack.Partition, out var s)) return;
        int i = s.InFlight.FindIndex(x => x.From == ack.From && x.To == ack.To);
        if (i < 0) return; // from an older position of this partition
        if (ack.Outcome == ContributionOutcome.Refused)
        {
            if (ack.Next >= 0) DoSeek(ack.Partition, ack.Next);
            else Unposition(s); // the ledger does not know the partition (a coordinator without our history): ask where it starts
            return;
        }
        s.InFlight.RemoveAt(i);
        // A batch that grew while the window was full goes out now.
        if (s.Rows.Rows >= _settings.BatchRows || (_draining && s.Expected > s.From)) Flush(s);
        if (s.PausedForFlow && s.Rows.Rows < MaxPendingBatches * _settings.BatchRows && _consumer is not null && !_draining)
        {
            _consumer.Resume([new TopicPartition(_settings.Topic, s.Partition)]);
            s.PausedForFlow = false;
            s.Paused = false;
        }
    }

    /// <summary>The partition's low watermark (the first offset the broker still holds), or <paramref name="unknown"/> when the broker does not answer.</summary>
    private static long LowWatermark(IConsumer<byte[]?, byte[]?> consumer, TopicPartition tp, long unknown)
    {
        try { return consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(5)).Low.Value; }
        catch (KafkaException) { return unknown; }
    }

    /// <summary>Drops a partition's pending rows together with their counters and range: it is not positioned any more.</summary>
    private static void Forget(PartitionState s)
    {
        s.Rows.Clear();
        s.Accepted = s.Rejected = 0;
        s.From = s.Expected;
        s.Positioned = false;
    }

    /// <summary>Forgets what is pending and in flight for a partition, pauses it and asks the ledger where it resumes.</summary>
    private void Unposition(PartitionState s)
    {
        var tp = new TopicPartition(_settings.Topic, s.Partition);
        s.InFlight.Clear();
        s.Rows.Clear();
        s.Accepted = s.Rejected = 0;
        s.Positioned = false;
        s.PositionAsked.Restart();
        if (!s.Paused) _consumer!.Pause([tp]);
        s.Paused = true;
        _sink.NeedPosition(s.Partition, 0);
    }

    private void Handle(ConsumeResult<byte[]?, byte[]?> r)
    {
        int p = r.Partition.Value;
        if (!_parts.TryGetValue(p, out var s) || !s.Positioned) return;
        s.LastRead.Restart();
        if (r.IsPartitionEOF)
        {
            // The end of what this consumer can read; offsets before it that delivered nothing are passed over.
            if (r.Offset.Value > s.Expected && !PassOver(s, r.Offset.Value)) return;
            Flush(s);
            s.AtEnd = true;
            s.High = r.Offset.Value;
            return;
        }
        long offset = r.Offset.Value;
        if (offset < s.Expected) return; // re-delivery after a seek race
        if (offset > s.Expected && !PassOver(s, offset)) return;
        s.AtEnd = false;
        if (s.Rows.Rows == 0 && s.Accepted == 0 && s.Rejected == 0) s.BatchAge.Restart();
        var value = r.Message.Value;
        int d = _settings.Dimension;
        int before = s.Rows.Rows;
        if (s.Rows.Dimension != d) s.Rows.Reset(d);
        string? reason = value is null ? "empty record (null value)" : RecordDecoder.TryDecode(value, _settings.Format, ref d, false, s.Rows);
        if (reason is null && s.Rows.Rows == before) reason = "csv header line, not data";
        if (reason is not null)
        {
            s.Rows.Truncate(before);
            // A record that cannot be dead-lettered is not counted, nor is anything after it: the intake stops.
            if (!Reject(r, reason)) return;
            s.Rejected++;
        }
        else
        {
            s.Accepted++;
            if (!Score(r, s, before)) return;
        }
        s.Expected = offset + 1;
        if (s.Rows.Rows >= _settings.BatchRows || s.Accepted + s.Rejected >= 10_000) Flush(s);
        if (s.Rows.Rows >= MaxPendingBatches * _settings.BatchRows && !s.PausedForFlow)
        {
            // The coordinator is behind: stop fetching this partition until acknowledgements drain the window.
            _consumer!.Pause([new TopicPartition(_settings.Topic, p)]);
            s.PausedForFlow = true;
            s.Paused = true;
        }
    }

    /// <summary>
    /// The consumer passed over offsets [Expected, offset) of a partition without delivering a record. Only the broker's low
    /// watermark, asked now, says records were deleted: [Expected, min(low, offset)) are then reported lost (after the pending
    /// records are sent, so the ledger sees them first) and the partition reads on at once, with no round trip to the
    /// coordinator, which would leave it behind a log start that keeps moving. Offsets the log still holds that delivered
    /// nothing (transaction commit/abort markers, aborted records under read_committed, keys removed by compaction) are covered
    /// by the next contribution with no record counted: the coordinator reports them as offsets without a record, never as
    /// lost. When the broker does not answer, nothing is claimed: the partition asks the ledger again and re-reads.
    /// </summary>
    /// <returns>True when the partition goes on at <paramref name="offset"/>.</returns>
    private bool PassOver(PartitionState s, long offset)
    {
        var tp = new TopicPartition(_settings.Topic, s.Partition);
        long low = LowWatermark(_consumer!, tp, unknown: -1);
        if (low < 0)
        {
            Flush(s, force: true);
            Unposition(s);
            return false;
        }
        if (low > s.Expected)
        {
            long lostTo = Math.Min(low, offset);
            Flush(s, force: true);
            if (s.Expected != s.From) // not sent (the intake is failing): re-read from the ledger's offset
            {
                Unposition(s);
                return false;
            }
            _sink.Lost(s.Partition, s.Expected, lostTo);
            s.From = s.Expected = lostTo;
            s.ResumedAfterLoss = lostTo;
        }
        if (s.Rows.Rows == 0 && s.Accepted == 0 && s.Rejected == 0 && s.Expected == s.From) s.BatchAge.Restart();
        s.Expected = offset;
        return true;
    }

    /// <summary>
    /// Sends a rejected record to the dead-letter topic (whole, or bounded when it is larger than the producer may send).
    /// False when it could not be queued: the intake is failing and the record is not counted.
    /// </summary>
    private bool Reject(ConsumeResult<byte[]?, byte[]?> r, string reason)
    {
        if (_sideProducer is null || string.IsNullOrEmpty(_settings.DeadLetterTopic)) return true;
        var m = DeadLetters.Create(r.Topic, r.Partition.Value, r.Offset.Value, r.Message.Key, r.Message.Value, reason);
        if (DeadLetters.TooLarge(m, _sideMessageMaxBytes)) m = DeadLetters.Bounded(m);
        return Produce(_settings.DeadLetterTopic, m, r.Partition.Value, $"the dead letter of {r.Topic}/{r.Partition.Value}@{r.Offset.Value}");
    }

    /// <summary>Score records of the rows a record added (from <paramref name="firstRow"/>); false when one could not be queued (the intake is failing).</summary>
    private bool Score(ConsumeResult<byte[]?, byte[]?> r, PartitionState s, int firstRow)
    {
        if (_sideProducer is null || string.IsNullOrEmpty(_settings.ScoresTopic)) return true;
        var sb = new StringBuilder(160);
        for (int i = firstRow; i < s.Rows.Rows; i++)
        {
            sb.Clear();
            sb.Append(CultureInfo.InvariantCulture, $"{{\"topic\":\"{r.Topic}\",\"partition\":{r.Partition.Value},\"offset\":{r.Offset.Value},\"row\":{i - firstRow},\"modelVersion\":{_modelVersion}");
            if (_scorer is null) sb.Append(",\"logDensity\":null,\"mahalanobis2\":null,\"tailProbability\":null,\"anomaly\":null}");
            else
            {
                var (ld, m2) = _scorer.Score(s.Rows.Row(i));
                double tail = double.IsPositiveInfinity(m2) ? 0 : _scorer.TailProbability(m2);
                // JSON has no NaN or Infinity: a figure that overflowed is null, and a row whose tail cannot be computed is flagged.
                bool anomaly = !(tail >= _settings.AnomalyLevel);
                sb.Append(CultureInfo.InvariantCulture, $",\"logDensity\":{Json(ld)},\"mahalanobis2\":{Json(m2)},\"tailProbability\":{Json(tail)},\"anomaly\":{(anomaly ? "true" : "false")}}}");
            }
            var m = new Message<byte[]?, byte[]?> { Key = r.Message.Key, Value = Encoding.UTF8.GetBytes(sb.ToString()) };
            if (!Produce(_settings.ScoresTopic, m, r.Partition.Value, $"the score of {r.Topic}/{r.Partition.Value}@{r.Offset.Value}")) return false;
        }
        return true;
    }

    private static string Json(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "null";

    /// <summary>
    /// Queues a dead letter or score record. A dead letter refused for its size (by this producer, or later by the broker)
    /// is sent again bounded. False, with the intake's failure set, when the record cannot be queued: then neither it nor
    /// the rest of its partition's pending range may be counted.
    /// </summary>
    private bool Produce(string topic, Message<byte[]?, byte[]?> message, int sourcePartition, string what)
    {
        var s = _parts[sourcePartition];
        s.ProducedSide = true;
        Stopwatch? queueFull = null;
        while (_failure is null)
        {
            try
            {
                Interlocked.Increment(ref _sidePending);
                _sideProducer!.Produce(topic, message, d => Delivered(d, what));
                return true;
            }
            catch (ProduceException<byte[]?, byte[]?> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                Interlocked.Decrement(ref _sidePending);
                // The producer polls on its own thread (Poll is not allowed here): wait for room, but not for ever.
                queueFull ??= Stopwatch.StartNew();
                if (queueFull.Elapsed > SideDeliveryTimeout)
                {
                    _failure ??= $"the dead-letter/score producer's queue stayed full for {SideDeliveryTimeout.TotalSeconds:F0} s (is the broker reachable?); stopped consuming";
                    return false;
                }
                if (_stop.Token.WaitHandle.WaitOne(5)) return false;
            }
            catch (KafkaException e) when (DeadLetters.IsSizeError(e.Error.Code) && topic == _settings.DeadLetterTopic && !DeadLetters.IsBounded(message))
            {
                Interlocked.Decrement(ref _sidePending);
                message = DeadLetters.Bounded(message);
            }
            catch (KafkaException e)
            {
                Interlocked.Decrement(ref _sidePending);
                _failure ??= $"{what} could not be written to {topic}: {e.Error.Reason}; records {_settings.Topic}/{sourcePartition} from offset {s.From} on are not counted "
                    + "(they are read again on the next start); stopped consuming";
                return false;
            }
        }
        return false;
    }

    /// <summary>
    /// A side record's delivery report (on the producer's poll thread). A dead letter the broker refused for its size is
    /// produced again bounded before this one is done, so <see cref="_sidePending"/> never reads 0 in between.
    /// </summary>
    private void Delivered(DeliveryReport<byte[]?, byte[]?> d, string what)
    {
        try
        {
            if (!d.Error.IsError) return;
            if (DeadLetters.IsSizeError(d.Error.Code) && d.Topic == _settings.DeadLetterTopic && !DeadLetters.IsBounded(d.Message))
            {
                Interlocked.Increment(ref _sidePending);
                try
                {
                    _sideProducer!.Produce(d.Topic, DeadLetters.Bounded(d.Message), b => Delivered(b, what + " (bounded)"));
                    return;
                }
                catch (KafkaException)
                {
                    Interlocked.Decrement(ref _sidePending);
                }
            }
            Interlocked.Increment(ref _sideErrors);
            Interlocked.CompareExchange(ref _sideError, $"{what} to {d.Topic}: {d.Error.Reason}", null);
        }
        finally
        {
            Interlocked.Decrement(ref _sidePending);
        }
    }

    /// <summary>
    /// Waits until every dead letter and score produced so far is delivered or has failed (its handler has run).
    /// Null when all were delivered, else why not.
    /// </summary>
    private string? AwaitSideDelivery()
    {
        var clock = Stopwatch.StartNew();
        int undelivered = 0;
        while (true)
        {
            var left = SideDeliveryTimeout - clock.Elapsed;
            if (left <= TimeSpan.Zero) break;
            undelivered = _sideProducer!.Flush(left);
            // Delivery handlers run on the producer's poll thread, which may still be inside one (a bounded retry).
            if (SpinWait.SpinUntil(() => Interlocked.Read(ref _sidePending) == 0, TimeSpan.FromMilliseconds(200))) break;
        }
        long pending = Interlocked.Read(ref _sidePending), failed = Interlocked.Read(ref _sideErrors);
        if (pending == 0 && failed == 0) return null;
        return $"{(pending > 0 ? $"{Math.Max(pending, undelivered)} dead-letter/score records not delivered within {SideDeliveryTimeout.TotalSeconds:F0} s" : "")}"
            + $"{(pending > 0 && failed > 0 ? "; " : "")}{(failed > 0 ? $"{failed} dead-letter/score records failed ({Volatile.Read(ref _sideError)})" : "")}";
    }

    /// <summary>
    /// Sends the partition's pending records as one contribution [From, Expected), unless
    /// <see cref="MaxInFlight"/> contributions already await acknowledgement: then the batch keeps growing
    /// and goes out with the next acknowledgement.
    /// </summary>
    /// <param name="force">Send even when the in-flight window is full (it is flow control only): before a loss report.</param>
    private void Flush(PartitionState s, bool force = false)
    {
        if (!s.Positioned || s.Expected == s.From || (s.InFlight.Count >= MaxInFlight && !force) || _failure is not null || _closing) return;
        if (s.ProducedSide && _sideProducer is not null)
        {
            // Dead letters and scores are durable before the records that produced them are counted: when they are not,
            // the records are not counted either (the intake stops; they are read again from the ledger's offsets).
            if (AwaitSideDelivery() is { } why)
            {
                _failure = $"{why}: records {_settings.Topic}/{s.Partition} offsets {s.From}..{s.Expected - 1} are not counted; stopped consuming";
                return;
            }
            s.ProducedSide = false;
        }
        // A contribution is whole: every accepted record left at least one row (a record that decodes to none is rejected).
        if ((s.Accepted > 0) != (s.Rows.Rows > 0))
        {
            _failure = $"internal error: {_settings.Topic}/{s.Partition} offsets {s.From}..{s.Expected - 1} hold {s.Accepted} accepted records but {s.Rows.Rows} rows; not counted; stopped consuming";
            return;
        }
        StatisticsData? stats = null;
        if (s.Rows.Rows > 0)
        {
            var st = new SufficientStatistics(_settings.Dimension);
            if (_settings.Forgetting < 1) st.AddBatchWithForgetting(s.Rows.AsSpan(), s.Rows.Rows, _settings.Forgetting);
            else st.AddBatch(s.Rows.AsSpan(), s.Rows.Rows);
            Core.Diagnostics.RecentRows.Offer(s.Rows.AsSpan(), s.Rows.Rows, _settings.Dimension); // the dashboard's scatter
            stats = StatisticsData.From(st);
        }
        var c = new PartitionContribution("", 0, _settings.Topic, s.Partition, s.From, s.Expected, s.Accepted, s.Rejected, stats);
        s.InFlight.Add((s.From, s.Expected, Stopwatch.StartNew()));
        _sink.Contribute(c);
        s.From = s.Expected;
        s.Rows.Clear();
        s.Accepted = s.Rejected = 0;
    }

    private void Housekeeping()
    {
        foreach (var s in _parts.Values)
        {
            if (!s.Positioned)
            {
                if (s.Querying) continue; // its first ledger query is still out (QueryPosition)
                if (s.PendingSeek >= 0 && s.PositionAsked.ElapsedMilliseconds >= 100 && !_draining)
                {
                    DoSeek(s.Partition, s.PendingSeek);
                    continue;
                }
                if (s.PositionAsked.Elapsed > PositionRetry && !_draining)
                {
                    s.PositionAsked.Restart();
                    _sink.NeedPosition(s.Partition, 0);
                }
                continue;
            }
            if (s.Expected > s.From && (_draining || s.BatchAge.Elapsed.TotalMilliseconds >= _settings.LingerMilliseconds)) Flush(s);
            if (s.InFlight.Count > 0 && s.InFlight[0].Sent.Elapsed > AckTimeout && !_draining)
            {
                // No answer (coordinator restarting?): forget what is in flight and ask the ledger again.
                Unposition(s);
                continue;
            }
            Unstall(s);
        }
        if (_statusClock.ElapsedMilliseconds >= 500)
        {
            _statusClock.Restart();
            var parts = _parts.Values.OrderBy(s => s.Partition).ToArray();
            var lag = parts.Select(s =>
            {
                try
                {
                    var wm = _consumer!.GetWatermarkOffsets(new TopicPartition(_settings.Topic, s.Partition));
                    long high = wm.High.Value >= 0 ? wm.High.Value : s.High;
                    return s.Lag = s.Positioned && high >= 0 ? Math.Max(0, high - s.Expected) : 0;
                }
                catch (KafkaException) { return 0; }
            }).ToArray();
            var unread = parts.Select(s => s.Lag > 0 ? (long)s.LastRead.Elapsed.TotalMilliseconds : 0).ToArray();
            // With no broker reachable the ends are unknown: never idle, and say why.
            bool down = _unreachable.IsRunning && _unreachable.Elapsed >= ReachabilityProbe;
            bool atEnd = !down && parts.All(s => s.Positioned && s.AtEnd && s.InFlight.Count == 0 && s.Expected == s.From);
            string? err = down
                ? $"no Kafka broker reachable at {_settings.Bootstrap} ({_brokerError ?? "all brokers down"}); stopping if this lasts {BrokerTimeout.TotalSeconds:F0} s"
                : Interlocked.Read(ref _sideErrors) > 0 ? $"{Interlocked.Read(ref _sideErrors)} dead-letter/score records could not be delivered ({Volatile.Read(ref _sideError)})" : null;
            _sink.Status(parts.Select(s => s.Partition).ToArray(), lag, unread, atEnd, err);
        }
    }

    /// <summary>
    /// A partition with lag that has delivered nothing for <see cref="StallCheck"/> while it is neither paused nor waiting for
    /// the ledger: if the broker's log now starts after the next offset to read, the consumer is stuck resetting to a log
    /// start that the broker deletes again before the next fetch (a log whose head is deleted continuously, like the
    /// development broker's 5 MB window). Seeking to the logical beginning makes librdkafka look the log start up and fetch
    /// there at once; <see cref="PassOver"/> then accounts what was deleted, with the low watermark as proof.
    /// </summary>
    private void Unstall(PartitionState s)
    {
        if (_draining || s.Paused || s.Lag <= 0 || s.LastRead.Elapsed < StallCheck || s.StallChecked.Elapsed < StallCheck || _consumer is null) return;
        s.StallChecked.Restart();
        var tp = new TopicPartition(_settings.Topic, s.Partition);
        long low = LowWatermark(_consumer, tp, unknown: -1);
        if (low <= s.Expected) return;
        try { _consumer.Seek(new TopicPartitionOffset(tp, Offset.Beginning)); }
        catch (KafkaException) { } // the assignment is changing: the next check tries again
    }
}
