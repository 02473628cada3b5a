namespace MvnStream.Core.Streaming.Intake;

/// <summary>
/// The tunable constants of a stream worker's Kafka intake (docs/ARCHITECTURE.md, "Streaming"), in one place; the defaults
/// are the values the intake has always used. Consumer and producer settings here are applied before the user's
/// <c>-X</c> Kafka properties, which override them.
/// </summary>
public sealed record IntakeOptions
{
    /// <summary>The defaults.</summary>
    public static IntakeOptions Default { get; } = new();

    /// <summary>Contributions of one partition awaiting acknowledgement; beyond it the pending batch grows instead (flow control only).</summary>
    public int MaxInFlight { get; init; } = 8;

    /// <summary>Pending rows of one partition, in batches of the job's batch size, beyond which fetching it pauses until acknowledgements come.</summary>
    public int MaxPendingBatches { get; init; } = 16;

    /// <summary>Records (accepted plus rejected) after which a partition's pending range is sent even when it holds fewer rows than a batch.</summary>
    public int MaxRecordsPerContribution { get; init; } = 10_000;

    /// <summary>A contribution unacknowledged for this long makes its partition forget what is in flight and ask the ledger again; also the longest a drain waits.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Longest wait for dead letters and scores to be delivered (or for room in the producer's queue) before the intake gives up.</summary>
    public TimeSpan SideDeliveryTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>While no broker is reachable, how often the intake asks the cluster for metadata to learn that one is back.</summary>
    public TimeSpan ReachabilityProbe { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the reachability probe's metadata request may take.</summary>
    public TimeSpan ReachabilityProbeTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>An unpositioned partition whose ledger query went unanswered asks again after this long.</summary>
    public TimeSpan PositionRetry { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>A seek that failed while the assignment was settling is tried again after this long.</summary>
    public TimeSpan SeekRetry { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A partition with lag that delivered nothing for this long is checked against the broker's log start (a stall).</summary>
    public TimeSpan StallCheck { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the intake reports lag, unread time and the end of input.</summary>
    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often, while records keep coming, the loop runs its timers (linger, ack timeouts, retries, status).</summary>
    public TimeSpan HousekeepingInterval { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Poll timeout while anything waits for an acknowledgement, a position or a drain (so answers are handled promptly).</summary>
    public int BusyPollMilliseconds { get; init; } = 5;

    /// <summary>Poll timeout otherwise.</summary>
    public int IdlePollMilliseconds { get; init; } = 100;

    /// <summary>How long a low-watermark query to the broker may take before the watermark counts as unknown.</summary>
    public TimeSpan WatermarkQueryTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>On stop: how long dead letters and scores still queued may take to be delivered before the consumer closes.</summary>
    public TimeSpan CloseFlushTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// On stop: how long the intake waits for its Kafka clients to close (the consumer commits its stored offsets and leaves
    /// the group) before it reports that it stopped. librdkafka's consumer close has no timeout and, with no broker
    /// reachable, may never return; it then goes on in the background.
    /// </summary>
    public TimeSpan ConsumerCloseTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>On dispose: how long to wait for the intake's thread to end.</summary>
    public TimeSpan StopJoinTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The consumer's session.timeout.ms.</summary>
    public int SessionTimeoutMs { get; init; } = 6000;

    /// <summary>The consumer's heartbeat.interval.ms.</summary>
    public int HeartbeatIntervalMs { get; init; } = 1500;

    /// <summary>The consumer's auto.commit.interval.ms (commits are for lag monitoring only: the checkpoint is the source of truth).</summary>
    public int AutoCommitIntervalMs { get; init; } = 1000;

    /// <summary>The consumer's topic.metadata.refresh.interval.ms: how soon a consumer subscribed before its topic exists learns of it.</summary>
    public int TopicMetadataRefreshIntervalMs { get; init; } = 1000;

    /// <summary>The consumer's fetch.wait.max.ms.</summary>
    public int FetchWaitMaxMs { get; init; } = 50;

    /// <summary>The consumer's fetch.error.backoff.ms: after a fetch error (an offset the broker no longer holds) fetch again at once.</summary>
    public int FetchErrorBackoffMs { get; init; } = 10;

    /// <summary>The dead-letter/score producer's linger.ms.</summary>
    public int SideLingerMs { get; init; } = 5;

    /// <summary>The dead-letter/score producer's message.timeout.ms.</summary>
    public int SideMessageTimeoutMs { get; init; } = 30000;

    /// <summary>Throws when a value makes no sense (a window or interval that is not positive).</summary>
    public IntakeOptions Validated()
    {
        if (MaxInFlight < 1) throw new ArgumentOutOfRangeException(nameof(MaxInFlight), MaxInFlight, "at least one contribution must be allowed in flight");
        if (MaxPendingBatches < 1) throw new ArgumentOutOfRangeException(nameof(MaxPendingBatches), MaxPendingBatches, "at least one batch must be allowed pending");
        if (MaxRecordsPerContribution < 1) throw new ArgumentOutOfRangeException(nameof(MaxRecordsPerContribution), MaxRecordsPerContribution, "must be positive");
        return this;
    }
}
