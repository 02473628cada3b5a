using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Confluent.Kafka;
using MvnStream.Cluster.Actors;
using MvnStream.Cluster.Protocol;
using MvnStream.Core;
using MvnStream.Core.Diagnostics;
using MvnStream.Core.Fitting;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;
using MvnStream.Core.Streaming;
using MvnStream.Kafka.Logging;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// The stream coordinator, a cluster singleton. Holds the merged statistics, theta, optimiser state and
/// the offset ledger of one streaming job; merges partition contributions exactly once (docs/ARCHITECTURE.md, "The offset ledger"),
/// takes warm-started solver steps after merges, publishes model snapshots (file and topic), and
/// checkpoints {theta, optimiser state, statistics, ledger, counters} before offsets are committed.
/// Restores from its checkpoint on start, so a restart or handover resumes where the checkpoint was.
/// </summary>
public sealed partial class StreamCoordinatorActor : ReceiveActor, IWithTimers
{
    /// <summary>The job's timers; each kind is also its timer's key.</summary>
    private enum TickKind { Status, Snapshot, Idle, StopTimeout, ModelDelivery }

    private sealed record Tick(TickKind Kind)
    {
        public static Tick Status { get; } = new(TickKind.Status);
        public static Tick Snapshot { get; } = new(TickKind.Snapshot);
        public static Tick Idle { get; } = new(TickKind.Idle);
        public static Tick StopTimeout { get; } = new(TickKind.StopTimeout);
        public static Tick ModelDelivery { get; } = new(TickKind.ModelDelivery);
    }

    /// <summary>The model topic confirmed a snapshot record (<paramref name="Error"/> null) or gave up on it.</summary>
    private sealed record ModelRecordDelivered(string JobId, string? Error);

    /// <summary>
    /// How long a finishing job waits for the model topic to confirm its final snapshot (the model file and the checkpoint
    /// have it already); then it finishes with a warning. The setting Kafka:ModelFlushTimeout (default 5 s).
    /// </summary>
    private static TimeSpan ModelDeliveryWait(StreamJob job) =>
        StreamTunables.Time(job.Settings.Tuning.ModelFlushTimeoutSeconds, StreamTunables.Default.ModelFlushTimeoutSeconds);

    private sealed record ModelFileWritten(string JobId, string Path, Exception? Error);

    /// <summary>The final checkpoint was written (<paramref name="Error"/> null) or failed.</summary>
    private sealed record FinalSave(Exception? Error);

    private sealed record PartitionCountLearned(string JobId, int Count);

    private sealed record Restored(string JobId, StreamCheckpoint? Checkpoint, int PartitionCount, Exception? Error);

    private sealed record UpdateDone(string JobId, FitResult? Result, Exception? Error, bool Final);

    private sealed record CheckpointDone(string JobId, long Changes, Exception? Error, bool Final, int[] Partitions, long[] Offsets);

    private readonly StreamCoordinatorOptions _options;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly string _coordinatorId = Guid.NewGuid().ToString("N")[..8];
    private readonly WorkerRegistry _workers;
    private readonly Dictionary<string, WorkerStreamStatus> _workerStatus = [];

    /// <summary>The last jobs that ended, newest last: a worker that was unreachable when one ended may still run its intake.</summary>
    private readonly Queue<string> _endedJobs = new();
    private StreamJob? _job;

