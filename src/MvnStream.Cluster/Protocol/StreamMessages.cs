using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;

namespace MvnStream.Cluster.Protocol;

// Each record below is its own wire message: [Field(n)] is a parameter's protobuf field number (MvnStreamSerializer).
// Add a field with a new number; never renumber or reuse one.

/// <summary>
/// Everything a streaming fit needs: where to read (Kafka bootstrap, topic, consumer group, row format,
/// d), where to write (model, scores and dead-letter topics, model file, checkpoint), the online update
/// rule (forgetting, warm-started steps per merge, solver) and when to stop (idle time, row limit).
/// <paramref name="Checkpoint"/> is "kafka:TOPIC", "file:PATH" or "none". <paramref name="KafkaProperties"/>
/// are extra librdkafka settings as "key=value" (TLS, SASL), applied to every client.
/// </summary>
public sealed record StreamJobSettings(
    [Field(1)] string Bootstrap,
    [Field(2)] string Topic,
    [Field(3)] string Group,
    [Field(4)] RowFormat Format,
    [Field(5)] int Dimension,
    [Field(6)] double Forgetting,
    [Field(7)] string ModelTopic,
    [Field(8)] string ScoresTopic,
    [Field(9)] string DeadLetterTopic,
    [Field(10)] double AnomalyLevel,
    [Field(11)] string Checkpoint,
    [Field(12)] string ModelFile,
    [Field(13)] double SnapshotIntervalSeconds,
    [Field(14)] double UntilIdleSeconds,
    [Field(15)] long MaxRows,
    [Field(16)] int StepsPerUpdate,
    [Field(17)] SolverKind Solver,
    [Field(18)] Parameterization Parameterization,
    [Field(19)] int MaxIterations,
    [Field(20)] double GradientTolerance,
    [Field(21)] double LearningRate,
    [Field(22)] double Ridge,
    [Field(23)] ShrinkageMode Shrinkage,
    [Field(24)] double ShrinkageIntensity,
    [Field(25)] int BatchRows,
    [Field(26)] double LingerMilliseconds,
    [Field(27)] string[] KafkaProperties,
    [Field(28)] double RelativeTolerance = 0,
    [Field(29)] StreamTunables? Tunables = null)
{
    /// <summary>The intake's and coordinator's tunables (<see cref="StreamTunables.Default"/> when a client sent none).</summary>
    public StreamTunables Tuning => Tunables ?? StreamTunables.Default;

    /// <summary>The solver settings, as the fit command's (one builder: <see cref="SolverSettings"/>).</summary>
    public SolverSettings Solving => new(Solver, Parameterization, MaxIterations, GradientTolerance, RelativeTolerance, LearningRate, Ridge, Shrinkage, ShrinkageIntensity);

    /// <param name="maxIterations">This solve's iteration limit: steps per update online, MaxIterations for the final solve.</param>
    public FitOptions ToFitOptions(MvnParameters? start, AdamState? adam, int maxIterations) =>
        Solving.ToFitOptions(maxIterations) with { Start = start, AdamState = adam };
}

