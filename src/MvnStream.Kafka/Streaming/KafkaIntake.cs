using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Scoring;
using MvnStream.Core.Statistics;
using MvnStream.Core.Streaming.Intake;
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
/// The per-partition bookkeeping (positions, in-flight window, flow control, stall clock, revocation) is a
/// <see cref="PartitionTracker"/>; this class is the consume loop and the Kafka calls that carry out its decisions.
/// </summary>
public sealed class KafkaIntake : IDisposable
{
    private readonly StreamJobSettings _settings;
    private readonly IIntakeSink _sink;
    private readonly Func<int, long, long?> _askPosition;
    private readonly string _workerId;
    private readonly ConcurrentQueue<Action> _commands = new();
    private readonly ConcurrentQueue<(int Partition, long Offset)> _toStore = new();
    private readonly IntakeOptions _options;

    /// <summary>Positions, in-flight windows, flow control and stall clocks of the assigned partitions (touched only on the consumer thread).</summary>
    private readonly PartitionTracker _tracker;
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

    /// <summary>How the consumer is closed (commits its stored offsets, leaves the group): a test hook, for a close that does not return.</summary>
    internal Action<IConsumer<byte[]?, byte[]?>> CloseConsumer { get; init; } = static c => c.Close();

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
    /// <param name="options">The intake's tunable constants (<see cref="IntakeOptions.Default"/> when null).</param>
    /// <param name="clock">The tracker's clock (the system's when null).</param>
    public KafkaIntake(StreamJobSettings settings, string workerId, IIntakeSink sink, Func<int, long, long?> askPosition,
        IntakeOptions? options = null, TimeProvider? clock = null)
    {
        _settings = settings;
        _options = options ?? FromTunables(settings.Tuning);
        _tracker = new PartitionTracker(_options, settings.BatchRows, clock ?? TimeProvider.System);
        _sink = sink;
        _askPosition = askPosition;
        _workerId = workerId;
        _thread = new Thread(Run) { IsBackground = true, Name = "mvnstream-intake-" + workerId };
    }

    /// <summary>
    /// The intake's options from the job's tunables (section Stream of the settings, README "Configuration"); the rest keep
    /// <see cref="IntakeOptions"/>' defaults. A poll is short (at most 5 ms) while anything waits for an acknowledgement.
    /// </summary>
    public static IntakeOptions FromTunables(StreamTunables t) => IntakeOptions.Default with
    {
        MaxInFlight = t.MaxInFlight,
        MaxPendingBatches = t.MaxPendingBatches,
        AckTimeout = TimeSpan.FromSeconds(t.AckTimeoutSeconds),
        SideDeliveryTimeout = TimeSpan.FromSeconds(t.SideDeliveryTimeoutSeconds),
        ReachabilityProbe = TimeSpan.FromSeconds(t.ReachabilityProbeSeconds),
        PositionRetry = TimeSpan.FromSeconds(t.PositionRetrySeconds),
        StallCheck = TimeSpan.FromSeconds(t.StallCheckSeconds),
        IdlePollMilliseconds = t.PollMilliseconds,
        BusyPollMilliseconds = Math.Min(5, t.PollMilliseconds),
        WatermarkQueryTimeout = StreamTunables.Time(t.WatermarkTimeoutSeconds, StreamTunables.Default.WatermarkTimeoutSeconds),
        ReachabilityProbeTimeout = StreamTunables.Time(t.ProbeTimeoutSeconds, StreamTunables.Default.ProbeTimeoutSeconds),
        CloseFlushTimeout = StreamTunables.Time(t.FlushTimeoutSeconds, StreamTunables.Default.FlushTimeoutSeconds),
    };

    public void Start() => _thread.Start();

