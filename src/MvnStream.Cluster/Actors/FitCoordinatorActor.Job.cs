using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using MvnStream.Cluster.Protocol;
using MvnStream.Core;
using MvnStream.Core.Fitting;
using MvnStream.Core.Ingest;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;

namespace MvnStream.Cluster.Actors;

public sealed partial class FitCoordinatorActor
{
    private enum Phase
    {
        WaitingForWorkers,
        Describing,
        Loading,
        Solving,
    }

    private sealed record WaitForWorkersTimeout(string JobId);

    private sealed record NoWorkerTimeout(string JobId);

    private sealed record StartRound(ThetaData Theta, TaskCompletionSource<RoundResult> Completion);

    private sealed record RoundResult(double J, double[] GradMu, double[] GradLambdaPacked);

    private sealed record SolverIteration(string JobId, FitProgress Progress);

    private sealed record SolverFinished(string JobId, FitResult? Result, Exception? Error);

    private sealed class ShardState(int index, long start, long end)
    {
        public int Index { get; } = index;
        public long Start { get; } = start;
        public long End { get; } = end;
        public string EndLabel => End == long.MaxValue ? "end" : End.ToString(System.Globalization.CultureInfo.InvariantCulture);
        public IActorRef? Worker { get; set; }
        public bool Loaded { get; set; }
        public bool Orphaned { get; set; }
        public long Rows { get; set; }
        public long Bytes { get; set; }
        public long Rejected { get; set; }
        public string[] Rejections { get; set; } = [];
        public int Threads { get; set; }
        public SufficientStatistics? Statistics { get; set; }
    }

    private sealed class Job(string id, IActorRef client, SubmitFitJob request)
    {
        public string Id { get; } = id;
        public IActorRef Client { get; } = client;
        public SubmitFitJob Request { get; } = request;
        public FitJobSettings Settings => Request.Settings;
        public ReaderSettings Reader { get; set; } = request.Reader;
        public int MinWorkers => Math.Max(1, Settings.MinWorkers);
        public Phase Phase { get; set; }
        public IActorRef? DescribedBy { get; set; }

        /// <summary>
        /// The file as a worker described it while the job still waited for its other workers (docs/ARCHITECTURE.md,
        /// "Fitting a file"): the shards are planned from it as soon as enough workers have registered.
        /// </summary>
        public FileDescribed? Description { get; set; }
        public List<ShardState> Shards { get; } = [];
        public Stopwatch Clock { get; } = Stopwatch.StartNew();
        public Stopwatch SinceProgress { get; } = Stopwatch.StartNew();
        public double LoadSeconds { get; set; }
        public CancellationTokenSource Cancellation { get; } = new();
        public bool ClientGone { get; set; }
        public int ShardsReassigned { get; set; }
        public int WorkersUsed { get; set; }

        /// <summary>Workers lost while the job ran (removed again when one comes back).</summary>
        public HashSet<IActorRef> WorkersLost { get; } = [];

        public long Rounds { get; set; }
        public ThetaData? RoundTheta { get; set; }
        public GradientPart?[] RoundResults { get; set; } = [];

        /// <summary>Workers whose data connection broke in this round and were sent their shards again.</summary>
        public HashSet<IActorRef> RetriedThisRound { get; } = [];
        public TaskCompletionSource<RoundResult>? RoundCompletion { get; set; }
        public Stopwatch RoundClock { get; } = new();
        public double LastRoundMilliseconds { get; set; }
        public int LastRoundWorkers { get; set; }

        /// <summary>Summing gradients needs workers holding every shard for every round.</summary>
        public bool NeedsWorkersForRounds => Settings.Summing == SummingMode.Gradients;

        public bool NeedsWorker(ShardState s) => NeedsWorkersForRounds || s.Statistics is null;

        public void Cancel() => Cancellation.Cancel();

        public void Notice(IActorRef self, string message) => Client.Tell(new FitJobNotice(Id, message), self);