    public StreamCoordinatorActor(StreamCoordinatorOptions? options = null)
    {
        _options = options ?? StreamCoordinatorOptions.Default;
        _workers = new WorkerRegistry(Context);
        Receive<RegisterWorker>(OnRegister);
        Receive<Terminated>(OnTerminated);
        Receive<ClusterEvent.UnreachableMember>(u => SuspendWorkersAt(u.Member.Address));
        Receive<ClusterEvent.ReachableMember>(u => ResumeWorkersAt(u.Member.Address));
        Receive<ClusterEvent.MemberRemoved>(u => LoseWorkersAt(u.Member.Address));
        Receive<ClusterEvent.IMemberEvent>(_ => { });

        Receive<StartStreamJob>(OnStart);
        Receive<Restored>(OnRestored);
        Receive<StopStreamJob>(s => { if (_job?.Id == s.JobId) BeginStop("stopped by the client"); });
        Receive<LedgerQuery>(OnLedgerQuery);
        Receive<PartitionContribution>(OnContribution);
        Receive<RecordsLost>(OnRecordsLost);
        Receive<WorkerStreamStatus>(OnWorkerStatus);
        Receive<ConsumingStopped>(OnConsumingStopped);
        Receive<UpdateDone>(OnUpdateDone);
        Receive<CheckpointDone>(OnCheckpointDone);
        Receive<ModelFileWritten>(OnModelFileWritten);
        Receive<ModelRecordDelivered>(OnModelRecordDelivered);
        Receive<Tick>(OnTick);
        Receive<PartitionCountLearned>(m =>
        {
            if (_job is not { } job || job.Id != m.JobId) return;
            job.PartitionCountAsked = false;
            if (m.Count > 0) job.PartitionCount = m.Count;
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(StreamCoordinatorOptions? options = null) => Akka.Actor.Props.Create(() => new StreamCoordinatorActor(options));

    protected override void PreStart()
    {
        WorkerRegistry.SubscribeToMembership(_cluster, Self);
        PublishBoard();
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        _job?.Dispose();
    }

    /// <summary>
    /// A failure while handling a message ends the job with a clear error to its client instead of restarting the
    /// actor, which would drop the job's state without anyone being told (the checkpoint still holds it).
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (Exception e) when (_job is not null)
        {
            _log.Error(e, "stream job {0} failed handling {1}", _job.Id, message.GetType().Name);
            _job.Client.Tell(new StreamJobFailed(_job.Id, JobErrorKind.Failure, $"the stream coordinator failed ({e.GetType().Name}: {e.Message}); the last checkpoint ({_job.Store.Describe()}) holds the state to resume from"));
            EndJob();
            return true;
        }
    }

    private void OnRegister(RegisterWorker r)
    {
        bool added = _workers.Register(Sender, r.WorkerId);
        Sender.Tell(new WorkerRegistered(_coordinatorId));
        PublishBoard();
        if (added && _job is { Started: true }) Sender.Tell(new StartConsuming(_job.Id, _job.Epoch, _job.Settings));
    }

    private void OnTerminated(Terminated t)
    {
        if (_job is not null && t.ActorRef.Equals(_job.Client))
        {
            _log.Warning("client of stream job {0} is gone: stopping the job", _job.Id);
            _job.ClientGone = true;
            BeginStop("the client is gone");
            return;
        }
        RemoveWorker(t.ActorRef);
    }

    private void LoseWorkersAt(Address address)
    {
        foreach (var w in _workers.AllAt(address)) RemoveWorker(w);
    }

    /// <summary>
    /// A worker whose node is unreachable is suspended, not forgotten: the node may come back before it is downed (a GC
    /// pause, a network blip), and its Kafka consumer is still a group member that keeps its partitions (Kafka gives them
    /// to the others only if the consumer is gone too). While suspended it is not counted: not in the status, not for
    /// idleness (its partitions' ends are unknown), not among the workers a stop waits for. Whatever it still sends is
    /// handled as from any worker: its contributions go through the ledger, which alone decides what counts.
    /// </summary>
    private void SuspendWorkersAt(Address address)
    {
        foreach (var (_, id) in _workers.SuspendAt(address))
        {
            _workerStatus.Remove(id);
            if (_job is null)
            {
                _log.Info("worker {0} is unreachable", id);
                continue;
            }
            Notice($"worker {id} is unreachable: not counted until it is reachable again; its partitions stay with its consumer "
                + "unless Kafka gives them to the others (resuming at the ledger's offsets)");
            if (_job.Stopping) MaybeFinishStop();
        }
        PublishBoard();
    }

    /// <summary>A suspended worker is reachable again: it counts again and is told what it may have missed meanwhile.</summary>
    private void ResumeWorkersAt(Address address)
    {
        foreach (var w in _workers.Resume(address))
        {
            string id = _workers[w];
            if (_job is null) _log.Info("worker {0} is reachable again", id);
            else Notice($"worker {id} is reachable again");
            CatchUp(w, id);
        }
        PublishBoard();
    }

    /// <summary>
    /// Messages to a worker may have been lost while its node was unreachable: it is told again to release jobs that
    /// ended (else its consumer would go on holding partitions of the group for a job that is over), to consume the
    /// running job with its current model, or to stop. Each of these is idempotent on the worker.
    /// </summary>
    private void CatchUp(IActorRef worker, string id)
    {
        var job = _job;
        foreach (var ended in _endedJobs)
            if (ended != job?.Id) worker.Tell(new ReleaseJob(ended));
        if (job is not { Started: true }) return; // a job still restoring tells every live worker to start
        if (job.Stopping)
        {
            if (!job.StoppedWorkers.Contains(id)) worker.Tell(new StopConsuming(job.Id, job.Epoch));
            return;
        }
        if (job.FailedWorkers.Contains(id)) return;
        worker.Tell(new StartConsuming(job.Id, job.Epoch, job.Settings));
        if (job.Theta is not null) worker.Tell(new ModelUpdated(job.Id, job.Epoch, job.Version, ThetaData.From(job.Theta)));
    }

    private void RemoveWorker(IActorRef worker)
    {
        bool live = _workers.IsLive(worker);
        if (_workers.Remove(worker) is not { } id) return;
        _workerStatus.Remove(id);
        PublishBoard();
        if (_job is null) return;
        // Kafka moves its partitions to the other group members, which ask the ledger where to resume.
        Notice($"worker {id} left{(live ? "" : " (it was unreachable)")}; its partitions go to the other consumers, which resume at the ledger's offsets");
        _job.StoppedWorkers.Remove(id);
        _job.FailedWorkers.Remove(id);
        if (!_job.Stopping && NoWorkerCanConsume(_job))
        {
            _job.Failure = $"no worker can consume any more: {_job.LastWorkerFailure}";
            BeginStop(_job.Failure);
        }
        if (_job.Stopping) MaybeFinishStop();
    }

    /// <summary>Every worker, suspended ones included (they may still be consuming), has had its intake fail.</summary>
    private bool NoWorkerCanConsume(StreamJob job) =>
        job.FailedWorkers.Count > 0 && _workers.Ids.Concat(_workers.SuspendedIds).All(job.FailedWorkers.Contains);

    /// <summary>
    /// Tells the job's client, which prints it as a note, and logs it at <paramref name="level"/> for the operator of this
    /// node. When the client runs in this ActorSystem (an embedded cluster: 'stream', 'demo') the note already reaches the
    /// user, so the log gets it only at DEBUG: each notice is printed once. <paramref name="cause"/>, if any, goes with it
    /// into the log (the note carries its message).
    /// </summary>
    private void Notice(string message, LogLevel level = LogLevel.InfoLevel, Exception? cause = null)
    {
        bool clientHere = _job?.Client.Path.Address.HasLocalScope ?? false;
        switch (clientHere ? LogLevel.DebugLevel : level)
        {
            case LogLevel.DebugLevel: _log.Debug("{0}", message); break;
            case LogLevel.WarningLevel: _log.Warning(cause, "{0}", message); break;
            case LogLevel.ErrorLevel: _log.Error(cause, "{0}", message); break;
            default: _log.Info("{0}", message); break;
        }
        _job?.Client.Tell(new StreamJobNotice(_job.Id, message));
    }

    private void OnStart(StartStreamJob m)
    {
        if (_job is not null)
        {
            if (_job.Id == m.JobId)
            {
                // The client re-sent its job (it lost sight of us for a while): same job, new client ref.
                _job.Client = Sender;
                Context.Watch(Sender);
                Sender.Tell(new StreamJobStarted(_job.Id, _job.Epoch, _job.State.RestoredFromCheckpoint, _job.State.RestoredRows, _job.Version, _workers.Count));
                return;
            }
            Sender.Tell(new StreamJobFailed(m.JobId, JobErrorKind.Failure, $"the stream coordinator is busy with job {_job.Id}"));
            return;
        }
        StreamJob job;
        try { job = new StreamJob(m.JobId, Sender, m.Settings, _options.UpdatePolicy, _options.Clock); }
        catch (Exception e) when (e is ArgumentException or KafkaException or InvalidOperationException)
        {
            Sender.Tell(new StreamJobFailed(m.JobId, JobErrorKind.Usage, e.Message));
            return;
        }
        _job = job;
        Context.Watch(Sender);
        var self = Self;
        var key = job.Key;
        var settings = m.Settings;
        Task.Run(async () =>
        {
            try
            {
                var checkpoint = await job.Store.LoadAsync(key, CancellationToken.None).ConfigureAwait(false);
                return new Restored(m.JobId, checkpoint, PartitionCount(settings), null);
            }
            catch (Exception e)
            {
                return new Restored(m.JobId, null, -1, e);
            }
        }).PipeTo(self);
    }

    private void OnRestored(Restored r)
    {
        var job = _job;
        if (job is null || job.Id != r.JobId || job.Phase != StreamPhase.Restoring) return;
        if (r.Error is not null)
        {
            // A checkpoint that cannot be read names itself (the file, or the topic and offset) and what is wrong with it.
            job.Client.Tell(new StreamJobFailed(job.Id, JobErrorKind.Failure, r.Error is Checkpoints.CheckpointFormatException
                ? "cannot read the checkpoint " + r.Error.Message
                : $"cannot read the checkpoint ({job.Store.Describe()}): {r.Error.Message}"));
            EndJob();
            return;
        }
        try { job.Restore(r.Checkpoint); }
        catch (Exception e) when (e is ArgumentException or InvalidDataException)
        {
            job.Client.Tell(new StreamJobFailed(job.Id, JobErrorKind.Usage, $"the checkpoint ({job.Store.Describe()}) does not fit this job: {e.Message}"));
            EndJob();
            return;
        }
        if (!MoveTo(job, StreamPhase.Running)) return;
        job.PartitionCount = r.PartitionCount;
        job.State.Start();
        _log.Info("stream job {0} epoch {1} started ({2})", job.Id, job.Epoch, r.Checkpoint is null ? "fresh" : $"restored {job.State.RestoredRows} rows, version {job.Version}");
        job.Client.Tell(new StreamJobStarted(job.Id, job.Epoch, r.Checkpoint is not null, job.State.RestoredRows, job.Version, _workers.Count));
        if (r.Checkpoint is not null)
            Notice($"resumed from checkpoint ({job.Store.Describe()}): {job.State.RestoredRows:N0} rows, {job.Ledger.Partitions.Count} partitions, model version {job.Version}");
        if (job.SuggestedDimension is { } suggested)
            Notice($"d = {job.Settings.Dimension} from the checkpoint (the topic's first records suggested d = {suggested}); records of other widths are rejected");
        foreach (var w in _workers.Refs) w.Tell(new StartConsuming(job.Id, job.Epoch, job.Settings));
        Timers.StartPeriodicTimer(TickKind.Status, Tick.Status, TimeSpan.FromSeconds(job.Settings.Tuning.StatusIntervalSeconds));
        Timers.StartPeriodicTimer(TickKind.Snapshot, Tick.Snapshot, TimeSpan.FromSeconds(Math.Max(0.1, job.Settings.SnapshotIntervalSeconds)));
        Timers.StartPeriodicTimer(TickKind.Idle, Tick.Idle, TimeSpan.FromSeconds(job.Settings.Tuning.IdleCheckSeconds));
        if (job.Theta is not null) Broadcast(new ModelUpdated(job.Id, job.Epoch, job.Version, ThetaData.From(job.Theta)));
        PublishBoard(job.Model());
    }

    private void OnLedgerQuery(LedgerQuery q)
    {
        var job = _job;
        if (job is null || !job.Started || job.Id != q.JobId) return; // unanswered: the worker asks again
        long next = job.State.Position(q.Topic, q.Partition, q.LowWatermark, out var loss);
        if (loss is not null) ReportLoss(loss);
        Sender.Tell(new LedgerPosition(job.Id, job.Epoch, q.Topic, q.Partition, next));
    }

    /// <summary>A worker's status; a new or cleared error (brokers unreachable, dead letters undeliverable) is told to the client once.</summary>
    private void OnWorkerStatus(WorkerStreamStatus s)
    {
        // Only live workers count for idleness and lag: a suspended one's view is stale, a forgotten one's is not ours.
        if (_job?.Id != s.JobId || !_workers.IsLive(Sender)) return;
        string? before = _workerStatus.TryGetValue(s.WorkerId, out var old) ? old.Error : null;
        _workerStatus[s.WorkerId] = s;
        if (s.Error is not null && s.Error != before) Notice($"worker {s.WorkerId}: {s.Error}");
        else if (s.Error is null && before is not null) Notice($"worker {s.WorkerId}: consuming again ({before.Split(';')[0]} is over)");
    }

    private void OnRecordsLost(RecordsLost m)
    {
        var job = _job;
        if (job is null || !job.Started || job.Id != m.JobId) return;
        long next = job.State.RecordLoss(m.Topic, m.Partition, m.LowWatermark, m.Next, out var loss);
        if (loss is not null) ReportLoss(loss);
        Sender.Tell(new LedgerPosition(job.Id, job.Epoch, m.Topic, m.Partition, next));
    }

    /// <summary>A loss the state counted: a metric and an error notice (never silent).</summary>
    private void ReportLoss(LossReport loss)
    {
        MvnMetrics.RecordsLost.Add(loss.Count);
        Notice(loss.Describe(), LogLevel.ErrorLevel);
    }

    private void OnContribution(PartitionContribution c)
    {
        var job = _job;
        // No ack: the worker times out and re-syncs. Once the final solve has started nothing more is merged, so the
        // finished model is the fit of exactly what it reports as counted (the ledger in the final checkpoint agrees).
        if (job is null || !job.Phase.Merging() || job.Id != c.JobId) return;
        SufficientStatistics? stats;
        try { stats = c.Statistics?.ToStatistics(); }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            RefuseMalformed(job, c, e.Message);
            return;
        }
        // The state checks it, then offers it to the ledger, and merges it whole only when the ledger accepts it.
        var result = job.State.Offer(new Contribution(c.Topic, c.Partition, c.From, c.To, c.AcceptedRecords, c.RejectedRecords, stats));
        switch (result.Outcome)
        {
            case MergeOutcome.Malformed:
                RefuseMalformed(job, c, result.Problem!);
                break;
            case MergeOutcome.Accepted:
                if (result.AccountingBroken)
                    _log.Error("contribution {0}/{1} [{2},{3}) counts {4} + {5} records: accounting broken", c.Topic, c.Partition, c.From, c.To, c.AcceptedRecords, c.RejectedRecords);
                else if (result.OffsetsWithoutRecord > 0 && !job.OffsetsWithoutRecordNoticed)
                {
                    // Offsets the consumer passed over with the log start below them: not lost, they hold no data record.
                    job.OffsetsWithoutRecordNoticed = true;
                    Notice($"{c.Topic}/{c.Partition} offsets {c.From}..{c.To - 1} include {result.OffsetsWithoutRecord} that hold no record "
                        + "(transaction markers, aborted transactions or compaction): covered by the ledger, not counted as records, not lost");
                }
                MvnMetrics.RowsAccepted.Add(stats?.Count ?? 0);
                MvnMetrics.RecordsAccepted.Add(c.AcceptedRecords);
                MvnMetrics.RecordsRejected.Add(c.RejectedRecords);
                Sender.Tell(new ContributionAck(job.Id, job.Epoch, c.Topic, c.Partition, c.From, c.To, ContributionOutcome.Accepted, result.Next));
                MaybeUpdate(job);
                if (job.Settings.MaxRows > 0 && job.Statistics.Count >= job.Settings.MaxRows) BeginStop($"reached --max-rows {job.Settings.MaxRows:N0}");
                break;
            case MergeOutcome.Duplicate:
                MvnMetrics.LedgerDuplicates.Add(1);
                Sender.Tell(new ContributionAck(job.Id, job.Epoch, c.Topic, c.Partition, c.From, c.To, ContributionOutcome.Duplicate, result.Next));
                break;
            default:
                MvnMetrics.LedgerRefusals.Add(1);
                Sender.Tell(new ContributionAck(job.Id, job.Epoch, c.Topic, c.Partition, c.From, c.To, ContributionOutcome.Refused, result.Next));
                break;
        }
    }

    /// <summary>A contribution whose statistics do not fit the stream: refused before the ledger saw it, nothing counted.</summary>
    private void RefuseMalformed(StreamJob job, PartitionContribution c, string problem)
    {
        _log.Error("malformed contribution {0}/{1} [{2},{3}) refused: {4}", c.Topic, c.Partition, c.From, c.To, problem);
        Sender.Tell(new ContributionAck(job.Id, job.Epoch, c.Topic, c.Partition, c.From, c.To, ContributionOutcome.Refused, job.Ledger.Next(c.Topic, c.Partition) ?? -1));
    }

    /// <summary>The input topic's partition count (-1 when the topic does not exist yet): idleness needs every partition read to its end.</summary>
    private static int PartitionCount(StreamJobSettings settings)
    {
        try
        {
            var config = new AdminClientConfig { BootstrapServers = settings.Bootstrap };
            KafkaProperties.Apply(config, settings.KafkaProperties);
            using var admin = new AdminClientBuilder(config).WithLogging().Build();
            var timeout = StreamTunables.Time(settings.Tuning.MetadataTimeoutSeconds, StreamTunables.Default.MetadataTimeoutSeconds); // Kafka:MetadataTimeout
            var topic = admin.GetMetadata(settings.Topic, timeout).Topics.FirstOrDefault();
            return topic is not null && topic.Error.Code == ErrorCode.NoError ? topic.Partitions.Count : -1;
        }
        catch (KafkaException)
        {
            return -1;
        }
    }

    private void Broadcast(object message)
    {
        foreach (var w in _workers.Refs) w.Tell(message);
    }

    /// <summary>
    /// To live and suspended workers: unreachability is the failure detector's verdict, not a broken link, so a suspended
    /// worker may well get it; if not, <see cref="CatchUp"/> tells it again when it is reachable.
    /// </summary>
    private void BroadcastToAll(object message)
    {
        foreach (var w in _workers.Refs.Concat(_workers.Suspended)) w.Tell(message);
    }

    /// <summary>Moves the job to <paramref name="to"/>; an invalid transition is a bug: logged as one, and nothing changes.</summary>
    private bool MoveTo(StreamJob job, StreamPhase to)
    {
        if (job.MoveTo(to)) return true;
        _log.Error("BUG: stream job {0} cannot move from {1} to {2}; the transition is ignored", job.Id, job.Phase, to);
        return false;
    }

    private void EndJob()
    {
        var job = _job;
        if (job is null) return;
        MoveTo(job, StreamPhase.Done);
        Context.Unwatch(job.Client);
        Timers.CancelAll();
        // Disposing the Kafka clients waits for what they still hold (the checkpoint store flushes its producer): off the
        // actor thread. Everything the job must deliver has been confirmed before Finish (the final checkpoint, the model
        // file and the model topic's record, or a warning that it was not).
        _ = Task.Run(job.Dispose);
        _job = null;
        _workerStatus.Clear();
        _endedJobs.Enqueue(job.Id);
        if (_endedJobs.Count > 8) _endedJobs.Dequeue();
        PublishBoard();
    }
}
