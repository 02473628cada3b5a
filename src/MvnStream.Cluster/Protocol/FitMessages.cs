namespace MvnStream.Cluster.Protocol;

// Each record below is its own wire message: [Field(n)] is a parameter's protobuf field number (MvnStreamSerializer).
// Add a field with a new number; never renumber or reuse one.

// Client <-> coordinator: one fit job over a file that every worker can read at Path.

/// <summary>Client asks the coordinator singleton to fit the file at <paramref name="Path"/> (as the workers see it).</summary>
public sealed record SubmitFitJob([Field(1)] string JobId, [Field(2)] string Path, [Field(3)] ReaderSettings Reader, [Field(4)] FitJobSettings Settings) : IMvnMessage;

/// <summary>The job started: which workers and how many shards.</summary>
public sealed record FitJobAccepted([Field(1)] string JobId, [Field(2)] int Workers, [Field(3)] int Shards, [Field(4)] long FileBytes, [Field(5)] int Dimension) : IMvnMessage;

/// <summary>Client asks to stop the job (Ctrl-C): the coordinator returns the best model so far.</summary>
public sealed record CancelFitJob([Field(1)] string JobId) : IMvnMessage;

/// <summary>Loading progress summed over shards.</summary>
public sealed record FitJobLoadProgress([Field(1)] string JobId, [Field(2)] long Rows, [Field(3)] long Bytes, [Field(4)] int ShardsLoaded, [Field(5)] int Shards, [Field(6)] double Seconds) : IMvnMessage;

/// <summary>One solver round: workers answered, J per row, J - J* per row, gradient norm and round latency.</summary>
public sealed record FitJobRoundProgress([Field(1)] string JobId, [Field(2)] long Round, [Field(3)] int WorkersAnswered, [Field(4)] int Workers, [Field(5)] double NllPerRow, [Field(6)] double GapPerRow,
    [Field(7)] double GradientNorm, [Field(8)] double RoundMilliseconds, [Field(9)] double Seconds) : IMvnMessage;

/// <summary>Something the user should know (a worker lost, a shard reassigned).</summary>
public sealed record FitJobNotice([Field(1)] string JobId, [Field(2)] string Message) : IMvnMessage;

/// <summary>
/// The fitted model and how it was reached. <paramref name="WorkersUsed"/>: workers the job started with;
/// <paramref name="WorkersLost"/>: workers lost (unreachable or gone) while the job ran and not back by its end;
/// <paramref name="WorkersAtEnd"/>: workers holding the job's shards at the end; <paramref name="ShardReadThreads"/>: per shard,
/// the threads its last reading took.
/// </summary>
public sealed record FitJobCompleted(
    [Field(1)] string JobId,
    [Field(2)] ThetaData Theta,
    [Field(3)] long N,
    [Field(4)] long RejectedRows,
    [Field(5)] string[] Rejections,
    [Field(6)] int Iterations,
    [Field(7)] int Evaluations,
    [Field(8)] long Rounds,
    [Field(9)] string StopReason,
    [Field(10)] bool Converged,
    [Field(11)] double NllPerRow,
    [Field(12)] double GapPerRow,
    [Field(13)] double GradientNorm,
    [Field(14)] double Shrinkage,
    [Field(15)] double LoadSeconds,
    [Field(16)] double SolveSeconds,
    [Field(17)] int WorkersUsed,
    [Field(18)] int ShardsReassigned,
    [Field(19)] int WorkersLost,
    [Field(20)] int WorkersAtEnd,
    [Field(21)] int[]? ShardReadThreads = null) : IMvnMessage;

/// <summary>The job failed; <paramref name="Kind"/> picks the client's exit code.</summary>
public sealed record FitJobFailed([Field(1)] string JobId, [Field(2)] JobErrorKind Kind, [Field(3)] string Message) : IMvnMessage;

// Worker <-> coordinator.

