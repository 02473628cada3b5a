using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Confluent.Kafka;
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

public sealed partial class StreamCoordinatorActor
{
    /// <summary>
    /// The one stream job this coordinator runs: its <see cref="StreamState"/> (statistics, ledger, forgetting, update policy, loss
    /// accounting, checkpoint image: the rules, in MvnStream.Core) and what only the coordinator needs (its client, settings, store,
    /// model producer, lifecycle and reporting figures).
    /// </summary>
    private sealed class StreamJob : IDisposable
    {
        public StreamJob(string id, IActorRef client, StreamJobSettings settings, UpdatePolicy policy, TimeProvider clock)
        {
            State = new StreamState(settings.Dimension, settings.Forgetting, policy, clock);
            Id = id;
            Client = client;
            Settings = settings;
            Store = CheckpointStore.Create(settings.Checkpoint, settings.Bootstrap, settings.KafkaProperties, settings.Tuning);
            if (!string.IsNullOrEmpty(settings.ModelTopic))
            {
                // Snapshots keyed by job, in order and once (idempotent, acks from all in-sync replicas). librdkafka's log and
                // errors go through the logging (docs/ARCHITECTURE.md, "Logging"); a lost snapshot is also reported by its delivery report.
                var config = new ProducerConfig { BootstrapServers = settings.Bootstrap, LingerMs = 5, MessageTimeoutMs = 30000, Acks = Acks.All, EnableIdempotence = true };
                KafkaProperties.Apply(config, settings.KafkaProperties);
                ModelProducer = new ProducerBuilder<string, string>(config).WithLogging().Build();
            }
        }

        public string Id { get; }
        public IActorRef Client { get; set; }
        public StreamJobSettings Settings { get; private set; }

        /// <summary>The stream's state and rules; replaced by a restore that changes d.</summary>
        public StreamState State { get; private set; }

        /// <summary>When a restored checkpoint's d replaced the d the client learned from the topic's first records: that learned d.</summary>
        public int? SuggestedDimension { get; private set; }
        public string Key => $"{Settings.Group}/{Settings.Topic}";
        public CheckpointStore Store { get; }
        public IProducer<string, string>? ModelProducer { get; }
        public OffsetLedger Ledger => State.Ledger;
        public SufficientStatistics Statistics => State.Statistics;
        public MvnParameters? Theta => State.Theta;
        public long Epoch => State.Epoch;
        public long Version => State.Version;

        /// <summary>Where the job is in its lifecycle; changed only through <see cref="MoveTo"/>, which refuses an invalid transition.</summary>
        public StreamPhase Phase { get; private set; } = StreamPhase.Restoring;

        /// <summary>Workers have been told to start: from <see cref="StreamPhase.Running"/> on.</summary>
        public bool Started => Phase.Started();

        /// <summary>A stop began: from <see cref="StreamPhase.Draining"/> on.</summary>
        public bool Stopping => Phase.Stopping();

        /// <summary>The phase now <paramref name="to"/>, when <see cref="StreamPhases.CanMove"/> allows it; false (nothing changed) otherwise.</summary>
        public bool MoveTo(StreamPhase to)
        {
            if (!StreamPhases.CanMove(Phase, to)) return false;
            Phase = to;
            return true;
        }

        public int PartitionCount { get; set; } = -1;
        public bool PartitionCountAsked { get; set; }

        /// <summary>Draining: the stop waited its time for confirmations; finalise as soon as no update is running, whoever confirmed.</summary>
        public bool StopTimedOut { get; set; }
        public string StopReason { get; set; } = "";
        public bool ClientGone { get; set; }
        public HashSet<string> StoppedWorkers { get; } = [];

        /// <summary>Workers whose intake stopped with an error (they answer a stop at once).</summary>
        public HashSet<string> FailedWorkers { get; } = [];
        public string? LastWorkerFailure { get; set; }

        /// <summary>Set when the job stops because it cannot go on: it then ends as failed (exit 1), after the final checkpoint.</summary>
        public string? Failure { get; set; }
        public bool CheckpointInFlight { get; set; }
        public bool FinalCheckpointPending { get; set; }

        /// <summary>Saving: the final checkpoint's outcome once it is written (null: not yet); the job finishes when no model file write is pending either.</summary>
        public FinalSave? FinalCheckpointWritten { get; set; }

        /// <summary>Model file writes, one after the other off the actor thread (each waits for the one before: snapshots land in version order).</summary>
        public Task ModelFileWrites { get; set; } = Task.CompletedTask;
        public int ModelFileWritesPending { get; set; }

