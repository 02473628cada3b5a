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
    /// <summary>The state of the one stream job this coordinator runs.</summary>
    private sealed class StreamJob : IDisposable
    {
        public StreamJob(string id, IActorRef client, StreamJobSettings settings)
        {
            if (settings.Dimension <= 0) throw new ArgumentException("the stream's dimension d must be known before the job starts");
            if (!(settings.Forgetting > 0 && settings.Forgetting <= 1)) throw new ArgumentException($"forgetting factor {settings.Forgetting} must be in (0, 1]");
            Id = id;
            Client = client;
            Settings = settings;
            Statistics = new SufficientStatistics(settings.Dimension);
            Store = CheckpointStore.Create(settings.Checkpoint, settings.Bootstrap, settings.KafkaProperties);
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

        /// <summary>When a restored checkpoint's d replaced the d the client learned from the topic's first records: that learned d.</summary>
        public int? SuggestedDimension { get; private set; }
        public string Key => $"{Settings.Group}/{Settings.Topic}";
        public CheckpointStore Store { get; }
        public IProducer<string, string>? ModelProducer { get; }
        public OffsetLedger Ledger { get; } = new();
        public SufficientStatistics Statistics { get; private set; }
        public MvnParameters? Theta { get; set; }
        public AdamState? Adam { get; set; }
        public long Epoch { get; private set; } = 1;
        public long Version { get; set; }
        public long AcceptedRecords { get; private set; }
        public long RejectedRecords { get; private set; }
        public long LostRecords { get; set; }
        public long Duplicates { get; set; }
        public long Refused { get; set; }
        public long Changes { get; set; }
        public bool RestoredFromCheckpoint { get; private set; }
        public long RestoredRows { get; private set; }
        public bool Running { get; set; }
        public int PartitionCount { get; set; } = -1;
        public bool PartitionCountAsked { get; set; }
        public bool Stopping { get; set; }
        public bool FinalRunning { get; set; }
        /// <summary>The stop waited its time for confirmations: finish as soon as no update is running, whoever confirmed.</summary>
        public bool StopTimedOut { get; set; }

        /// <summary>Set when the final solve starts: contributions are no longer merged.</summary>
        public bool Finalizing { get; set; }
        public string StopReason { get; set; } = "";
        public bool ClientGone { get; set; }
        public HashSet<string> StoppedWorkers { get; } = [];

        /// <summary>Workers whose intake stopped with an error (they answer a stop at once).</summary>
        public HashSet<string> FailedWorkers { get; } = [];
        public string? LastWorkerFailure { get; set; }

        /// <summary>Set when the job stops because it cannot go on: it then ends as failed (exit 1), after the final checkpoint.</summary>
        public string? Failure { get; set; }
        public Stopwatch Clock { get; } = Stopwatch.StartNew();
        public Stopwatch LastMerge { get; } = Stopwatch.StartNew();
        public bool Dirty { get; set; }
        public bool Updating { get; set; }
        public bool CheckpointInFlight { get; set; }
        public bool FinalCheckpointPending { get; set; }
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

        /// <summary>Merges an accepted contribution whose statistics (<paramref name="s"/>, decoded and checked) it carries.</summary>
        public void Merge(PartitionContribution c, SufficientStatistics? s)
        {
            if (s is not null)
            {
                // Forgetting: every row already counted is down-weighted once per row that arrives after it;
                // the batch's own rows carry their in-batch weights (docs/ARCHITECTURE.md, "The math").
                if (Settings.Forgetting < 1) Statistics.Decay(Math.Pow(Settings.Forgetting, s.Count));
                Statistics.Merge(s);
            }
            AcceptedRecords += c.AcceptedRecords;
            RejectedRecords += c.RejectedRecords;
            Dirty = true;
            Changes++;
            LastMerge.Restart();
        }

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
                Statistics = new SufficientStatistics(cp.Dimension);
            }
            if (cp.Topic != Settings.Topic) throw new ArgumentException($"it covers topic '{cp.Topic}', the job reads '{Settings.Topic}'");
            RestoredFromCheckpoint = true;
            Epoch = cp.Epoch + 1;
            Version = cp.Version;
            if (cp.Statistics is not null) Statistics = cp.Statistics.ToStatistics();
            Theta = cp.Theta?.ToParameters();
            if (Theta is not null && Theta.Parameterization != Settings.Parameterization) Theta = Theta.As(Settings.Parameterization);
            Adam = cp.AdamFirstMoment.Length > 0 ? new AdamState(cp.AdamFirstMoment, cp.AdamSecondMoment, cp.AdamStep, cp.AdamLearningRate) : null;
            Ledger.Restore(cp.Partitions.Select((p, i) => new PartitionCoverage(cp.Topic, p, cp.Starts[i], cp.Nexts[i], cp.Lost[i])));
            AcceptedRecords = cp.AcceptedRecords;
            RejectedRecords = cp.RejectedRecords;
            LostRecords = Ledger.RecordsLost;
            Duplicates = cp.Duplicates;
            Refused = cp.Refused;
            RestoredRows = Statistics.Count;
            LastCheckpointChanges = Changes;
            LastSnapshotVersion = Version;
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

        public StreamCheckpoint ToCheckpoint()
        {
            var parts = Ledger.Partitions.OrderBy(p => p.Partition).ToArray();
            return new StreamCheckpoint(Key, Epoch, Version, Statistics.Dimension, Theta is null ? null : ThetaData.From(Theta),
                Adam?.FirstMoment ?? [], Adam?.SecondMoment ?? [], Adam?.Step ?? 0, Adam?.LearningRate ?? 0,
                StatisticsData.From(Statistics), Settings.Topic, parts.Select(p => p.Partition).ToArray(), parts.Select(p => p.Start).ToArray(),
                parts.Select(p => p.Next).ToArray(), parts.Select(p => p.Lost).ToArray(), AcceptedRecords, RejectedRecords, Duplicates, Refused, DateTime.UtcNow);
        }

        public MvnModel? Model() => Theta is null ? null : new MvnModel
        {
            Theta = Theta,
            N = Statistics.Count,
            Solver = Settings.Solver.ToName(),
            Iterations = LastIterations,
            NllPerRow = NllPerRow,
            Gap = GapPerRow,
            RejectedRows = RejectedRecords,
            StopReason = LastStopReason,
            Offsets = Ledger.Partitions.ToDictionary(p => $"{p.Topic}/{p.Partition}", p => new OffsetRange(p.Start, p.Next)),
            Version = Version,
        };

        public void Dispose()
        {
            ModelProducer?.Flush(TimeSpan.FromSeconds(5));
            ModelProducer?.Dispose();
            Store.Dispose();
        }
    }

    /// <summary>After a merge: warm-started solver steps from the current theta, off the actor thread, one run at a time.</summary>
    private void MaybeUpdate(StreamJob job)
    {
        if (job.Updating || !job.Dirty || job.Stopping || job.Statistics.Count <= job.Statistics.Dimension) return;
        job.Updating = true;
        job.Dirty = false;
        var stats = job.Statistics.Clone();
        var options = job.Settings.ToFitOptions(job.Theta, job.Adam, Math.Max(1, job.Settings.StepsPerUpdate));
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
        job.Updating = false;
        if (m.Result is { } r)
        {
            job.Theta = r.Theta;
            job.Adam = r.AdamState;
            job.NllPerRow = r.NllPerRow;
            job.GapPerRow = r.GapPerRow;
            job.LastStopReason = r.Reason;
            job.LastIterations = r.Iterations;
            _boardGradientNorm = r.GradientNorm;
            job.Version++;
            job.Changes++;
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
            job.FinalRunning = false;
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
        if (job is null || !job.Running) return;
        switch (t.Kind)
        {
            case "status":
                SendStatus(job);
                break;
            case "snapshot":
                PublishSnapshot(job, force: false);
                if (!job.Stopping) StartCheckpoint(job, final: false);
                break;
            case "idle":
                if (job.Stopping || job.Settings.UntilIdleSeconds <= 0) break;
                // Idle means every partition of the topic is owned by a worker that has read it to its end.
                var owned = _workerStatus.Values.SelectMany(s => s.Partitions).Distinct().Count();
                bool atEnd = _workerStatus.Values.All(s => s.AtEnd) && job.PartitionCount > 0 && owned >= job.PartitionCount;
                if (job.PartitionCount <= 0 && !job.PartitionCountAsked && job.LastMerge.Elapsed.TotalSeconds >= job.Settings.UntilIdleSeconds)
                {
                    // The topic may have been created since. A metadata request waits up to 10 s (more with no broker
                    // reachable): off the actor thread, which merges contributions and answers ledger queries.
                    job.PartitionCountAsked = true;
                    var settings = job.Settings;
                    string id = job.Id;
                    Task.Run(() => new PartitionCountLearned(id, PartitionCount(settings))).PipeTo(Self);
                }
                if (job.LastMerge.Elapsed.TotalSeconds >= job.Settings.UntilIdleSeconds && atEnd)
                    BeginStop($"idle for {job.Settings.UntilIdleSeconds:F1} s with every partition read to its end");
                break;
            case "stop-timeout":
                if (job.Stopping && !job.FinalRunning)
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
        if (job.Changes != job.MetricsAtChanges && job.Statistics.Dimension <= 256)
        {
            job.MetricsAtChanges = job.Changes;
            job.RefreshFitMetrics();
        }
        double seconds = job.Clock.Elapsed.TotalSeconds;
        double dt = seconds - job.SecondsAtLastStatus;
        double rate = dt > 0 ? (job.Statistics.Count - job.RowsAtLastStatus) / dt : 0;
        job.RowsAtLastStatus = job.Statistics.Count;
        job.SecondsAtLastStatus = seconds;
        long lag = _workerStatus.Values.Sum(s => s.Lag.Sum());
        // The longest any live worker's partition with lag has gone without a record read (a stall metric).
        double unread = _workerStatus.Values.Select(s => s.UnreadMilliseconds is { Length: > 0 } u ? u.Max() : 0).DefaultIfEmpty(0).Max() / 1000.0;
        var theta = job.Theta is not null && job.Statistics.Dimension <= 64 ? ThetaData.From(job.Theta) : null;
        job.Client.Tell(new StreamJobStatus(job.Id, job.Epoch, job.Version, job.Statistics.Count, job.AcceptedRecords, job.RejectedRecords,
            job.LostRecords, job.Duplicates, job.Refused, job.Ledger.Partitions.Count, _workers.Count, rate, lag, job.NllPerRow, job.GapPerRow,
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
        try
        {
            if (!string.IsNullOrEmpty(job.Settings.ModelFile)) model.Save(job.Settings.ModelFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Notice($"cannot write model file {job.Settings.ModelFile}: {e.Message}");
        }
        try
        {
            job.ModelProducer?.Produce(job.Settings.ModelTopic, new Message<string, string> { Key = job.Key, Value = json },
                r => { if (r.Error.IsError) _log.Warning("model snapshot not delivered: {0}", r.Error.Reason); });
        }
        catch (KafkaException e)
        {
            _log.Warning("model snapshot not produced: {0}", e.Message);
        }
        PublishBoard(model);
    }

    private void StartCheckpoint(StreamJob job, bool final)
    {
        if (job.CheckpointInFlight)
        {
            if (final) job.FinalCheckpointPending = true; // after the one in flight
            return;
        }
        if (!final && job.Changes == job.LastCheckpointChanges) return;
        job.CheckpointInFlight = true;
        _checkpointClock.Restart();
        var cp = job.ToCheckpoint();
        long changes = job.Changes;
        var self = Self;
        string id = job.Id;
        job.Store.SaveAsync(cp, CancellationToken.None).ContinueWith(t =>
            new CheckpointDone(id, changes, t.Exception?.GetBaseException(), final, cp.Partitions, cp.Nexts), TaskScheduler.Default).PipeTo(self);
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
        if (m.Final) Finish(job, m.Error);
    }

    private void BeginStop(string reason)
    {
        var job = _job;
        if (job is null || job.Stopping) return;
        if (!job.Running)
        {
            job.Client.Tell(new StreamJobFailed(job.Id, JobErrorKind.Cancelled, "stopped before the job started: " + reason));
            EndJob();
            return;
        }
        job.Stopping = true;
        job.StopReason = reason;
        Notice($"stopping: {reason}; draining the workers");
        BroadcastToAll(new StopConsuming(job.Id, job.Epoch));
        Timers.StartSingleTimer("stop-timeout", Tick.StopTimeout, TimeSpan.FromSeconds(20));
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
        if (job is null || !job.Stopping || job.FinalRunning) return;
        if (!job.StopTimedOut && _workers.Ids.Any(id => !job.StoppedWorkers.Contains(id))) return;
        Finalize(job);
    }

    /// <summary>The stream is over: run the solver to convergence on the merged statistics (the result depends only on what was counted).</summary>
    private void Finalize(StreamJob job)
    {
        if (job.FinalRunning) return;
        Timers.Cancel("stop-timeout");
        if (job.Updating) return; // OnUpdateDone calls back here
        job.FinalRunning = true;
        job.Finalizing = true;
        if (job.Statistics.Count <= job.Statistics.Dimension)
        {
            job.FinalRunning = false;
            job.LastFitProblem ??= $"only {job.Statistics.Count} rows for d = {job.Statistics.Dimension}";
            StartCheckpoint(job, final: true);
            return;
        }
        var options = job.Settings.ToFitOptions(job.Theta, job.Adam, job.Settings.MaxIterations);
        RunFit(job.Id, job.Statistics.Clone(), options, final: true);
    }

    private void Finish(StreamJob job, Exception? checkpointError)
    {
        var parts = job.Ledger.Partitions.OrderBy(p => p.Partition).ToArray();
        string reason = job.StopReason + (checkpointError is null ? "" : $"; the final checkpoint failed: {checkpointError.Message}")
            + (job.Theta is null && job.LastFitProblem is not null ? $"; no model: {job.LastFitProblem}" : "");
        if (!job.ClientGone && job.Failure is not null)
        {
            string kept = job.Statistics.Count == 0 && job.RejectedRecords == 0 ? "nothing was merged"
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
                job.AcceptedRecords, job.RejectedRecords, job.LostRecords, job.Version, job.FinalIterations, job.NllPerRow, job.GapPerRow, reason,
                parts.Select(p => $"{p.Topic}/{p.Partition}").ToArray(), parts.Select(p => p.Start).ToArray(), parts.Select(p => p.Next).ToArray(),
                job.LastStopReason is { } solved ? StopReasons.ToName(solved) : ""));
        }
        _log.Info("stream job {0} finished: {1} rows, version {2}", job.Id, job.Statistics.Count, job.Version);
        BroadcastToAll(new ReleaseJob(job.Id)); // workers commit the final offsets (sent just before) and leave the group
        EndJob();
    }
}
