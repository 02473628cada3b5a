using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;

namespace MvnStream.Core.Streaming;

/// <summary>One worker's contribution, its statistics decoded: the records of offsets [From, To) of one partition.</summary>
/// <param name="Statistics">The statistics of the accepted records' rows; null when none was accepted.</param>
public sealed record Contribution(string Topic, int Partition, long From, long To, long AcceptedRecords, long RejectedRecords, SufficientStatistics? Statistics);

/// <summary>What <see cref="StreamState.Offer"/> did with a contribution.</summary>
public enum MergeOutcome
{
    /// <summary>The ledger accepted it and it was merged whole.</summary>
    Accepted,

    /// <summary>Already counted (a replay): dropped, counted in <see cref="StreamState.Duplicates"/>.</summary>
    Duplicate,

    /// <summary>The ledger refused it (a gap, a partial overlap, an unknown partition): counted in <see cref="StreamState.Refused"/>.</summary>
    Refused,

    /// <summary>Its statistics do not fit the stream (dimension, rows missing): refused before the ledger saw it; nothing changes.</summary>
    Malformed,
}

/// <summary>The result of offering a contribution.</summary>
/// <param name="Next">next[p] after the decision (-1 for a partition the ledger does not know).</param>
/// <param name="Problem">Why a <see cref="MergeOutcome.Malformed"/> contribution was refused.</param>
/// <param name="OffsetsWithoutRecord">Accepted offsets of the range that hold no record (transaction markers, aborted or compacted records).</param>
/// <param name="AccountingBroken">Accepted, but it counts more records than its range holds offsets (a worker's accounting bug, logged).</param>
public readonly record struct MergeResult(MergeOutcome Outcome, long Next, string? Problem = null, long OffsetsWithoutRecord = 0, bool AccountingBroken = false);

/// <summary>When records were lost: before the job first read their partition, or while they waited to be read.</summary>
public enum LossCause
{
    /// <summary>The broker deleted the partition's head before this job first read it (a late start).</summary>
    BeforeFirstRead,

    /// <summary>The consumers fell behind the broker's retention.</summary>
    FellBehind,
}

/// <summary>Records of one partition the broker deleted before they were read: offsets [From, To), Count of them.</summary>
public sealed record LossReport(string Topic, int Partition, long From, long To, long Count, LossCause Cause)
{
    /// <summary>The operator's line for it (docs/ARCHITECTURE.md, "The offset ledger": a loss is reported, never silent).</summary>
    public string Describe() =>
        $"LOST {Count:N0} records of {Topic}/{Partition} (offsets {From}..{To - 1}): the broker deleted them "
        + (Cause == LossCause.BeforeFirstRead ? "before this job first read the partition" : "while they waited to be read (the consumers fell behind the broker's retention)")
        + "; they are not in the model";
}

/// <summary>
/// When an online update is due (docs/ARCHITECTURE.md, "Streaming"): once something was merged since the last update began, no update
/// is running and there are more rows than d, and then when <see cref="EveryRows"/> rows were merged since the last update began,
/// or <see cref="MaxDelay"/> has passed since the first change the model has not seen. The default (0 rows) is due on every change.
/// </summary>
public sealed record UpdatePolicy(long EveryRows = 0, TimeSpan? MaxDelay = null)
{
    /// <summary>An update after every merge (as soon as the previous update has finished).</summary>
    public static UpdatePolicy Default { get; } = new();
}

/// <summary>
/// The durable image of a stream's state (docs/ARCHITECTURE.md, "Checkpoints"): what a checkpoint holds, as plain values the Kafka layer
/// serialises. <see cref="Statistics"/> is a copy, not shared with the live state.
/// </summary>
/// <param name="Changes">The state's change count when the image was taken (not stored: the coordinator's checkpoint bookkeeping).</param>
public sealed record StreamImage(
    long Epoch,
    long Version,
    SufficientStatistics Statistics,
    MvnParameters? Theta,
    AdamState? Adam,
    IReadOnlyList<PartitionCoverage> Partitions,
    long AcceptedRecords,
    long RejectedRecords,
    long Duplicates,
    long Refused,
    DateTimeOffset TakenUtc,
    long Changes = 0)
{
    public int Dimension => Statistics.Dimension;
}

/// <summary>
/// The state and rules of one stream, with no messaging and no I/O (docs/ARCHITECTURE.md, "Streaming"): the merged statistics and the
/// offset ledger (a contribution is merged whole, after the ledger accepted it, or not at all: the ledger never covers rows absent from
/// the statistics), forgetting, the online update policy, loss accounting and the checkpoint image. Time comes from the injected
/// <see cref="TimeProvider"/>. Not thread-safe: owned by the coordinator actor.
/// </summary>
public sealed class StreamState
{
    private readonly TimeProvider _clock;
    private long _startedAt;
    private long _lastMergeAt;
    private long _pendingSince;
    private long _rowsPending;