/// <summary>A worker announces itself to the coordinator singleton (repeated until acknowledged, and after a handover).</summary>
public sealed record RegisterWorker([Field(1)] string WorkerId, [Field(2)] int Threads = 0) : IMvnMessage;

/// <summary>The coordinator watches the worker from now on.</summary>
public sealed record WorkerRegistered([Field(1)] string CoordinatorId) : IMvnMessage;

/// <summary>
/// A coordinator that has just started, or has just seen a worker node join, tells that node's worker it is there: the
/// worker registers with it at once, without waiting for its proxy to find the singleton (docs/ARCHITECTURE.md, "Fitting a file").
/// </summary>
public sealed record CoordinatorAvailable([Field(1)] string CoordinatorId) : IMvnMessage;

/// <summary>Ask a worker to look at the file: its length, d (first row) and whether it can be split into byte ranges.</summary>
public sealed record DescribeFile([Field(1)] string JobId, [Field(2)] string Path, [Field(3)] ReaderSettings Reader) : IMvnMessage;

public sealed record FileDescribed([Field(1)] string JobId, [Field(2)] long Length, [Field(3)] int Dimension, [Field(4)] bool Shardable) : IMvnMessage;

public sealed record FileDescribeFailed([Field(1)] string JobId, [Field(2)] JobErrorKind Kind, [Field(3)] string Message) : IMvnMessage;

/// <summary>
/// Read byte range [Start, End) of Path and keep its statistics for the job; return them when asked. <paramref name="Threads"/>:
/// reading threads; 0: the worker's own mvnstream.worker.threads.
/// </summary>
public sealed record LoadShard([Field(1)] string JobId, [Field(2)] int ShardIndex, [Field(3)] string Path, [Field(4)] long Start, [Field(5)] long End, [Field(6)] ReaderSettings Reader, [Field(7)] bool ReturnStatistics,
    [Field(8)] int Threads = 0) : IMvnMessage;

public sealed record ShardLoadProgress([Field(1)] string JobId, [Field(2)] int ShardIndex, [Field(3)] long Rows, [Field(4)] long Bytes) : IMvnMessage;

/// <summary>
/// A shard's rows are counted; statistics included when the coordinator sums statistics. <paramref name="Threads"/>: threads that read it.
/// <paramref name="DataPort"/>: the worker's data-plane TCP port on its node's host (docs/ARCHITECTURE.md, "The data plane"); 0: none.
/// </summary>
public sealed record ShardLoaded([Field(1)] string JobId, [Field(2)] int ShardIndex, [Field(3)] long Rows, [Field(4)] long Rejected, [Field(5)] string[] Rejections, [Field(6)] long Bytes, [Field(7)] double Seconds, [Field(8)] StatisticsData? Statistics,
    [Field(9)] int Threads = 0, [Field(10)] int DataPort = 0) : IMvnMessage;

public sealed record ShardLoadFailed([Field(1)] string JobId, [Field(2)] int ShardIndex, [Field(3)] JobErrorKind Kind, [Field(4)] string Message) : IMvnMessage;

/// <summary>One round: J and its gradients at theta for each listed shard the worker holds.</summary>
public sealed record ComputePartialGradient([Field(1)] string JobId, [Field(2)] long Round, [Field(3)] int[] ShardIndices, [Field(4)] ThetaData Theta) : IMvnMessage;

/// <summary>A shard's J and gradients at the round's theta (tril: packed lower triangle of dJ/dLambda; full: all d^2).</summary>
public sealed record PartialGradientComputed([Field(1)] string JobId, [Field(2)] long Round, [Field(3)] int ShardIndex, [Field(4)] double J, [Field(5)] double[] GradMu, [Field(6)] double[] GradLambdaPacked, [Field(7)] double ComputeMilliseconds) : IMvnMessage;

/// <summary>The job is over: drop its shards.</summary>
public sealed record ReleaseJob([Field(1)] string JobId) : IMvnMessage;