        /// <summary>Model snapshot records produced to the model topic and not yet confirmed (or failed) by the broker.</summary>
        public int ModelRecordsPending { get; set; }

        /// <summary>Saving waited <see cref="ModelDeliveryWait"/> (Kafka:ModelFlushTimeout) for the model topic; the job finishes without its confirmation.</summary>
        public bool ModelDeliveryWaitOver { get; set; }
        public bool ModelDeliveryWaitStarted { get; set; }
        public long LastSnapshotVersion { get; set; } = -1;
        public long LastCheckpointChanges { get; set; } = -1;
        public long MetricsAtChanges { get; set; } = -1;
        public bool OffsetsWithoutRecordNoticed { get; set; }
        public double NllPerRow { get; set; } = double.NaN;
        public double GapPerRow { get; set; } = double.NaN;
        public int FinalIterations { get; set; }

        /// <summary>
        /// Why the solve that produced <see cref="Theta"/> stopped (an online update or the final solve); every snapshot carries
        /// it as converged/stopReason. Null until this coordinator has solved (a theta restored from a checkpoint: unknown).
        /// </summary>
        public StopReason? LastStopReason { get; set; }

        /// <summary>Iterations of that solve (the snapshot's "iterations", next to its stopReason).</summary>
        public int LastIterations { get; set; }
        public string? LastFitProblem { get; set; }
        public long RowsAtLastStatus { get; set; }
        public double SecondsAtLastStatus { get; set; }

        public void Restore(StreamCheckpoint? cp)
        {
            if (cp is null) return;
            if (cp.Dimension != Settings.Dimension)
            {
                // d given with --dim must match; d the client only learned from the topic's first records yields to the checkpoint's.
                if (!Settings.KafkaProperties.Contains(TopicProbe.InferredKey + "=true"))
                    throw new ArgumentException($"it has dimension {cp.Dimension}, the stream has {Settings.Dimension}");
                SuggestedDimension = Settings.Dimension;
                Settings = Settings with { Dimension = cp.Dimension };
            }
            if (cp.Topic != Settings.Topic) throw new ArgumentException($"it covers topic '{cp.Topic}', the job reads '{Settings.Topic}'");
            var image = CheckpointImage.ToImage(cp);
            if (image.Theta is { } theta && theta.Parameterization != Settings.Parameterization) image = image with { Theta = theta.As(Settings.Parameterization) };
            State.Restore(image);
            LastCheckpointChanges = State.Changes;
            LastSnapshotVersion = State.Version;
            if (Theta is not null) RefreshFitMetrics();
        }

        /// <summary>J/n of the data and (J - J*)/n of the problem solved, at the current theta.</summary>
        public void RefreshFitMetrics()
        {
            if (Theta is null || Statistics.Count <= Statistics.Dimension) return;
            try
            {
                var eff = EffectiveStatistics.From(Statistics, Settings.ToFitOptions(null, null, 1).Regularization);
                double n = eff.N;
                double jStar = Core.Objective.MvnObjective.OptimalValue(n, eff.Scatter, eff.Dimension);
                NllPerRow = Core.Objective.MvnObjective.Evaluate(Statistics, Theta, default, default) / n;
                GapPerRow = (Core.Objective.MvnObjective.Evaluate(n, eff.Mean, eff.Scatter, Theta, default, default) - jStar) / n;
            }
            catch (DegenerateDataException) { }
        }

        public MvnModel? Model() => Theta is null ? null : new MvnModel
        {
            Theta = Theta,
            N = Statistics.Count,
            Solver = Settings.Solver.ToName(),
            Iterations = LastIterations,
            NllPerRow = NllPerRow,
            Gap = GapPerRow,
            RejectedRows = State.RejectedRecords,
            StopReason = LastStopReason,
            Offsets = Ledger.Partitions.ToDictionary(p => $"{p.Topic}/{p.Partition}", p => new OffsetRange(p.Start, p.Next)),
            Version = Version,
        };

        /// <summary>Closes the job's Kafka clients; may block while they close: not on the actor thread (see EndJob).</summary>
        public void Dispose()
        {
            ModelProducer?.Dispose();
            Store.Dispose();
        }
    }

    /// <summary>When the state's update policy says an update is due: warm-started solver steps from the current theta, off the actor thread, one run at a time.</summary>
    private void MaybeUpdate(StreamJob job)
    {
        if (job.Phase != StreamPhase.Running || !job.State.UpdateDue) return;
        var stats = job.State.BeginUpdate();
        var options = job.Settings.ToFitOptions(job.Theta, job.State.Adam, Math.Max(1, job.Settings.StepsPerUpdate));
        RunFit(job.Id, stats, options, final: false);
    }