    public StreamState(int dimension, double forgetting, UpdatePolicy? policy = null, TimeProvider? clock = null)
    {
        if (dimension <= 0) throw new ArgumentException("the stream's dimension d must be known before the job starts");
        if (!(forgetting > 0 && forgetting <= 1)) throw new ArgumentException($"forgetting factor {forgetting} must be in (0, 1]");
        Forgetting = forgetting;
        Policy = policy ?? UpdatePolicy.Default;
        if (Policy.EveryRows < 0 || Policy.MaxDelay < TimeSpan.Zero) throw new ArgumentException($"invalid update policy {Policy}");
        _clock = clock ?? TimeProvider.System;
        Statistics = new SufficientStatistics(dimension);
        _startedAt = _lastMergeAt = _pendingSince = _clock.GetTimestamp();
    }

    /// <summary>Per row that arrives, every row already counted is down-weighted by this factor (1: no forgetting).</summary>
    public double Forgetting { get; }

    public UpdatePolicy Policy { get; }

    public OffsetLedger Ledger { get; } = new();

    public SufficientStatistics Statistics { get; private set; }

    public int Dimension => Statistics.Dimension;

    public MvnParameters? Theta { get; set; }

    public AdamState? Adam { get; set; }

    /// <summary>The coordinator generation: a restore starts the next one, so a former coordinator's workers are told apart.</summary>
    public long Epoch { get; private set; } = 1;

    /// <summary>The model version: one more per applied update.</summary>
    public long Version { get; private set; }

    public long AcceptedRecords { get; private set; }

    public long RejectedRecords { get; private set; }

    public long LostRecords { get; private set; }

    public long Duplicates { get; private set; }

    public long Refused { get; private set; }

    /// <summary>Counts every change a checkpoint would hold (merges, losses, updates): equal counts, nothing new to save.</summary>
    public long Changes { get; private set; }

    /// <summary>Something was merged since the last update began.</summary>
    public bool Dirty { get; private set; }

    /// <summary>An online update is running (between <see cref="BeginUpdate"/> and <see cref="CompleteUpdate"/>).</summary>
    public bool Updating { get; private set; }

    public bool RestoredFromCheckpoint { get; private set; }

    public long RestoredRows { get; private set; }

    /// <summary>Time since <see cref="Start"/> (or construction).</summary>
    public TimeSpan Elapsed => _clock.GetElapsedTime(_startedAt);

    /// <summary>Time since the last accepted contribution (or <see cref="Start"/>): the idleness clock.</summary>
    public TimeSpan SinceLastMerge => _clock.GetElapsedTime(_lastMergeAt);

    /// <summary>The stream starts running now: the elapsed and idleness clocks start over.</summary>
    public void Start() => _startedAt = _lastMergeAt = _clock.GetTimestamp();

    /// <summary>
    /// Decides a contribution: checked first (its dimension, and rows for every accepted record: each holds at least one), then offered
    /// to the ledger; merged whole only when the ledger accepts it, so the ledger never covers records whose rows the statistics lack.
    /// An invalid offset range (from &lt; 0 or to &lt; from) is a worker's bug: the ledger throws <see cref="ArgumentException"/>.
    /// </summary>
    public MergeResult Offer(Contribution c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var s = c.Statistics;
        long rows = s?.Count ?? 0;
        string? problem = null;
        if (s is not null && s.Dimension != Dimension) problem = $"dimension {s.Dimension}, the stream has {Dimension}";
        else if (c.AcceptedRecords < 0 || c.RejectedRecords < 0 || (c.AcceptedRecords > 0 ? rows < c.AcceptedRecords : rows != 0))
            problem = $"it counts {c.AcceptedRecords} accepted records but carries statistics of {rows} rows";
        if (problem is not null) return new MergeResult(MergeOutcome.Malformed, Ledger.Next(c.Topic, c.Partition) ?? -1, problem);

        var decision = Ledger.Offer(c.Topic, c.Partition, c.From, c.To);
        long next = Ledger.Next(c.Topic, c.Partition) ?? -1;
        switch (decision)
        {
            case LedgerDecision.Accept:
                long records = c.AcceptedRecords + c.RejectedRecords;
                Merge(c, s);
                return new MergeResult(MergeOutcome.Accepted, next, null, Math.Max(0, c.To - c.From - records), records > c.To - c.From);
            case LedgerDecision.Duplicate:
                Duplicates++;
                return new MergeResult(MergeOutcome.Duplicate, next);
            default:
                Refused++;
                return new MergeResult(MergeOutcome.Refused, next);
        }
    }

