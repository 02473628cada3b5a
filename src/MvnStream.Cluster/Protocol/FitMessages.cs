namespace MvnStream.Cluster.Protocol;

// Client <-> coordinator: one fit job over a file that every worker can read at Path.

/// <summary>Client asks the coordinator singleton to fit the file at <paramref name="Path"/> (as the workers see it).</summary>
public sealed record SubmitFitJob(string JobId, string Path, ReaderSettings Reader, FitJobSettings Settings) : IMvnMessage;

/// <summary>The job started: which workers and how many shards.</summary>
public sealed record FitJobAccepted(string JobId, int Workers, int Shards, long FileBytes, int Dimension) : IMvnMessage;

/// <summary>Client asks to stop the job (Ctrl-C): the coordinator returns the best model so far.</summary>
public sealed record CancelFitJob(string JobId) : IMvnMessage;

/// <summary>Loading progress summed over shards.</summary>
public sealed record FitJobLoadProgress(string JobId, long Rows, long Bytes, int ShardsLoaded, int Shards, double Seconds) : IMvnMessage;

/// <summary>One solver round: workers answered, J per row, J - J* per row, gradient norm and round latency.</summary>
public sealed record FitJobRoundProgress(string JobId, long Round, int WorkersAnswered, int Workers, double NllPerRow, double GapPerRow,
    double GradientNorm, double RoundMilliseconds, double Seconds) : IMvnMessage;

/// <summary>Something the user should know (a worker lost, a shard reassigned).</summary>
public sealed record FitJobNotice(string JobId, string Message) : IMvnMessage;

/// <summary>
/// The fitted model and how it was reached. <paramref name="WorkersUsed"/>: workers the job started with;
/// <paramref name="WorkersLost"/>: workers lost (unreachable or gone) while the job ran and not back by its end;
/// <paramref name="WorkersAtEnd"/>: workers holding the job's shards at the end.
/// </summary>
public sealed record FitJobCompleted(
    string JobId,
    ThetaData Theta,
    long N,
    long RejectedRows,
    string[] Rejections,
    int Iterations,
    int Evaluations,
    long Rounds,
    string StopReason,
    bool Converged,
    double NllPerRow,
    double GapPerRow,
    double GradientNorm,
    double Shrinkage,
    double LoadSeconds,
    double SolveSeconds,
    int WorkersUsed,
    int ShardsReassigned,
    int WorkersLost,
    int WorkersAtEnd) : IMvnMessage;

/// <summary>The job failed; <paramref name="Kind"/> picks the client's exit code.</summary>
public sealed record FitJobFailed(string JobId, JobErrorKind Kind, string Message) : IMvnMessage;

// Worker <-> coordinator.

/// <summary>A worker announces itself to the coordinator singleton (repeated until acknowledged, and after a handover).</summary>
public sealed record RegisterWorker(string WorkerId) : IMvnMessage;

/// <summary>The coordinator watches the worker from now on.</summary>
public sealed record WorkerRegistered(string CoordinatorId) : IMvnMessage;

/// <summary>Ask a worker to look at the file: its length, d (first row) and whether it can be split into byte ranges.</summary>
public sealed record DescribeFile(string JobId, string Path, ReaderSettings Reader) : IMvnMessage;

public sealed record FileDescribed(string JobId, long Length, int Dimension, bool Shardable) : IMvnMessage;

public sealed record FileDescribeFailed(string JobId, JobErrorKind Kind, string Message) : IMvnMessage;

/// <summary>Read byte range [Start, End) of Path and keep its statistics for the job; return them when asked.</summary>
public sealed record LoadShard(string JobId, int ShardIndex, string Path, long Start, long End, ReaderSettings Reader, bool ReturnStatistics) : IMvnMessage;

public sealed record ShardLoadProgress(string JobId, int ShardIndex, long Rows, long Bytes) : IMvnMessage;

/// <summary>A shard's rows are counted; statistics included when the coordinator sums statistics.</summary>
public sealed record ShardLoaded(string JobId, int ShardIndex, long Rows, long Rejected, string[] Rejections, long Bytes, double Seconds, StatisticsData? Statistics) : IMvnMessage;

public sealed record ShardLoadFailed(string JobId, int ShardIndex, JobErrorKind Kind, string Message) : IMvnMessage;

/// <summary>One round: J and its gradients at theta for each listed shard the worker holds.</summary>
public sealed record ComputePartialGradient(string JobId, long Round, int[] ShardIndices, ThetaData Theta) : IMvnMessage;

/// <summary>A shard's J and gradients at the round's theta (tril: packed lower triangle of dJ/dLambda; full: all d^2).</summary>
public sealed record PartialGradientComputed(string JobId, long Round, int ShardIndex, double J, double[] GradMu, double[] GradLambdaPacked, double ComputeMilliseconds) : IMvnMessage;

/// <summary>The job is over: drop its shards.</summary>
public sealed record ReleaseJob(string JobId) : IMvnMessage;