    private void RunFit(string id, SufficientStatistics stats, FitOptions options, bool final)
    {
        var self = Self;
        Task.Run(() =>
        {
            try { return new UpdateDone(id, MvnFitter.Fit(stats, options), null, final); }
            catch (Exception e) { return new UpdateDone(id, null, e, final); }
        }).PipeTo(self);
    }

    private void OnUpdateDone(UpdateDone m)
    {
        var job = _job;
        if (job is null || job.Id != m.JobId) return;
        job.State.CompleteUpdate(m.Result?.Theta, m.Result?.AdamState);
        if (m.Result is { } r)
        {
            job.NllPerRow = r.NllPerRow;
            job.GapPerRow = r.GapPerRow;
            job.LastStopReason = r.Reason;
            job.LastIterations = r.Iterations;
            _boardGradientNorm = r.GradientNorm;
            job.LastFitProblem = null;
            if (m.Final) job.FinalIterations = r.Iterations;
            if (!m.Final) Broadcast(new ModelUpdated(job.Id, job.Epoch, job.Version, ThetaData.From(r.Theta)));
        }
        else if (m.Error is DegenerateDataException or ArgumentException)
        {
            if (job.LastFitProblem != m.Error.Message) Notice("no model yet: " + m.Error.Message);
            job.LastFitProblem = m.Error.Message;
        }
        else if (m.Error is not null)
        {
            Notice("model update failed: " + m.Error.Message, LogLevel.ErrorLevel, m.Error);
        }
        if (m.Final)
        {
            if (!MoveTo(job, StreamPhase.Saving)) return;
            PublishSnapshot(job, force: true);
            StartCheckpoint(job, final: true);
            return;
        }
        if (job.Stopping) { MaybeFinishStop(); return; }
        MaybeUpdate(job);
    }

    private void OnTick(Tick t)
    {
        var job = _job;
        if (job is null || !job.Started) return;
        switch (t.Kind)
        {
            case TickKind.Status:
                SendStatus(job);
                break;
            case TickKind.ModelDelivery:
                job.ModelDeliveryWaitOver = true;
                Notice($"the model topic {job.Settings.ModelTopic} has not confirmed the final snapshot within {ModelDeliveryWait(job).TotalSeconds:0} s; "
                    + "the checkpoint" + (string.IsNullOrEmpty(job.Settings.ModelFile) ? "" : " and the model file") + " hold it", LogLevel.WarningLevel);
                MaybeFinish(job);
                break;
            case TickKind.Snapshot:
                PublishSnapshot(job, force: false);
                if (!job.Stopping) StartCheckpoint(job, final: false);
                break;
            case TickKind.Idle:
                MaybeUpdate(job); // an update the policy makes due by time alone (never by default: then every merge starts one)
                if (job.Stopping || job.Settings.UntilIdleSeconds <= 0) break;
                // Idle means every partition of the topic is owned by a worker that has read it to its end.
                var owned = _workerStatus.Values.SelectMany(s => s.Partitions).Distinct().Count();
                bool atEnd = _workerStatus.Values.All(s => s.AtEnd) && job.PartitionCount > 0 && owned >= job.PartitionCount;
                if (job.PartitionCount <= 0 && !job.PartitionCountAsked && job.State.SinceLastMerge.TotalSeconds >= job.Settings.UntilIdleSeconds)
                {
                    // The topic may have been created since. A metadata request waits up to 10 s (more with no broker
                    // reachable): off the actor thread, which merges contributions and answers ledger queries.
                    job.PartitionCountAsked = true;
                    var settings = job.Settings;
                    string id = job.Id;
                    Task.Run(() => new PartitionCountLearned(id, PartitionCount(settings))).PipeTo(Self);
                }
                if (job.State.SinceLastMerge.TotalSeconds >= job.Settings.UntilIdleSeconds && atEnd)
                    BeginStop($"idle for {job.Settings.UntilIdleSeconds:F1} s with every partition read to its end");
                break;
            case TickKind.StopTimeout:
                if (job.Phase == StreamPhase.Draining)
                {
                    job.StopTimedOut = true; // if an update is running, its end finishes the stop (MaybeFinishStop)
                    Notice($"{_workers.Ids.Count(id => !job.StoppedWorkers.Contains(id))} worker(s) did not confirm the stop in time; finishing with what was merged");
                    Finalize(job);
                }
                break;
        }
    }