/// <summary>
/// The stream's tunables that were constants in code (docs/ARCHITECTURE.md, "Streaming"): the settings of section Stream
/// and the Kafka call timeouts of section Kafka (README "Configuration"), carried to the coordinator and every worker with
/// the job. Durations are in seconds.
/// </summary>
/// <param name="BrokerTimeoutSeconds">How long an intake goes on while no Kafka broker is reachable before the job stops with an error.</param>
/// <param name="MaxInFlight">Contributions of one partition awaiting acknowledgement; beyond it the pending batch grows instead.</param>
/// <param name="MaxPendingBatches">Pending rows of one partition (in batches of BatchRows) beyond which fetching it pauses.</param>
/// <param name="AckTimeoutSeconds">An unacknowledged contribution older than this re-synchronises its partition through the ledger (and bounds the drain).</param>
/// <param name="SideDeliveryTimeoutSeconds">Longest wait for dead letters and scores to be delivered before the intake gives up.</param>
/// <param name="ReachabilityProbeSeconds">While no broker is reachable, how often the intake asks for metadata to learn that one is back.</param>
/// <param name="PositionRetrySeconds">How long a worker waits for the ledger's answer to a position query before it asks again.</param>
/// <param name="StallCheckSeconds">A partition with lag that delivered nothing for this long is checked against the broker's log start.</param>
/// <param name="PollMilliseconds">Longest wait of one consumer poll (5 ms while draining or waiting for the ledger).</param>
/// <param name="StopTimeoutSeconds">How long the coordinator waits for the workers' final contributions when the job stops.</param>
/// <param name="IdleCheckSeconds">How often the coordinator checks the --until-idle and --max-rows conditions.</param>
/// <param name="StatusIntervalSeconds">How often the coordinator sends its status (progress line, dashboard, metrics).</param>
/// <param name="MetadataTimeoutSeconds">Longest wait of a Kafka metadata request (the coordinator's partition count of the input topic).</param>
/// <param name="WatermarkTimeoutSeconds">Longest wait of a watermark query (an intake's stall check against the log start).</param>
/// <param name="ProbeTimeoutSeconds">Longest wait of the metadata request that probes whether a broker is reachable again.</param>
/// <param name="FlushTimeoutSeconds">Longest wait for an intake's dead letters and scores to be flushed when it closes.</param>
/// <param name="ModelFlushTimeoutSeconds">Longest wait, when the job ends, for the model topic to confirm its last snapshot records.</param>
/// <param name="CheckpointTimeoutSeconds">Longest wait of the Kafka checkpoint store's watermark query and of its flush when the job ends.</param>
/// <param name="CheckpointReadTimeoutSeconds">Longest time reading one window of the checkpoint topic back when a job resumes.</param>
public sealed record StreamTunables(
    [Field(1)] double BrokerTimeoutSeconds,
    [Field(2)] int MaxInFlight,
    [Field(3)] int MaxPendingBatches,
    [Field(4)] double AckTimeoutSeconds,
    [Field(5)] double SideDeliveryTimeoutSeconds,
    [Field(6)] double ReachabilityProbeSeconds,
    [Field(7)] double PositionRetrySeconds,
    [Field(8)] double StallCheckSeconds,
    [Field(9)] int PollMilliseconds,
    [Field(10)] double StopTimeoutSeconds,
    [Field(11)] double IdleCheckSeconds,
    [Field(12)] double StatusIntervalSeconds,
    [Field(13)] double MetadataTimeoutSeconds,
    [Field(14)] double WatermarkTimeoutSeconds,
    [Field(15)] double ProbeTimeoutSeconds,
    [Field(16)] double FlushTimeoutSeconds,
    [Field(17)] double ModelFlushTimeoutSeconds,
    [Field(18)] double CheckpointTimeoutSeconds,
    [Field(19)] double CheckpointReadTimeoutSeconds)
{
    /// <summary>The documented defaults (README "Configuration", sections Stream and Kafka).</summary>
    public static StreamTunables Default { get; } = new(60, 8, 16, 15, 30, 2, 3, 1, 100, 20, 0.25, 1, 10, 5, 1, 10, 5, 10, 30);

    /// <summary>A duration field as a <see cref="TimeSpan"/>; one a node without the field received (0) is its default.</summary>
    public static TimeSpan Time(double seconds, double fallback) => TimeSpan.FromSeconds(seconds > 0 ? seconds : fallback);
}

/// <summary>What the coordinator replies to a contribution (docs/ARCHITECTURE.md, "The offset ledger").</summary>
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
public sealed record StartStreamJob([Field(1)] string JobId, [Field(2)] StreamJobSettings Settings) : IMvnMessage;

public sealed record StreamJobStarted([Field(1)] string JobId, [Field(2)] long Epoch, [Field(3)] bool Restored, [Field(4)] long RestoredRows, [Field(5)] long RestoredVersion, [Field(6)] int Workers) : IMvnMessage;

/// <summary>Periodic status: counters, rates, lag and the current model.</summary>
public sealed record StreamJobStatus(
    [Field(1)] string JobId,
    [Field(2)] long Epoch,
    [Field(3)] long Version,
    [Field(4)] long Rows,
    [Field(5)] long AcceptedRecords,
    [Field(6)] long RejectedRecords,
    [Field(7)] long LostRecords,
    [Field(8)] long Duplicates,
    [Field(9)] long Refused,
    [Field(10)] int Partitions,
    [Field(11)] int Workers,
    [Field(12)] double RowsPerSecond,
    [Field(13)] long Lag,
    [Field(14)] double NllPerRow,
    [Field(15)] double GapPerRow,
    [Field(16)] double Weight,
    [Field(17)] ThetaData? Theta,
    [Field(18)] double Seconds,
    [Field(19)] double MaxUnreadSeconds = 0) : IMvnMessage;

public sealed record StreamJobNotice([Field(1)] string JobId, [Field(2)] string Message) : IMvnMessage;

/// <summary>Stop consuming, merge what is in flight, converge, checkpoint, publish, finish.</summary>
public sealed record StopStreamJob([Field(1)] string JobId) : IMvnMessage;