        public void FailPendingRound() => RoundCompletion?.TrySetCanceled();

        /// <summary>Returns the pooled buffers of the round's answers.</summary>
        public void DisposeRoundResults()
        {
            for (int i = 0; i < RoundResults.Length; i++)
            {
                RoundResults[i]?.Dispose();
                RoundResults[i] = null;
            }
        }
    }

    private void OnSubmit(SubmitFitJob m)
    {
        if (_job is not null)
        {
            Sender.Tell(new FitJobFailed(m.JobId, JobErrorKind.Failure, $"the coordinator is busy with job {_job.Id}; submit again when it has finished"));
            return;
        }
        _job = new Job(m.JobId, Sender, m);
        Context.Watch(Sender);
        _log.Info("job {0}: fit {1} ({2} mode)", m.JobId, m.Path, m.Settings.Summing);
        if (_workers.Count >= _job.MinWorkers) BeginDescribe();
        else
        {
            _job.Phase = Phase.WaitingForWorkers;
            _job.Notice(Self, $"waiting for {_job.MinWorkers} worker(s); {_workers.Count} registered");
            Timers.StartSingleTimer("wait-workers", new WaitForWorkersTimeout(m.JobId), WorkerWait(m.Settings));
            DescribeWhileWaiting();
        }
    }

    /// <summary>
    /// While the job waits for more workers, the first registered one already describes the file (opens it, finds d and
    /// whether it can be split): that round trip and the file's opening overlap the other workers' joining instead of
    /// following it (docs/ARCHITECTURE.md, "Fitting a file"). A bad file fails the job at once, as it would once all were there.
    /// </summary>
    private void DescribeWhileWaiting()
    {
        var job = _job;
        if (job is null || job.Phase != Phase.WaitingForWorkers || job.Description is not null || job.DescribedBy is not null) return;
        var worker = _workers.Refs.OrderBy(w => _workers[w], StringComparer.Ordinal).FirstOrDefault();
        if (worker is null) return;
        job.DescribedBy = worker;
        worker.Tell(new DescribeFile(job.Id, job.Request.Path, job.Reader));
    }

    /// <summary>The worker describing the file is gone before it answered: another one describes it (or the next to register).</summary>
    private void RedescribeWithout(IActorRef worker)
    {
        var job = _job;
        if (job is null || job.Description is not null || !worker.Equals(job.DescribedBy)) return;
        job.DescribedBy = null;
        if (job.Phase == Phase.Describing) BeginDescribe();
        else DescribeWhileWaiting();
    }

    /// <summary>The job's own wait for workers, or this coordinator's configured one.</summary>
    private TimeSpan WorkerWait(FitJobSettings settings) =>
        settings.WorkerWaitSeconds is { } s ? TimeSpan.FromSeconds(Math.Max(0.1, s)) : _workerWait;

    private void OnWaitForWorkersTimeout(WaitForWorkersTimeout t)
    {
        if (_job?.Id != t.JobId || _job.Phase != Phase.WaitingForWorkers) return;
        if (_workers.Count == 0)
        {
            Fail(JobErrorKind.NoWorkers, $"no worker joined the cluster within {WorkerWait(_job.Settings).TotalSeconds:0.#} s: start workers with 'mvnstream node --role worker --seed-node <coordinator address>'");
            return;
        }
        _job.Notice(Self, $"starting with {_workers.Count} worker(s) instead of {_job.MinWorkers}");
        BeginDescribe();
    }

    private void BeginDescribe()
    {
        var job = _job!;
        Timers.Cancel("wait-workers");
        var worker = _workers.Refs.OrderBy(w => _workers[w], StringComparer.Ordinal).FirstOrDefault();
        if (worker is null)
        {
            job.Phase = Phase.WaitingForWorkers;
            Timers.StartSingleTimer("wait-workers", new WaitForWorkersTimeout(job.Id), _noWorkerTimeout);
            return;
        }
        job.Phase = Phase.Describing;
        // Described while the job waited for its workers: plan the shards now. Still being described by a live worker:
        // its answer plans them.
        if (job.Description is { } described)
        {
            Plan(described);
            return;
        }
        if (job.DescribedBy is { } asked && _workers.Refs.Contains(asked)) return;
        job.DescribedBy = worker;
        worker.Tell(new DescribeFile(job.Id, job.Request.Path, job.Reader));
    }

