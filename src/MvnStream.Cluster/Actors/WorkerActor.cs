using System.Buffers;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using MvnStream.Cluster.Protocol;
using MvnStream.Core;
using MvnStream.Core.Formats;
using MvnStream.Core.Ingest;
using MvnStream.Core.Objective;
using MvnStream.Core.Statistics;

namespace MvnStream.Cluster.Actors;

/// <summary>
/// Holds data shards for fit jobs: reads a byte range of a file once into sufficient statistics, then
/// answers rounds from those statistics (no second pass over the rows): J and its gradients at the
/// round's theta, per shard. Registers with the coordinator singleton through its proxy and again after
/// a handover (<see cref="RegisteredWorkerActor"/>). Reading runs off the actor thread; the actor only routes and holds state.
/// A shard is read on <c>mvnstream.worker.threads</c> threads (a job may ask for another number), one shard at a time, so
/// that a worker holding several shards never runs more readers than its threads (docs/ARCHITECTURE.md, "Fitting a file").
/// </summary>
public sealed partial class WorkerActor : RegisteredWorkerActor
{
    private sealed record ShardRead(LoadShard Request, IActorRef ReplyTo, IngestResult? Result, Exception? Error, double Seconds, int Threads);

    private sealed record ShardKey(string JobId, int ShardIndex);

    /// <summary>The worker actor's name on a worker node (<c>/user/worker</c>): a coordinator announces itself there.</summary>
    public const string Name = "worker";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _workerId;
    private readonly Dictionary<ShardKey, SufficientStatistics> _shards = [];
    private readonly Dictionary<string, CancellationTokenSource> _jobs = [];
    private readonly Dictionary<ShardKey, List<(ComputePartialGradient Round, IActorRef ReplyTo)>> _waitingRounds = [];
    private readonly long _maximumFrameBytes = FrameBudget.MaximumFrameBytes(Context.System);
    private readonly int _threads;
    private readonly long _chunkBytes;
    private readonly SemaphoreSlim _reading = new(1, 1);

    /// <param name="threads">Threads a shard is read with unless the job says (mvnstream.worker.threads; 0 or less: every core).</param>
    /// <param name="chunkBytes">Bytes a reading thread takes at a time (mvnstream.worker.read-chunk; 0 or less: the default).</param>
    /// <param name="dataPort">The data plane's TCP port (Node:DataPort; 0: any free port; -1: no data plane, rounds over Akka only).</param>
    public WorkerActor(IActorRef coordinatorProxy, string workerId, int threads = 0, long chunkBytes = 0, int dataPort = 0)
        : base(coordinatorProxy, new RegisterWorker(workerId, Threads(threads)))
    {
        _chunkBytes = chunkBytes > 0 ? chunkBytes : ShardAccumulator.RangeChunkBytes;
        _workerId = workerId;
        _threads = Threads(threads);

        Receive<DescribeFile>(Describe);
        Receive<LoadShard>(Load);
        Receive<ShardRead>(OnShardRead);
        Receive<ComputePartialGradient>(Compute);
        Receive<ReleaseJob>(r => Release(r.JobId));
        Receive<DataRound>(ComputeOverDataPlane);
        StartDataPlane(dataPort);
    }

    public static Props Props(IActorRef coordinatorProxy, string workerId, int threads = 0, long chunkBytes = 0, int dataPort = 0) =>
        Akka.Actor.Props.Create(() => new WorkerActor(coordinatorProxy, workerId, threads, chunkBytes, dataPort));

    private static int Threads(int threads) => threads > 0 ? threads : Environment.ProcessorCount;

    protected override void OnCoordinatorRegistered(IActorRef coordinator) =>
        _log.Info("worker {0} registered with coordinator {1}", _workerId, coordinator.Path);

    protected override void OnCoordinatorLost(IActorRef coordinator) =>
        _log.Info("coordinator {0} gone; registering again", coordinator.Path);

    protected override void PostStop()
    {
        foreach (var cts in _jobs.Values) cts.Cancel();
        _dataServer?.Dispose();
    }