    private void Merge(Contribution c, SufficientStatistics? s)
    {
        if (s is not null)
        {
            // Forgetting: every row already counted is down-weighted once per row that arrives after it;
            // the batch's own rows carry their in-batch weights (docs/ARCHITECTURE.md, "The math").
            if (Forgetting < 1) Statistics.Decay(Math.Pow(Forgetting, s.Count));
            Statistics.Merge(s);
        }
        AcceptedRecords += c.AcceptedRecords;
        RejectedRecords += c.RejectedRecords;
        long now = _clock.GetTimestamp();
        if (!Dirty) _pendingSince = now;
        Dirty = true;
        _rowsPending += s?.Count ?? 0;
        Changes++;
        _lastMergeAt = now;
    }

    /// <summary>
    /// Where a worker newly given a partition resumes: next[p]. A partition seen for the first time whose head the broker already
    /// deleted (low watermark above 0) yields a <paramref name="loss"/>, counted here and never silently skipped.
    /// </summary>
    public long Position(string topic, int partition, long lowWatermark, out LossReport? loss)
    {
        long next = Ledger.Position(topic, partition, lowWatermark, out long lost);
        loss = lost > 0 ? Count(new LossReport(topic, partition, 0, lowWatermark, lost, LossCause.BeforeFirstRead)) : null;
        return next;
    }

    /// <summary>
    /// A worker found records [next[p], <paramref name="lowWatermark"/>) deleted by the broker before it read them: the ledger moves past
    /// them and they are counted as lost. Returns where the worker resumes; <paramref name="loss"/> is null for a stale report.
    /// <paramref name="workerNext"/> is the worker's own position, named as the first lost offset of a partition the ledger does not know.
    /// </summary>
    public long RecordLoss(string topic, int partition, long lowWatermark, long workerNext, out LossReport? loss)
    {
        // Nothing of the partition counted yet: its head was deleted before this job read it (a late start).
        bool unread = Ledger.Partitions.FirstOrDefault(c => c.Topic == topic && c.Partition == partition) is { } before && before.Next == before.Start + before.Lost;
        long from = Ledger.Next(topic, partition) ?? workerNext;
        long lost = Ledger.RecordLoss(topic, partition, lowWatermark);
        loss = lost > 0 ? Count(new LossReport(topic, partition, from, lowWatermark, lost, unread ? LossCause.BeforeFirstRead : LossCause.FellBehind)) : null;
        return Ledger.Next(topic, partition) ?? lowWatermark;
    }

    private LossReport Count(LossReport loss)
    {
        LostRecords += loss.Count;
        Changes++;
        return loss;
    }

    /// <summary>Whether an online update should start now (<see cref="Policy"/>).</summary>
    public bool UpdateDue =>
        !Updating && Dirty && Statistics.Count > Dimension
        && (_rowsPending >= Policy.EveryRows || (Policy.MaxDelay is { } delay && _clock.GetElapsedTime(_pendingSince) >= delay));

    /// <summary>An online update starts: returns a copy of the statistics for the solver (the live ones go on merging).</summary>
    public SufficientStatistics BeginUpdate()
    {
        if (Updating) throw new InvalidOperationException("an update is already running");
        Updating = true;
        Dirty = false;
        _rowsPending = 0;
        return Statistics.Clone();
    }

    /// <summary>A solve ended (an online update or the final solve): its model, if it produced one, becomes the next version.</summary>
    public void CompleteUpdate(MvnParameters? theta, AdamState? adam)
    {
        Updating = false;
        if (theta is null) return;
        Theta = theta;
        Adam = adam;
        Version++;
        Changes++;
    }

    /// <summary>The checkpoint image of the state now: the ledger by partition, a copy of the statistics, the counters.</summary>
    public StreamImage ToImage() =>
        new(Epoch, Version, Statistics.Clone(), Theta, Adam, Ledger.Partitions.OrderBy(p => p.Topic, StringComparer.Ordinal).ThenBy(p => p.Partition).ToArray(),
            AcceptedRecords, RejectedRecords, Duplicates, Refused, _clock.GetUtcNow(), Changes);

    /// <summary>
    /// Restores the state of <paramref name="image"/> (its dimension replaces this state's): the same statistics, ledger, model and
    /// counters, in the next epoch. Lost records are the ledger's.
    /// </summary>
    public void Restore(StreamImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        Ledger.Restore(image.Partitions);
        Statistics = image.Statistics.Clone();
        RestoredFromCheckpoint = true;
        Epoch = image.Epoch + 1;
        Version = image.Version;
        Theta = image.Theta;
        Adam = image.Adam;
        AcceptedRecords = image.AcceptedRecords;
        RejectedRecords = image.RejectedRecords;
        LostRecords = Ledger.RecordsLost;
        Duplicates = image.Duplicates;
        Refused = image.Refused;
        RestoredRows = Statistics.Count;
    }
}