    private void OnDescribed(FileDescribed m)
    {
        var job = _job;
        // Any worker's description of the job's file will do (a late one from a describer since lost included): same file.
        if (job is null || job.Id != m.JobId) return;
        if (job.Phase == Phase.WaitingForWorkers) job.Description = m;
        else if (job.Phase == Phase.Describing) Plan(m);
    }

    /// <summary>Splits the described file into shards, accepts the job and hands the shards out.</summary>
    private void Plan(FileDescribed m)
    {
        var job = _job!;
        job.Reader = job.Reader with { Dimension = m.Dimension };
        var (what, bytes) = FrameBudget.LargestFitMessage(m.Dimension, job.Settings.Parameterization);
        long frame = FrameBudget.MaximumFrameBytes(Context.System);
        if (bytes > frame)
        {
            Fail(JobErrorKind.Usage, $"d = {m.Dimension}: " + FrameBudget.TooLarge(what, bytes, frame, "on the coordinator"));
            return;
        }
        int k = m.Shardable ? Math.Max(1, _workers.Count * Math.Max(1, job.Settings.ShardsPerWorker)) : 1;
        for (int i = 0; i < k; i++)
        {
            long start = m.Length * i / k, end = i == k - 1 ? long.MaxValue : m.Length * (i + 1) / k;
            job.Shards.Add(new ShardState(i, start, end));
        }
        job.WorkersUsed = _workers.Count;
        job.Phase = Phase.Loading;
        job.Clock.Restart();
        job.Client.Tell(new FitJobAccepted(job.Id, _workers.Count, k, m.Length, m.Dimension));
        AssignOrphans();
    }

    private void OnLoadProgress(ShardLoadProgress m)
    {
        var job = _job;
        if (job is null || job.Id != m.JobId || m.ShardIndex >= job.Shards.Count) return;
        var shard = job.Shards[m.ShardIndex];
        if (!Sender.Equals(shard.Worker)) return;
        shard.Rows = m.Rows;
        shard.Bytes = m.Bytes;
        if (job.SinceProgress.ElapsedMilliseconds >= 500) SendLoadProgress(job);
    }

    private void SendLoadProgress(Job job)
    {
        job.SinceProgress.Restart();
        job.Client.Tell(new FitJobLoadProgress(job.Id, job.Shards.Sum(s => s.Rows), job.Shards.Sum(s => s.Bytes),
            job.Shards.Count(s => s.Statistics is not null), job.Shards.Count, job.Clock.Elapsed.TotalSeconds));
    }

    private void OnShardLoaded(ShardLoaded m)
    {
        var job = _job;
        if (job is null || job.Id != m.JobId || m.ShardIndex >= job.Shards.Count) return;
        var shard = job.Shards[m.ShardIndex];
        if (!Sender.Equals(shard.Worker)) return; // a late answer from a worker the shard was taken from
        _dataPorts[Sender] = m.DataPort;
        shard.Loaded = true;
        shard.Rows = m.Rows;
        shard.Bytes = m.Bytes;
        shard.Rejected = m.Rejected;
        shard.Rejections = m.Rejections;
        shard.Threads = m.Threads;
        if (m.Statistics is not null && shard.Statistics is null) shard.Statistics = m.Statistics.ToStatistics();

        if (job.Phase == Phase.Loading)
        {
            if (job.Shards.All(s => s.Statistics is not null && (!job.NeedsWorkersForRounds || s.Loaded))) StartSolving(job);
        }
        else if (job.Phase == Phase.Solving && job.RoundCompletion is { Task.IsCompleted: false } && job.RoundResults[shard.Index] is null)
        {
            SendRound(job, Sender, [shard.Index]);
        }
    }