/// <summary>
/// The final model of a stream job and how it got there. <paramref name="StopReason"/> says why the stream stopped (idle,
/// row limit, Ctrl-C ...); <paramref name="SolveStopReason"/> why the last solve of the model stopped, as a stable name
/// (Fitting.StopReasons.ToName; "" when unknown), which decides whether the model converged.
/// </summary>
public sealed record StreamJobFinished(
    [Field(1)] string JobId,
    [Field(2)] ThetaData? Theta,
    [Field(3)] long Rows,
    [Field(4)] double Weight,
    [Field(5)] long AcceptedRecords,
    [Field(6)] long RejectedRecords,
    [Field(7)] long LostRecords,
    [Field(8)] long Version,
    [Field(9)] int Iterations,
    [Field(10)] double NllPerRow,
    [Field(11)] double GapPerRow,
    [Field(12)] string StopReason,
    [Field(13)] string[] PartitionKeys,
    [Field(14)] long[] PartitionStarts,
    [Field(15)] long[] PartitionNexts,
    [Field(16)] string SolveStopReason) : IMvnMessage;

public sealed record StreamJobFailed([Field(1)] string JobId, [Field(2)] JobErrorKind Kind, [Field(3)] string Message) : IMvnMessage;

// Stream coordinator <-> stream workers.

/// <summary>Join the job's consumer group and stream contributions to the coordinator of this epoch.</summary>
public sealed record StartConsuming([Field(1)] string JobId, [Field(2)] long Epoch, [Field(3)] StreamJobSettings Settings) : IMvnMessage;

/// <summary>Where to seek partition p: next[p] (first asking worker's low watermark starts an unknown partition).</summary>
public sealed record LedgerQuery([Field(1)] string JobId, [Field(2)] long Epoch, [Field(3)] string Topic, [Field(4)] int Partition, [Field(5)] long LowWatermark) : IMvnMessage;

public sealed record LedgerPosition([Field(1)] string JobId, [Field(2)] long Epoch, [Field(3)] string Topic, [Field(4)] int Partition, [Field(5)] long Next) : IMvnMessage;

/// <summary>
/// The statistics of records [From, To) of one partition: AcceptedRecords + RejectedRecords == To - From.
/// Statistics are null when no row was accepted. Rows were weighted by forgetting^(rows after them in the batch).
/// </summary>
public sealed record PartitionContribution([Field(1)] string JobId, [Field(2)] long Epoch, [Field(3)] string Topic, [Field(4)] int Partition, [Field(5)] long From, [Field(6)] long To,
    [Field(7)] long AcceptedRecords, [Field(8)] long RejectedRecords, [Field(9)] StatisticsData? Statistics) : IMvnMessage;

public sealed record ContributionAck([Field(1)] string JobId, [Field(2)] long Epoch, [Field(3)] string Topic, [Field(4)] int Partition, [Field(5)] long From, [Field(6)] long To, [Field(7)] ContributionOutcome Outcome, [Field(8)] long Next) : IMvnMessage;

/// <summary>Records [Next, LowWatermark) of a partition were deleted by retention before anyone read them.</summary>
public sealed record RecordsLost([Field(1)] string JobId, [Field(2)] long Epoch, [Field(3)] string Topic, [Field(4)] int Partition, [Field(5)] long Next, [Field(6)] long LowWatermark) : IMvnMessage;

/// <summary>The current model, for scoring records as they arrive.</summary>
public sealed record ModelUpdated([Field(1)] string JobId, [Field(2)] long Epoch, [Field(3)] long Version, [Field(4)] ThetaData Theta) : IMvnMessage;

/// <summary>After a checkpoint: commit these offsets to the consumer group (for lag monitoring only).</summary>
public sealed record CommitOffsets([Field(1)] string JobId, [Field(2)] long Epoch, [Field(3)] string Topic, [Field(4)] int[] Partitions, [Field(5)] long[] Offsets) : IMvnMessage;

/// <summary>Flush pending batches, wait for their acknowledgements, close the consumer.</summary>
public sealed record StopConsuming([Field(1)] string JobId, [Field(2)] long Epoch) : IMvnMessage;

public sealed record ConsumingStopped([Field(1)] string JobId, [Field(2)] long Epoch, [Field(3)] string WorkerId) : IMvnMessage;

/// <summary>A worker's periodic report: its partitions, their lag, whether each is at its end.</summary>
/// <param name="UnreadMilliseconds">Per partition: how long it has had lag without a record read from it (0 without lag).</param>
public sealed record WorkerStreamStatus([Field(1)] string JobId, [Field(2)] long Epoch, [Field(3)] string WorkerId, [Field(4)] int[] Partitions, [Field(5)] long[] Lag, [Field(6)] bool AtEnd, [Field(7)] string? Error,
    [Field(8)] long[]? UnreadMilliseconds = null) : IMvnMessage;

/// <summary>
/// The durable state of a stream job (docs/ARCHITECTURE.md, "Checkpoints"): theta and optimiser state, merged statistics, the offset
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