    /// <summary>The ledger says where partition p resumes.</summary>
    public void Seek(int partition, long next) => _commands.Enqueue(() =>
    {
        // The answer to our own loss report: the partition already reads on from there.
        if (_tracker.IsOwnLossAnswer(partition, next)) return;
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
            if (!_tracker.TryGet(x.Partition, out _) || _consumer is null) continue;
            try { _consumer.StoreOffset(new TopicPartitionOffset(_settings.Topic, x.Partition, x.Offset)); }
            catch (KafkaException) { } // revoked meanwhile; lag monitoring only: the checkpoint is the source of truth
        }
    }

    /// <summary>Stop fetching, send what is pending, wait for the acknowledgements; the consumer stays in the group (paused) until disposed, so it can still commit the final offsets.</summary>
    public void Drain() => _commands.Enqueue(() =>
    {
        _draining = true;
        _drainClock.Restart();
        var all = _tracker.BeginDrain();
        foreach (var s in _tracker.Partitions) Flush(s);
        if (_consumer is not null && all.Count > 0) _consumer.Pause(all.Select(p => new TopicPartition(_settings.Topic, p)));
    });

    public void Dispose()
    {
        _stop.Cancel();
        if (_thread.IsAlive && Thread.CurrentThread != _thread) _thread.Join(_options.StopJoinTimeout);
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
                AutoCommitIntervalMs = _options.AutoCommitIntervalMs,
                EnableAutoOffsetStore = false,
                AutoOffsetReset = AutoOffsetReset.Earliest,
                EnablePartitionEof = true,
                // Records of aborted transactions are never counted (librdkafka's default, stated for operators).
                IsolationLevel = IsolationLevel.ReadCommitted,
                SessionTimeoutMs = _options.SessionTimeoutMs,
                HeartbeatIntervalMs = _options.HeartbeatIntervalMs,
                PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
                // A consumer subscribed before its topic exists learns of it at the next metadata refresh (docs/ARCHITECTURE.md,
                // streaming): every second, so a stream started first loses no time once rows arrive.
                TopicMetadataRefreshIntervalMs = _options.TopicMetadataRefreshIntervalMs,
                FetchWaitMaxMs = _options.FetchWaitMaxMs,
                // After a fetch error (an offset the broker no longer holds) fetch again at once: at 500 ms (librdkafka's default)
                // a consumer reset to the log start keeps landing behind a log start that moves on meanwhile.
                FetchErrorBackoffMs = _options.FetchErrorBackoffMs,
                // No topic name, timestamp or headers in the results: the intake reads one topic (_settings.Topic) and uses
                // none of them, and Confluent.Kafka would otherwise marshal a new topic string and ask for headers per record.
                ConsumeResultFields = "none",
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
                var pc = new ProducerConfig { BootstrapServers = _settings.Bootstrap, LingerMs = _options.SideLingerMs, MessageTimeoutMs = _options.SideMessageTimeoutMs, EnableIdempotence = true };
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
                foreach (var s in _tracker.Partitions) PartitionTracker.Forget(s);
                _sideProducer?.Flush(_options.CloseFlushTimeout);
                StoreOffsets();
            }
            catch (KafkaException) { }
            CloseClients();
            _sink.Stopped(error);
        }
    }

    /// <summary>
    /// Closes the consumer (it commits the stored offsets and leaves the group) and the other Kafka clients on a thread of
    /// their own, waiting at most <see cref="IntakeOptions.ConsumerCloseTimeout"/>. librdkafka's consumer close has no
    /// timeout: with no broker reachable it can wait for the group coordinator for ever, and the intake, which reports
    /// that it stopped (and why) only after this, would never report it; its worker would never tell the coordinator,
    /// which would wait for it for ever instead of stopping the job (docs/ARCHITECTURE.md, "Streaming"). A close still
    /// running after the bound goes on in the background (the group drops the member at its session timeout) and disposes
    /// the clients when it returns.
    /// </summary>
    private void CloseClients()
    {
        var consumer = _consumer;
        var metadata = _metadata;
        var side = _sideProducer;
        var closer = new Thread(() =>
        {
            try
            {
                if (consumer is not null) CloseConsumer(consumer);
            }
            catch (Exception e) when (e is KafkaException or ObjectDisposedException or InvalidOperationException) { }
            finally
            {
                metadata?.Dispose();
                consumer?.Dispose();
                side?.Dispose();
            }
        }) { IsBackground = true, Name = "mvnstream-intake-close-" + _workerId };
        closer.Start();
        if (closer.Join(_options.ConsumerCloseTimeout)) return;
        var log = MvnStream.Cluster.Logging.MvnLogging.Factory.CreateLogger(typeof(KafkaIntake).FullName!);
        if (!log.IsEnabled(LogLevel.Warning)) return;
        using var scope = log.BeginScope(LogContextOf(_workerId));
        string text = string.Create(CultureInfo.InvariantCulture,
            $"the Kafka consumer of {_settings.Topic} has not closed within {_options.ConsumerCloseTimeout.TotalSeconds:0.#} s (no broker answers?): it goes on closing in the background; the intake reports that it stopped");
        log.Log(LogLevel.Warning, default, text, null, static (m, _) => m);
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
        if (_reachabilityProbe.Elapsed >= _options.ReachabilityProbe)
        {
            _reachabilityProbe.Restart();
            try
            {
                _metadata!.GetMetadata(_settings.Topic, _options.ReachabilityProbeTimeout);
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
                if (_tracker.AllAcknowledged || _drainClock.Elapsed > _options.AckTimeout)
                {
                    _drainReported = true;
                    _sink.Drained();
                }
            }
            ConsumeResult<byte[]?, byte[]?>? r = null;
            // Short polls while anything waits for an acknowledgement or is paused, so acks are handled promptly.
            try { r = consumer.Consume(_draining || _waiting ? _options.BusyPollMilliseconds : _options.IdlePollMilliseconds); }
            catch (ConsumeException e) when (!e.Error.IsFatal)
            {
                // Dead-lettered and counted in its range like any rejected record (only at the partition's next offset).
                if (e.ConsumerRecord is { } bad && _tracker.TryGet(bad.Partition.Value, out var bs) && bs.Positioned && bad.Offset.Value == bs.Expected
                    && Reject(bad, "undecodable record: " + e.Error.Reason))
                    _tracker.Counted(bs, bad.Offset.Value, accepted: false);
            }
            // Not a sign that a broker is back: the record may have been fetched before the outage. Only the probe says so.
            if (r is not null && !_draining) Handle(r);
            // Timers (linger, ack timeouts, retries, status) every few milliseconds, not after every record.
            if (r is null || _housekeepingClock.Elapsed >= _options.HousekeepingInterval)
            {
                _housekeepingClock.Restart();
                CheckReachability();
                Housekeeping();
                _waiting = _tracker.Waiting;
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
            QueryPosition(_tracker.Assign(tp.Partition.Value));
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
    private void QueryPosition(TrackedPartition s)
    {
        int partition = s.Partition;
        Task.Run(() =>
        {
            long? next = null;
            try { next = _askPosition(partition, 0); }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException) { } // the worker is stopping: as no answer
            _commands.Enqueue(() =>
            {
                if (!_tracker.QueryAnswered(s)) return; // revoked meanwhile, or draining: nothing more is read
                if (next is { } n)
                {
                    DoSeek(partition, n);
                    return;
                }
                _tracker.AskingPosition(s);
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
        if (_consumer is null) return;
        var toPause = _tracker.PauseUnpositioned();
        if (toPause.Count > 0) _consumer.Pause(toPause.Select(p => new TopicPartition(_settings.Topic, p)));
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
            if (handOver && !_closing && _failure is null && _tracker.StartHandOver(p) && _tracker.TryGet(p, out var s)) Flush(s);
            _tracker.Remove(p);
        }
    }

    private void DoSeek(int partition, long next)
    {
        if (!_tracker.TryGet(partition, out var s) || _consumer is null) return;
        if (_tracker.IsAt(partition, next)) return;
        var tp = new TopicPartition(_settings.Topic, partition);
        long low = LowWatermark(tp, unknown: -1);
        _tracker.Position(s, next); // a later answer to the first ledger query is stale: dropped
        try
        {
            if (!s.Paused)
            {
                _consumer.Pause([tp]);
                _tracker.MarkPaused(s);
            }
            _consumer.Seek(new TopicPartitionOffset(tp, Target(next, low)));
        }
        catch (KafkaException)
        {
            // Not yet fetchable (the assignment is still settling): retry this seek on the next loop.
            _tracker.SeekFailed(s, next);
            return;
        }
        _consumer.Resume([tp]);
        WakeFetcher(tp);
        _tracker.Sought(s);
    }

    private void DoAck(ContributionAck ack)
    {
        var result = _tracker.Acknowledge(ack.Partition, ack.From, ack.To, ack.Outcome == ContributionOutcome.Refused);
        if (result == AckResult.Stale || !_tracker.TryGet(ack.Partition, out var s)) return; // from an older position of this partition
        if (result == AckResult.Refused)
        {
            if (ack.Next >= 0) DoSeek(ack.Partition, ack.Next);
            else Unposition(s); // the ledger does not know the partition (a coordinator without our history): ask where it starts
            return;
        }
        // A batch that grew while the window was full goes out now.
        if (_tracker.SendAfterAck(s)) Flush(s);
        if (_consumer is not null && _tracker.ResumeAfterAck(s))
        {
            var tp = new TopicPartition(_settings.Topic, s.Partition);
            _consumer.Resume([tp]);
            WakeFetcher(tp);
        }
    }

    /// <summary>
    /// After a resume: makes librdkafka fetch the partition now. librdkafka does not wake a broker connection's thread when a
    /// partition is resumed (or sought to where it already was, as offset 0 after the pause at assignment); a connection with
    /// nothing else to fetch then sleeps up to a second before it fetches the partition again (docs/ARCHITECTURE.md,
    /// "Streaming"). At 200k rows/s the development broker's 5 MB window is under a second of input, so the next offset was
    /// often deleted meanwhile and the partition chased a log start it never reached. Any request on the connection wakes
    /// it: an asynchronous low-watermark query of the partition on the consumer's own handle, queued after the resume (both
    /// go through librdkafka's main queue, in order); its answer is not needed and the loop never waits for it.
    /// </summary>
    private void WakeFetcher(TopicPartition tp)
    {
        if (_metadata is null) return;
        try
        {
            _metadata.ListOffsetsAsync([new TopicPartitionOffsetSpec { TopicPartition = tp, OffsetSpec = OffsetSpec.Earliest() }],
                    new ListOffsetsOptions { RequestTimeout = _options.WatermarkQueryTimeout })
                .ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
        }
        catch (Exception e) when (e is KafkaException or ObjectDisposedException) { } // no wake-up: librdkafka's own one comes within a second
    }

    /// <summary>The partition's low watermark (the first offset the broker still holds), or <paramref name="unknown"/> when the broker does not answer.</summary>
    private long LowWatermark(TopicPartition tp, long unknown)
    {
        try { return _consumer!.QueryWatermarkOffsets(tp, _options.WatermarkQueryTimeout).Low.Value; }
        catch (KafkaException) { return unknown; }
    }

    /// <summary>Forgets what is pending and in flight for a partition, pauses it and asks the ledger where it resumes.</summary>
    private void Unposition(TrackedPartition s)
    {
        if (_tracker.Unposition(s)) _consumer!.Pause([new TopicPartition(_settings.Topic, s.Partition)]);
        _sink.NeedPosition(s.Partition, 0);
    }

    private void Handle(ConsumeResult<byte[]?, byte[]?> r)
    {
        int p = r.Partition.Value;
        if (_tracker.Reading(p) is not { } s) return;
        long offset = r.Offset.Value;
        var place = PartitionTracker.Locate(s, offset);
        if (r.IsPartitionEOF)
        {
            // The end of what this consumer can read; offsets before it that delivered nothing are passed over.
            if (place == ReadPlace.Gap && !PassOver(s, offset)) return;
            Flush(s);
            PartitionTracker.ReachedEnd(s, offset);
            return;
        }
        if (place == ReadPlace.Behind) return; // re-delivery after a seek race
        if (place == ReadPlace.Gap && !PassOver(s, offset)) return;
        _tracker.BeginRecord(s);
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
        }
        else if (!Score(r, s, before)) return;
        if (_tracker.Counted(s, offset, accepted: reason is null)) Flush(s);
        // The coordinator is behind: stop fetching this partition until acknowledgements drain the window.
        if (_tracker.PauseForFlow(s)) _consumer!.Pause([new TopicPartition(_settings.Topic, p)]);
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
    private bool PassOver(TrackedPartition s, long offset)
    {
        var tp = new TopicPartition(_settings.Topic, s.Partition);
        long low = LowWatermark(tp, unknown: -1);
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
            PartitionTracker.LossReported(s, lostTo);
        }
        _tracker.PassedOver(s, offset);
        return true;
    }

    /// <summary>
    /// Sends a rejected record to the dead-letter topic (whole, or bounded when it is larger than the producer may send).
    /// False when it could not be queued: the intake is failing and the record is not counted.
    /// </summary>
    private bool Reject(ConsumeResult<byte[]?, byte[]?> r, string reason)
    {
        if (_sideProducer is null || string.IsNullOrEmpty(_settings.DeadLetterTopic)) return true;
        var m = DeadLetters.Create(_settings.Topic, r.Partition.Value, r.Offset.Value, r.Message.Key, r.Message.Value, reason);
        if (DeadLetters.TooLarge(m, _sideMessageMaxBytes)) m = DeadLetters.Bounded(m);
        return Produce(_settings.DeadLetterTopic, m, r.Partition.Value, $"the dead letter of {_settings.Topic}/{r.Partition.Value}@{r.Offset.Value}");
    }

    /// <summary>Score records of the rows a record added (from <paramref name="firstRow"/>); false when one could not be queued (the intake is failing).</summary>
    private bool Score(ConsumeResult<byte[]?, byte[]?> r, TrackedPartition s, int firstRow)
    {
        if (_sideProducer is null || string.IsNullOrEmpty(_settings.ScoresTopic)) return true;
        var sb = new StringBuilder(160);
        for (int i = firstRow; i < s.Rows.Rows; i++)
        {
            sb.Clear();
            sb.Append(CultureInfo.InvariantCulture, $"{{\"topic\":\"{_settings.Topic}\",\"partition\":{r.Partition.Value},\"offset\":{r.Offset.Value},\"row\":{i - firstRow},\"modelVersion\":{_modelVersion}");
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
            if (!Produce(_settings.ScoresTopic, m, r.Partition.Value, $"the score of {_settings.Topic}/{r.Partition.Value}@{r.Offset.Value}")) return false;
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
        var s = _tracker[sourcePartition];
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
                if (queueFull.Elapsed > _options.SideDeliveryTimeout)
                {
                    _failure ??= $"the dead-letter/score producer's queue stayed full for {_options.SideDeliveryTimeout.TotalSeconds:F0} s (is the broker reachable?); stopped consuming";
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
            var left = _options.SideDeliveryTimeout - clock.Elapsed;
            if (left <= TimeSpan.Zero) break;
            undelivered = _sideProducer!.Flush(left);
            // Delivery handlers run on the producer's poll thread, which may still be inside one (a bounded retry).
            if (SpinWait.SpinUntil(() => Interlocked.Read(ref _sidePending) == 0, TimeSpan.FromMilliseconds(200))) break;
        }
        long pending = Interlocked.Read(ref _sidePending), failed = Interlocked.Read(ref _sideErrors);
        if (pending == 0 && failed == 0) return null;
        return $"{(pending > 0 ? $"{Math.Max(pending, undelivered)} dead-letter/score records not delivered within {_options.SideDeliveryTimeout.TotalSeconds:F0} s" : "")}"
            + $"{(pending > 0 && failed > 0 ? "; " : "")}{(failed > 0 ? $"{failed} dead-letter/score records failed ({Volatile.Read(ref _sideError)})" : "")}";
    }

    /// <summary>
    /// Sends the partition's pending records as one contribution [From, Expected), unless
    /// <see cref="IntakeOptions.MaxInFlight"/> contributions already await acknowledgement: then the batch keeps growing
    /// and goes out with the next acknowledgement.
    /// </summary>
    /// <param name="force">Send even when the in-flight window is full (it is flow control only): before a loss report.</param>
    private void Flush(TrackedPartition s, bool force = false)
    {
        if (!_tracker.CanSend(s, force) || _failure is not null || _closing) return;
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
        _tracker.Sent(s);
        _sink.Contribute(c);
    }

    private void Housekeeping()
    {
        foreach (var s in _tracker.Partitions)
        {
            if (!s.Positioned)
            {
                switch (_tracker.Unpositioned(s))
                {
                    case PositionAction.RetrySeek: DoSeek(s.Partition, s.PendingSeek); break;
                    case PositionAction.AskPosition: _sink.NeedPosition(s.Partition, 0); break;
                }
                continue;
            }
            if (_tracker.LingerDue(s, _settings.LingerMilliseconds)) Flush(s);
            if (_tracker.AckTimedOut(s))
            {
                // No answer (coordinator restarting?): forget what is in flight and ask the ledger again.
                Unposition(s);
                continue;
            }
            Unstall(s);
        }
        if (_statusClock.Elapsed >= _options.StatusInterval)
        {
            _statusClock.Restart();
            var parts = _tracker.Partitions.OrderBy(s => s.Partition).ToArray();
            var lag = parts.Select(s =>
            {
                try { return PartitionTracker.UpdateLag(s, _consumer!.GetWatermarkOffsets(new TopicPartition(_settings.Topic, s.Partition)).High.Value); }
                catch (KafkaException) { return 0; }
            }).ToArray();
            var unread = parts.Select(s => (long)_tracker.Unread(s).TotalMilliseconds).ToArray();
            // With no broker reachable the ends are unknown: never idle, and say why.
            bool down = _unreachable.IsRunning && _unreachable.Elapsed >= _options.ReachabilityProbe;
            bool atEnd = !down && _tracker.AllAtEnd;
            string? err = down
                ? $"no Kafka broker reachable at {_settings.Bootstrap} ({_brokerError ?? "all brokers down"}); stopping if this lasts {BrokerTimeout.TotalSeconds:F0} s"
                : Interlocked.Read(ref _sideErrors) > 0 ? $"{Interlocked.Read(ref _sideErrors)} dead-letter/score records could not be delivered ({Volatile.Read(ref _sideError)})" : null;
            _sink.Status(parts.Select(s => s.Partition).ToArray(), lag, unread, atEnd, err);
        }
    }

    /// <summary>
    /// A partition with lag that has delivered nothing for <see cref="IntakeOptions.StallCheck"/> while it is neither paused nor waiting for
    /// the ledger: if the broker's log now starts after the next offset to read, the consumer is stuck resetting to a log
    /// start that the broker deletes again before the next fetch (a log whose head is deleted continuously, like the
    /// development broker's 5 MB window). Seeking to the logical beginning makes librdkafka look the log start up and fetch
    /// there at once; <see cref="PassOver"/> then accounts what was deleted, with the low watermark as proof.
    /// </summary>
    private void Unstall(TrackedPartition s)
    {
        if (_consumer is null || !_tracker.StallCheckDue(s)) return;
        var tp = new TopicPartition(_settings.Topic, s.Partition);
        long low = LowWatermark(tp, unknown: -1);
        if (low <= s.Expected) return;
        try { _consumer.Seek(new TopicPartitionOffset(tp, Offset.Beginning)); }
        catch (KafkaException) { } // the assignment is changing: the next check tries again
    }
}