    private void StartSolving(Job job)
    {
        job.LoadSeconds = job.Clock.Elapsed.TotalSeconds;
        SendLoadProgress(job);
        int d = job.Reader.Dimension;
        var total = new SufficientStatistics(d);
        foreach (var s in job.Shards) total.Merge(s.Statistics!);
        if (total.Count == 0)
        {
            // Bad input, as in the single-process fit (same message, same exit code), not degenerate data.
            Fail(JobErrorKind.BadInput, ShardAccumulator.NoDataRowsMessage(job.Request.Path, job.Shards.Sum(s => s.Rejected)));
            return;
        }
        var options = job.Settings.ToFitOptions();
        EffectiveStatistics eff;
        try { eff = EffectiveStatistics.From(total, options.Regularization); }
        catch (DegenerateDataException e)
        {
            Fail(JobErrorKind.Degenerate, $"cannot fit {job.Request.Path}: {e.Message}");
            return;
        }
        job.Phase = Phase.Solving;
        job.Clock.Restart();
        var self = Self;
        var token = job.Cancellation.Token;
        string id = job.Id;
        IObjectiveSource source = job.NeedsWorkersForRounds ? new RoundObjective(self, d, token) : new StatisticsObjective(total);
        Task.Factory.StartNew(() =>
        {
            try
            {
                var result = MvnFitter.Fit(source, total, eff, options, p => self.Tell(new SolverIteration(id, p)), token);
                return new SolverFinished(id, result, null);
            }
            catch (Exception e)
            {
                return new SolverFinished(id, null, e);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).PipeTo(self);
    }

    private void OnStartRound(StartRound r)
    {
        var job = _job;
        if (job is null || job.Phase != Phase.Solving)
        {
            r.Completion.TrySetCanceled();
            return;
        }
        job.Rounds++;
        job.RoundTheta = r.Theta;
        job.DisposeRoundResults();
        job.RoundResults = new GradientPart?[job.Shards.Count];
        job.RetriedThisRound.Clear();
        job.RoundCompletion = r.Completion;
        job.RoundClock.Restart();
        foreach (var group in job.Shards.Where(s => s.Loaded && s.Worker is not null).GroupBy(s => s.Worker!))
            SendRound(job, group.Key, group.Select(s => s.Index).ToArray());
    }

    private void OnPartialGradient(PartialGradientComputed m)
    {
        var job = _job;
        if (job is null || job.Id != m.JobId) return;
        AcceptPart(job, Sender, m.Round, m.ShardIndex, new GradientPart(m));
    }

    /// <summary>
    /// Keeps a shard's answer if it is for the current round, not yet answered, and from the worker holding the shard (a
    /// stale round's late reply, or one from a worker the shard was taken from, is dropped: false); sums the round when complete.
    /// </summary>
    private bool AcceptPart(Job job, IActorRef worker, long round, int shardIndex, GradientPart part)
    {
        if (round != job.Rounds || job.RoundCompletion is null || job.RoundCompletion.Task.IsCompleted) return false;
        if (shardIndex < 0 || shardIndex >= job.RoundResults.Length || job.RoundResults[shardIndex] is not null) return false;
        if (!worker.Equals(job.Shards[shardIndex].Worker)) return false;
        job.RoundResults[shardIndex] = part;
        if (job.RoundResults.Any(x => x is null)) return true;

        // Sum in shard order: the same number whichever worker computed which shard, over either path.
        var first = job.RoundResults[0]!;
        double j = 0;
        var gMu = new double[first.GradMu.Length];
        var gL = new double[first.GradLambdaPacked.Length];
        foreach (var p in job.RoundResults)
        {
            j += p!.J;
            var pMu = p.GradMu;
            var pL = p.GradLambdaPacked;
            for (int i = 0; i < gMu.Length; i++) gMu[i] += pMu[i];
            for (int i = 0; i < gL.Length; i++) gL[i] += pL[i];
        }
        job.DisposeRoundResults();
        job.LastRoundMilliseconds = job.RoundClock.Elapsed.TotalMilliseconds;
        Core.Diagnostics.MvnMetrics.RoundDuration.Record(job.RoundClock.Elapsed.TotalSeconds);
        job.LastRoundWorkers = job.Shards.Select(s => s.Worker).Where(w => w is not null).Distinct().Count();
        job.RoundCompletion.TrySetResult(new RoundResult(j, gMu, gL));
        return true;
    }

    private void OnSolverIteration(SolverIteration m)
    {
        var job = _job;
        if (job is null || job.Id != m.JobId) return;
        var p = m.Progress;
        int workers = job.NeedsWorkersForRounds ? job.Shards.Select(s => s.Worker).Where(w => w is not null).Distinct().Count() : 0;
        job.Client.Tell(new FitJobRoundProgress(job.Id, job.NeedsWorkersForRounds ? job.Rounds : p.Iteration,
            job.NeedsWorkersForRounds ? job.LastRoundWorkers : 0, workers, p.NllPerRow, p.GapPerRow, p.GradientNorm,
            job.LastRoundMilliseconds, p.Elapsed.TotalSeconds));
    }

    private void OnSolverFinished(SolverFinished m)
    {
        var job = _job;
        if (job is null || job.Id != m.JobId) return;
        if (job.ClientGone) { EndJob(); return; }
        if (m.Error is not null)
        {
            var e = m.Error is AggregateException { InnerException: { } inner } ? inner : m.Error;
            if (e is DegenerateDataException) Fail(JobErrorKind.Degenerate, $"cannot fit {job.Request.Path}: {e.Message}");
            else if (e is OperationCanceledException) Fail(JobErrorKind.Cancelled, "cancelled before the solver took a step");
            else Fail(JobErrorKind.Failure, $"solver failed: {e.Message}");
            return;
        }
        var r = m.Result!;
        var rejections = job.Shards.SelectMany(s => s.Rejections).Take(100).ToArray();
        job.Client.Tell(new FitJobCompleted(job.Id, ThetaData.From(r.Theta), r.Count, job.Shards.Sum(s => s.Rejected), rejections,
            r.Iterations, r.Evaluations, job.Rounds, r.Reason.ToString(), r.Converged, r.NllPerRow, r.GapPerRow, r.GradientNorm,
            r.ShrinkageUsed ?? double.NaN, job.LoadSeconds, r.Elapsed.TotalSeconds, job.WorkersUsed, job.ShardsReassigned,
            job.WorkersLost.Count, job.Shards.Select(s => s.Worker).Where(w => w is not null).Distinct().Count(), job.Shards.Select(s => s.Threads).ToArray()));
        _log.Info("job {0} done: {1} iterations, {2} rounds, gap {3:0.000e+00}", job.Id, r.Iterations, job.Rounds, r.GapPerRow);
        EndJob();
    }

    /// <summary>The data term as a cluster round: the solver thread blocks here, the actor does not.</summary>
    private sealed class RoundObjective(IActorRef coordinator, int dimension, CancellationToken token) : IObjectiveSource
    {
        public int Dimension => dimension;

        public double Evaluate(MvnParameters theta, Span<double> gradMu, Span<double> gradLambda)
        {
            var tcs = new TaskCompletionSource<RoundResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            coordinator.Tell(new StartRound(ThetaData.From(theta), tcs));
            var r = tcs.Task.WaitAsync(token).GetAwaiter().GetResult();
            r.GradMu.CopyTo(gradMu);
            var x = new double[dimension + r.GradLambdaPacked.Length];
            r.GradLambdaPacked.CopyTo(x, dimension);
            MvnParameters.UnpackLambda(x, dimension, theta.Parameterization, gradLambda);
            return r.J;
        }
    }
}