    /// <summary>
    /// Whatever throws while a job's message is handled on the actor thread (a round it cannot compute, a result it
    /// cannot serialise) goes back to the asker as a failure of that job. Left to the supervisor, the actor would
    /// restart, drop every shard it holds and answer nothing, and the job would wait forever.
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (Exception e) when (JobFailure(message, e) is { } failure)
        {
            _log.Error(e, "worker {0}: job {1} failed handling {2}", _workerId, failure.Job, message.GetType().Name);
            failure.ReplyTo.Tell(failure.Message, Self);
            return true;
        }
    }

    /// <summary>Whom to tell, and what, when handling <paramref name="message"/> of a job threw.</summary>
    private (string Job, IActorRef ReplyTo, IMvnMessage Message)? JobFailure(object message, Exception e)
    {
        string why = $"{e.GetType().Name}: {e.Message}";
        return message switch
        {
            DescribeFile m => (m.JobId, Sender, new FileDescribeFailed(m.JobId, JobErrorKind.Failure, $"worker {_workerId}: describing '{m.Path}' failed ({why})")),
            LoadShard m => (m.JobId, Sender, Failed(m.JobId, m.ShardIndex, "loading", why)),
            ShardRead r => (r.Request.JobId, r.ReplyTo, Failed(r.Request.JobId, r.Request.ShardIndex, "loading", why)),
            ComputePartialGradient m => (m.JobId, Sender, Failed(m.JobId, m.ShardIndices.FirstOrDefault(), $"computing round {m.Round} of", why)),
            _ => null,
        };

        ShardLoadFailed Failed(string jobId, int shard, string what, string detail) =>
            new(jobId, shard, JobErrorKind.Failure, $"worker {_workerId}: {what} shard {shard} failed ({detail})");
    }

    private CancellationToken JobToken(string jobId)
    {
        if (!_jobs.TryGetValue(jobId, out var cts)) _jobs[jobId] = cts = new CancellationTokenSource();
        return cts.Token;
    }

    private void Describe(DescribeFile m)
    {
        var replyTo = Sender;
        Task.Run(() =>
        {
            try
            {
                if (!File.Exists(m.Path))
                    return (object)new FileDescribeFailed(m.JobId, JobErrorKind.Usage,
                        $"worker {_workerId}: data file '{m.Path}' {(Directory.Exists(m.Path) ? "is a directory, not a file," : "does not exist")} on this node");
                var options = m.Reader.ToOptions();
                int d = ShardAccumulator.ProbeDimension(m.Path, options);
                bool shardable = ShardAccumulator.CanShard(m.Path, options with { Dimension = d });
                return new FileDescribed(m.JobId, new FileInfo(m.Path).Length, d, shardable);
            }
            catch (BadRowException e) { return new FileDescribeFailed(m.JobId, JobErrorKind.BadInput, e.Message); }
            // No valid data row to learn d from: the message names the file, as the single-process fit prints it.
            catch (InvalidDataException e) { return new FileDescribeFailed(m.JobId, JobErrorKind.BadInput, e.Message); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException
                                          or InvalidOperationException)
            {
                return new FileDescribeFailed(m.JobId, JobErrorKind.BadInput, $"worker {_workerId}: cannot read '{m.Path}': {e.Message}");
            }
            catch (Exception e)
            {
                // Never a Status.Failure: the coordinator would not know which job it ends.
                return new FileDescribeFailed(m.JobId, JobErrorKind.Failure, $"worker {_workerId}: describing '{m.Path}' failed ({e.GetType().Name}: {e.Message})");
            }
        }).PipeTo(replyTo);
    }

    private void Load(LoadShard m)
    {
        var replyTo = Sender;
        var self = Self;
        var token = JobToken(m.JobId);
        var shard = new FileShard(m.Path, m.Start, m.End, m.ShardIndex);
        int threads = m.Threads > 0 ? m.Threads : _threads;
        long chunkBytes = _chunkBytes;
        var reading = _reading;
        var log = _log;
        string workerId = _workerId;
        Task.Run(async () =>
        {
            var sw = Stopwatch.StartNew();
            long rows = 0, bytes = 0, lastReport = 0;
            object gate = new();
            bool entered = false;
            try
            {
                // One shard at a time, each on all the threads: never more readers than threads.
                await reading.WaitAsync(token).ConfigureAwait(false);
                entered = true;
                sw.Restart();
                if (log.IsInfoEnabled)
                    log.Info(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"worker {workerId}: reading shard {m.ShardIndex} of job {m.JobId} ({m.Start}..{(m.End == long.MaxValue ? "end" : m.End.ToString(System.Globalization.CultureInfo.InvariantCulture))}) on {threads} threads"));
                // The read's threads are its own (ShardAccumulator), and so is the one waiting for them: a read on every
                // core leaves the thread pool to the node's actors, its heartbeats among them (docs/ARCHITECTURE.md, "Fitting a file").
                var result = await Task.Factory.StartNew(() => ShardAccumulator.AccumulateRange(shard, m.Reader.ToOptions(), threads, (r, _, b) =>
                {
                    long totalRows = Interlocked.Add(ref rows, r), totalBytes = Interlocked.Add(ref bytes, b);
                    long now = sw.ElapsedMilliseconds;
                    if (now - Interlocked.Read(ref lastReport) < 500) return;
                    lock (gate)
                    {
                        if (now - lastReport < 500) return;
                        lastReport = now;
                        replyTo.Tell(new ShardLoadProgress(m.JobId, m.ShardIndex, totalRows, totalBytes));
                    }
                }, token, chunkBytes), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
                return new ShardRead(m, replyTo, result, null, sw.Elapsed.TotalSeconds, threads);
            }
            catch (Exception e)
            {
                return new ShardRead(m, replyTo, null, e, sw.Elapsed.TotalSeconds, threads);
            }
            finally
            {
                if (entered) reading.Release();
            }
        }).PipeTo(self);
    }

    private void OnShardRead(ShardRead r)
    {
        var m = r.Request;
        if (!_jobs.ContainsKey(m.JobId)) return; // released while reading
        if (r.Error is not null)
        {
            if (r.Error is OperationCanceledException) return;
            var kind = r.Error is BadRowException or InvalidDataException ? JobErrorKind.BadInput : JobErrorKind.Failure;
            var message = r.Error is BadRowException ? r.Error.Message : $"worker {_workerId}, shard {m.ShardIndex}: {r.Error.Message}";
            r.ReplyTo.Tell(new ShardLoadFailed(m.JobId, m.ShardIndex, kind, message));
            return;
        }
        var result = r.Result!;
        var key = new ShardKey(m.JobId, m.ShardIndex);
        var loaded = new ShardLoaded(m.JobId, m.ShardIndex, result.Statistics.Count, result.RowsRejected,
            result.Rejections.Select(x => x.ToString()).ToArray(), result.Bytes, r.Seconds,
            m.ReturnStatistics ? StatisticsData.From(result.Statistics) : null, r.Threads, DataPort);
        // Once per shard: the exact size, so remoting does not drop it (and the job wait forever) on this node's frame limit.
        long bytes = Context.System.Serialization.FindSerializerFor(loaded).ToBinary(loaded).Length + FrameBudget.EnvelopeBytes;
        if (bytes > _maximumFrameBytes)
        {
            r.ReplyTo.Tell(new ShardLoadFailed(m.JobId, m.ShardIndex, JobErrorKind.Usage, $"worker {_workerId}, d = {result.Statistics.Dimension}: "
                + FrameBudget.TooLarge($"the result of shard {m.ShardIndex}", bytes, _maximumFrameBytes, "on this worker")));
            return;
        }
        _shards[key] = result.Statistics;
        r.ReplyTo.Tell(loaded);
        if (_waitingRounds.Remove(key, out var waiting))
            foreach (var (round, replyTo) in waiting) Answer(round, m.ShardIndex, result.Statistics, replyTo);
    }

    private void Compute(ComputePartialGradient m)
    {
        foreach (var index in m.ShardIndices)
        {
            var key = new ShardKey(m.JobId, index);
            if (_shards.TryGetValue(key, out var stats)) Answer(m, index, stats, Sender);
            else
            {
                if (!_waitingRounds.TryGetValue(key, out var list)) _waitingRounds[key] = list = [];
                list.Add((m, Sender));
            }
        }
    }

    private void Answer(ComputePartialGradient m, int shardIndex, SufficientStatistics stats, IActorRef replyTo)
    {
        long bytes = FrameBudget.ThetaBytes(m.Theta.Dimension, m.Theta.Parameterization);
        if (bytes > _maximumFrameBytes)
        {
            replyTo.Tell(new ShardLoadFailed(m.JobId, shardIndex, JobErrorKind.Usage, $"worker {_workerId}, d = {m.Theta.Dimension}: "
                + FrameBudget.TooLarge($"the partial gradient of shard {shardIndex}", bytes, _maximumFrameBytes, "on this worker")));
            return;
        }
        var sw = Stopwatch.StartNew();
        var theta = m.Theta.ToParameters();
        int d = theta.Dimension;
        // The packing is scratch (1 MiB at d = 512, every round): pooled; only the arrays that go into the message are allocated.
        int packedLength = MvnStream.Core.Model.MvnParameters.PackedLength(d, theta.Parameterization);
        double[] packed = ArrayPool<double>.Shared.Rent(packedLength);
        double j;
        double[] gMu, gLambdaPacked;
        try
        {
            j = Evaluate(stats, theta, packed.AsSpan(0, packedLength));
            gMu = packed.AsSpan(0, d).ToArray();
            gLambdaPacked = packed.AsSpan(d, packedLength - d).ToArray();
        }
        finally
        {
            ArrayPool<double>.Shared.Return(packed);
        }
        var computed = sw.Elapsed;
        Core.Diagnostics.MvnMetrics.WorkerRoundCompute.Record(computed.TotalSeconds);
        replyTo.Tell(new PartialGradientComputed(m.JobId, m.Round, shardIndex, j, gMu, gLambdaPacked, computed.TotalMilliseconds));
    }

    private void Release(string jobId)
    {
        if (_jobs.Remove(jobId, out var cts)) cts.Cancel();
        foreach (var key in _shards.Keys.Where(k => k.JobId == jobId).ToList()) _shards.Remove(key);
        foreach (var key in _waitingRounds.Keys.Where(k => k.JobId == jobId).ToList()) _waitingRounds.Remove(key);
    }
}