    private void SendStatus(StreamJob job)
    {
        // J - J* of the current model against the closed form of everything merged so far (not of the statistics
        // the last update saw): what the model would still gain from the rows counted since. O(d^3) on the actor
        // thread, so only when something changed and d is moderate; beyond, the last update's own figures stand.
        if (job.State.Changes != job.MetricsAtChanges && job.Statistics.Dimension <= 256)
        {
            job.MetricsAtChanges = job.State.Changes;
            job.RefreshFitMetrics();
        }
        double seconds = job.State.Elapsed.TotalSeconds;
        double dt = seconds - job.SecondsAtLastStatus;
        double rate = dt > 0 ? (job.Statistics.Count - job.RowsAtLastStatus) / dt : 0;
        job.RowsAtLastStatus = job.Statistics.Count;
        job.SecondsAtLastStatus = seconds;
        long lag = _workerStatus.Values.Sum(s => s.Lag.Sum());
        // The longest any live worker's partition with lag has gone without a record read (a stall metric).
        double unread = _workerStatus.Values.Select(s => s.UnreadMilliseconds is { Length: > 0 } u ? u.Max() : 0).DefaultIfEmpty(0).Max() / 1000.0;
        var theta = job.Theta is not null && job.Statistics.Dimension <= 64 ? ThetaData.From(job.Theta) : null;
        job.Client.Tell(new StreamJobStatus(job.Id, job.Epoch, job.Version, job.Statistics.Count, job.State.AcceptedRecords, job.State.RejectedRecords,
            job.State.LostRecords, job.State.Duplicates, job.State.Refused, job.Ledger.Partitions.Count, _workers.Count, rate, lag, job.NllPerRow, job.GapPerRow,
            job.Statistics.Weight, theta, seconds, unread));
        PublishBoard(rowsPerSecond: rate);
        StreamBoard.AddSample(new BoardSample(seconds, job.Statistics.Count, rate, job.GapPerRow, job.Version));
    }

    /// <summary>Writes the model snapshot (file and model topic) when there is a new version.</summary>
    private void PublishSnapshot(StreamJob job, bool force)
    {
        if (!force && job.Version == job.LastSnapshotVersion) return;
        var model = job.Model();
        if (model is null) return;
        job.LastSnapshotVersion = job.Version;
        var json = model.ToJson(indented: false);
        if (!string.IsNullOrEmpty(job.Settings.ModelFile)) WriteModelFile(job, model);
        if (job.ModelProducer is { } producer)
        {
            var self = Self;
            string id = job.Id;
            try
            {
                producer.Produce(job.Settings.ModelTopic, new Message<string, string> { Key = job.Key, Value = json },
                    r => self.Tell(new ModelRecordDelivered(id, r.Error.IsError ? r.Error.Reason : null)));
                job.ModelRecordsPending++;
            }
            catch (KafkaException e)
            {
                _log.Warning("model snapshot not produced: {0}", e.Message);
            }
        }
        PublishBoard(model);
    }

