using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;

namespace MvnStream.Cluster.Protocol;

/// <summary>
/// Everything a streaming fit needs: where to read (Kafka bootstrap, topic, consumer group, row format,
/// d), where to write (model, scores and dead-letter topics, model file, checkpoint), the online update
/// rule (forgetting, warm-started steps per merge, solver) and when to stop (idle time, row limit).
/// <paramref name="Checkpoint"/> is "kafka:TOPIC", "file:PATH" or "none". <paramref name="KafkaProperties"/>
/// are extra librdkafka settings as "key=value" (TLS, SASL), applied to every client.
/// </summary>
public sealed record StreamJobSettings(
    string Bootstrap,
    string Topic,
    string Group,
    RowFormat Format,
    int Dimension,
    double Forgetting,
    string ModelTopic,
    string ScoresTopic,
    string DeadLetterTopic,
    double AnomalyLevel,
    string Checkpoint,
    string ModelFile,
    double SnapshotIntervalSeconds,
    double UntilIdleSeconds,
    long MaxRows,
    int StepsPerUpdate,
    SolverKind Solver,
    Parameterization Parameterization,
    int MaxIterations,
    double GradientTolerance,
    double LearningRate,
    double Ridge,
    ShrinkageMode Shrinkage,
    double ShrinkageIntensity,
    int BatchRows,
    double LingerMilliseconds,
    string[] KafkaProperties)
{
    public FitOptions ToFitOptions(MvnParameters? start, AdamState? adam, int maxIterations) => new()
    {
        Parameterization = Parameterization,
        Regularization = new Regularization { Ridge = Ridge, Shrinkage = Shrinkage, ShrinkageIntensity = ShrinkageIntensity },
        Solver = new SolverOptions { Kind = Solver, MaxIterations = maxIterations, GradientTolerance = GradientTolerance, LearningRate = LearningRate },
        Start = start,
        AdamState = adam,
    };
}

/// <summary>What the coordinator replies to a contribution (DESIGN §3).</summary>
public enum ContributionOutcome
{
    /// <summary>from == next[p]: merged, next[p] = to.</summary>
    Accepted = 0,

    /// <summary>to &lt;= next[p]: already counted (a replay); dropped.</summary>
    Duplicate = 1,

    /// <summary>A gap or a partial overlap: refused; the worker re-seeks to next[p].</summary>
    Refused = 2,
}

// Client <-> stream coordinator.

/// <summary>Start (or, after a coordinator restart, resume from its checkpoint) a streaming fit.</summary>
public sealed record StartStreamJob(string JobId, StreamJobSettings Settings) : IMvnMessage;

public sealed record StreamJobStarted(string JobId, long Epoch, bool Restored, long RestoredRows, long RestoredVersion, int Workers) : IMvnMessage;

/// <summary>Periodic status: counters, rates, lag and the current model.</summary>
public sealed record StreamJobStatus(
    string JobId,
    long Epoch,
    long Version,
    long Rows,
    long AcceptedRecords,
    long RejectedRecords,
    long LostRecords,
    long Duplicates,
    long Refused,
    int Partitions,
    int Workers,
    double RowsPerSecond,
    long Lag,
    double NllPerRow,
    double GapPerRow,
    double Weight,
    ThetaData? Theta,
    double Seconds) : IMvnMessage;

public sealed record StreamJobNotice(string JobId, string Message) : IMvnMessage;

/// <summary>Stop consuming, merge what is in flight, converge, checkpoint, publish, finish.</summary>
public sealed record StopStreamJob(string JobId) : IMvnMessage;

/// <summary>The final model of a stream job and how it got there.</summary>
public sealed record StreamJobFinished(
    string JobId,
    ThetaData? Theta,
    long Rows,
    double Weight,
    long AcceptedRecords,
    long RejectedRecords,
    long LostRecords,
    long Version,
    int Iterations,
    double NllPerRow,
    double GapPerRow,
    string StopReason,
    string[] PartitionKeys,
    long[] PartitionStarts,
    long[] PartitionNexts) : IMvnMessage;

public sealed record StreamJobFailed(string JobId, JobErrorKind Kind, string Message) : IMvnMessage;

// Stream coordinator <-> stream workers.

/// <summary>Join the job's consumer group and stream contributions to the coordinator of this epoch.</summary>
public sealed record StartConsuming(string JobId, long Epoch, StreamJobSettings Settings) : IMvnMessage;

/// <summary>Where to seek partition p: next[p] (first asking worker's low watermark starts an unknown partition).</summary>
public sealed record LedgerQuery(string JobId, long Epoch, string Topic, int Partition, long LowWatermark) : IMvnMessage;

public sealed record LedgerPosition(string JobId, long Epoch, string Topic, int Partition, long Next) : IMvnMessage;

/// <summary>
/// The statistics of records [From, To) of one partition: AcceptedRecords + RejectedRecords == To - From.
/// Statistics are null when no row was accepted. Rows were weighted by forgetting^(rows after them in the batch).
/// </summary>
public sealed record PartitionContribution(string JobId, long Epoch, string Topic, int Partition, long From, long To,
    long AcceptedRecords, long RejectedRecords, StatisticsData? Statistics) : IMvnMessage;

public sealed record ContributionAck(string JobId, long Epoch, string Topic, int Partition, long From, long To, ContributionOutcome Outcome, long Next) : IMvnMessage;

/// <summary>Records [Next, LowWatermark) of a partition were deleted by retention before anyone read them.</summary>
public sealed record RecordsLost(string JobId, long Epoch, string Topic, int Partition, long Next, long LowWatermark) : IMvnMessage;

/// <summary>The current model, for scoring records as they arrive.</summary>
public sealed record ModelUpdated(string JobId, long Epoch, long Version, ThetaData Theta) : IMvnMessage;

/// <summary>After a checkpoint: commit these offsets to the consumer group (for lag monitoring only).</summary>
public sealed record CommitOffsets(string JobId, long Epoch, string Topic, int[] Partitions, long[] Offsets) : IMvnMessage;

/// <summary>Flush pending batches, wait for their acknowledgements, close the consumer.</summary>
public sealed record StopConsuming(string JobId, long Epoch) : IMvnMessage;

public sealed record ConsumingStopped(string JobId, long Epoch, string WorkerId) : IMvnMessage;

/// <summary>A worker's periodic report: its partitions, their lag, whether each is at its end.</summary>
public sealed record WorkerStreamStatus(string JobId, long Epoch, string WorkerId, int[] Partitions, long[] Lag, bool AtEnd, string? Error) : IMvnMessage;

/// <summary>
/// The durable state of a stream job (DESIGN §3): theta and optimiser state, merged statistics, the offset
/// ledger and counters. Written atomically (file rename, or one Kafka record set) before offsets are committed.
/// Not a cluster message: it is stored in a versioned format of its own (MvnStream.Kafka's CheckpointFormat), so a
/// change of the wire protocol never makes a stored checkpoint unreadable.
/// </summary>
public sealed record StreamCheckpoint(
    string JobKey,
    long Epoch,
    long Version,
    int Dimension,
    ThetaData? Theta,
    double[] AdamFirstMoment,
    double[] AdamSecondMoment,
    long AdamStep,
    double AdamLearningRate,
    StatisticsData? Statistics,
    string Topic,
    int[] Partitions,
    long[] Starts,
    long[] Nexts,
    long[] Lost,
    long AcceptedRecords,
    long RejectedRecords,
    long Duplicates,
    long Refused,
    DateTime WrittenUtc);