    /// <summary>
    /// Writes the model file (write, fsync, rename) off the actor thread, after the write before it, so the file always holds the newest
    /// snapshot; <see cref="ModelFileWritten"/> reports back, and the job finishes only when every write it started has reported.
    /// </summary>
    private void WriteModelFile(StreamJob job, MvnModel model)
    {
        string path = job.Settings.ModelFile, id = job.Id;
        var self = Self;
        job.ModelFileWritesPending++;
        job.ModelFileWrites = job.ModelFileWrites.ContinueWith(_ =>
        {
            Exception? error = null;
            try { model.Save(path); }
            catch (Exception e) { error = e; }
            self.Tell(new ModelFileWritten(id, path, error));
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private void OnModelFileWritten(ModelFileWritten m)
    {
        var job = _job;
        if (job is null || job.Id != m.JobId)
        {
            if (m.Error is not null) _log.Warning("cannot write model file {0} of ended job {1}: {2}", m.Path, m.JobId, m.Error.Message);
            return;
        }
        job.ModelFileWritesPending--;
        if (m.Error is IOException or UnauthorizedAccessException) Notice($"cannot write model file {m.Path}: {m.Error.Message}");
        else if (m.Error is not null) throw new IOException($"writing model file {m.Path} failed: {m.Error.Message}", m.Error); // ends the job (AroundReceive)
        MaybeFinish(job);
    }

    private void StartCheckpoint(StreamJob job, bool final)
    {
        if (job.CheckpointInFlight)
        {
            if (final) job.FinalCheckpointPending = true; // after the one in flight
            return;
        }
        if (!final && job.State.Changes == job.LastCheckpointChanges) return;
        job.CheckpointInFlight = true;
        _checkpointClock.Restart();
        // The image is taken here, in order with the merges; encoding and writing it (fsync or broker acks) run off the actor thread.
        // One checkpoint is in flight at a time, so they are stored in the order they were taken.
        var image = job.State.ToImage();
        var store = job.Store;
        var self = Self;
        string id = job.Id, key = job.Key, topic = job.Settings.Topic;
        int[] partitions = image.Partitions.Select(p => p.Partition).ToArray();
        long[] nexts = image.Partitions.Select(p => p.Next).ToArray();
        Task.Run(() => store.SaveAsync(CheckpointImage.ToCheckpoint(image, key, topic), CancellationToken.None)).ContinueWith(t =>
            new CheckpointDone(id, image.Changes, t.Exception?.GetBaseException(), final, partitions, nexts), TaskScheduler.Default).PipeTo(self);
    }

    private void OnCheckpointDone(CheckpointDone m)
    {
        var job = _job;
        if (job is null || job.Id != m.JobId) return;
        job.CheckpointInFlight = false;
        if (m.Error is null)
        {
            job.LastCheckpointChanges = m.Changes;
            MvnMetrics.CheckpointDuration.Record(_checkpointClock.Elapsed.TotalSeconds);
            _boardCheckpointSeconds = _checkpointClock.Elapsed.TotalSeconds;
            _boardCheckpointUtc = DateTime.UtcNow;
            PublishBoard();
        }
        if (m.Error is not null)
        {
            Notice($"checkpoint to {job.Store.Describe()} failed: {m.Error.Message}", LogLevel.ErrorLevel, m.Error);
        }
        else if (m.Partitions.Length > 0)
        {
            // Offsets go to the consumer group only after the checkpoint holds them (lag monitoring only).
            Broadcast(new CommitOffsets(job.Id, job.Epoch, job.Settings.Topic, m.Partitions, m.Offsets));
        }
        if (job.FinalCheckpointPending)
        {
            job.FinalCheckpointPending = false;
            StartCheckpoint(job, final: true);
            return;
        }
        if (m.Final)
        {
            job.FinalCheckpointWritten = new FinalSave(m.Error);
            MaybeFinish(job);
        }
    }

    /// <summary>
    /// Saving is over once the final checkpoint is written, no model file write is pending and the model topic has
    /// confirmed the snapshot records (or <see cref="ModelDeliveryWait"/> has passed): the job finishes.
    /// </summary>
    private void MaybeFinish(StreamJob job)
    {
        if (job.Phase != StreamPhase.Saving || job.FinalCheckpointWritten is not { } saved || job.ModelFileWritesPending != 0) return;
        if (job.ModelRecordsPending > 0 && !job.ModelDeliveryWaitOver)
        {
            if (!job.ModelDeliveryWaitStarted) Timers.StartSingleTimer(TickKind.ModelDelivery, Tick.ModelDelivery, ModelDeliveryWait(job));
            job.ModelDeliveryWaitStarted = true;
            return;
        }
        Timers.Cancel(TickKind.ModelDelivery);
        Finish(job, saved.Error);
    }

    private void OnModelRecordDelivered(ModelRecordDelivered m)
    {
        var job = _job;
        if (job is null || job.Id != m.JobId)
        {
            if (m.Error is not null) _log.Warning("model snapshot of ended job {0} not delivered: {1}", m.JobId, m.Error);
            return;
        }
        job.ModelRecordsPending--;
        if (m.Error is not null) _log.Warning("model snapshot not delivered to {0}: {1}", job.Settings.ModelTopic, m.Error);
        MaybeFinish(job);
    }

    private void BeginStop(string reason)
    {
        var job = _job;
        if (job is null || job.Stopping) return;
        if (!job.Started)
        {
            job.Client.Tell(new StreamJobFailed(job.Id, JobErrorKind.Cancelled, "stopped before the job started: " + reason));
            EndJob();
            return;
        }
        if (!MoveTo(job, StreamPhase.Draining)) return;
        job.StopReason = reason;
        Notice($"stopping: {reason}; draining the workers");
        BroadcastToAll(new StopConsuming(job.Id, job.Epoch));
        Timers.StartSingleTimer(TickKind.StopTimeout, Tick.StopTimeout, TimeSpan.FromSeconds(job.Settings.Tuning.StopTimeoutSeconds));
        MaybeFinishStop();
    }

    private void OnConsumingStopped(ConsumingStopped m)
    {
        var job = _job;
        if (job is null || job.Id != m.JobId) return;
        if (!job.Stopping)
        {
            // Unasked: the worker's intake failed (its error came just before). Kafka gives its partitions to the
            // other consumers; when no worker consumes any more, the job ends with that error instead of idling for ever.
            job.FailedWorkers.Add(m.WorkerId);
            string why = _workerStatus.TryGetValue(m.WorkerId, out var st) && st.Error is not null ? st.Error : "its Kafka consumer failed";
            job.LastWorkerFailure = why;
            if (NoWorkerCanConsume(job))
            {
                job.Failure = $"no worker can consume any more: {why}";
                BeginStop(job.Failure);
            }
            return;
        }
        job.StoppedWorkers.Add(m.WorkerId);
        MaybeFinishStop();
    }

    private void MaybeFinishStop()
    {
        var job = _job;
        if (job is null || job.Phase != StreamPhase.Draining) return;
        if (!job.StopTimedOut && _workers.Ids.Any(id => !job.StoppedWorkers.Contains(id))) return;
        Finalize(job);
    }

    /// <summary>The stream is over: run the solver to convergence on the merged statistics (the result depends only on what was counted).</summary>
    private void Finalize(StreamJob job)
    {
        if (job.Phase != StreamPhase.Draining) return;
        Timers.Cancel(TickKind.StopTimeout);
        if (job.State.Updating) return; // OnUpdateDone calls back here
        if (!MoveTo(job, StreamPhase.Finalising)) return;
        if (job.Statistics.Count <= job.Statistics.Dimension)
        {
            job.LastFitProblem ??= $"only {job.Statistics.Count} rows for d = {job.Statistics.Dimension}";
            if (!MoveTo(job, StreamPhase.Saving)) return;
            StartCheckpoint(job, final: true);
            return;
        }
        var options = job.Settings.ToFitOptions(job.Theta, job.State.Adam, job.Settings.MaxIterations);
        RunFit(job.Id, job.Statistics.Clone(), options, final: true);
    }

    private void Finish(StreamJob job, Exception? checkpointError)
    {
        var parts = job.Ledger.Partitions.OrderBy(p => p.Partition).ToArray();
        string reason = job.StopReason + (checkpointError is null ? "" : $"; the final checkpoint failed: {checkpointError.Message}")
            + (job.Theta is null && job.LastFitProblem is not null ? $"; no model: {job.LastFitProblem}" : "");
        if (!job.ClientGone && job.Failure is not null)
        {
            string kept = job.Statistics.Count == 0 && job.State.RejectedRecords == 0 ? "nothing was merged"
                : $"{job.Statistics.Count:N0} rows were merged (model version {job.Version}); "
                    + (checkpointError is not null ? $"the final checkpoint failed too: {checkpointError.Message}"
                        : job.Store is NoCheckpointStore ? "there is no checkpoint (--checkpoint none)"
                        : $"the final checkpoint ({job.Store.Describe()}) holds them")
                    + (job.Theta is null || string.IsNullOrEmpty(job.Settings.ModelFile) ? "" : $"; the model file {job.Settings.ModelFile} has the model so far");
            job.Client.Tell(new StreamJobFailed(job.Id, JobErrorKind.Failure, $"{job.Failure}. {kept}"));
        }
        else if (!job.ClientGone)
        {
            job.Client.Tell(new StreamJobFinished(job.Id, job.Theta is null ? null : ThetaData.From(job.Theta), job.Statistics.Count, job.Statistics.Weight,
                job.State.AcceptedRecords, job.State.RejectedRecords, job.State.LostRecords, job.Version, job.FinalIterations, job.NllPerRow, job.GapPerRow, reason,
                parts.Select(p => $"{p.Topic}/{p.Partition}").ToArray(), parts.Select(p => p.Start).ToArray(), parts.Select(p => p.Next).ToArray(),
                job.LastStopReason is { } solved ? StopReasons.ToName(solved) : ""));
        }
        _log.Info("stream job {0} finished: {1} rows, version {2}", job.Id, job.Statistics.Count, job.Version);
        BroadcastToAll(new ReleaseJob(job.Id)); // workers commit the final offsets (sent just before) and leave the group
        EndJob();
    }
}
