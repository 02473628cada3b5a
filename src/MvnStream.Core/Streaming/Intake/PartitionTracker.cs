using System.Diagnostics.CodeAnalysis;
using MvnStream.Core.Formats;

namespace MvnStream.Core.Streaming.Intake;

/// <summary>
/// One assigned partition as the intake's <see cref="PartitionTracker"/> sees it: its position, its pending range
/// [<see cref="From"/>, <see cref="Expected"/>) with the rows read from it, the contributions in flight, and its flow state.
/// Changed only through the tracker; the intake reads it and decodes records into <see cref="Rows"/>.
/// </summary>
public sealed class TrackedPartition
{
    internal TrackedPartition(int partition, long now)
    {
        Partition = partition;
        PositionAskedAt = LastReadAt = StallCheckedAt = BatchStartedAt = now;
    }

    /// <summary>The partition number.</summary>
    public int Partition { get; }

    /// <summary>The ledger said where it resumes and the consumer was sought there: its records count.</summary>
    public bool Positioned { get; internal set; }

    /// <summary>The ledger query started when the partition was assigned is still unanswered.</summary>
    public bool Querying { get; internal set; }

    /// <summary>Fetching is paused (unpositioned, flow control or drain).</summary>
    public bool Paused { get; internal set; }

    /// <summary>Paused because its pending rows reached the window (<see cref="IntakeOptions.MaxPendingBatches"/>).</summary>
    public bool PausedForFlow { get; internal set; }

    /// <summary>The first offset of the pending range (everything before it was sent).</summary>
    public long From { get; internal set; }

    /// <summary>The next offset to read: the pending range is [From, Expected).</summary>
    public long Expected { get; internal set; }

    /// <summary>The accepted rows of the pending range (the intake decodes into it between <see cref="PartitionTracker.BeginRecord"/> and <see cref="PartitionTracker.Counted"/>).</summary>
    public RowBuffer Rows { get; } = new();

    /// <summary>Accepted records of the pending range.</summary>
    public long Accepted { get; internal set; }

    /// <summary>Rejected (dead-lettered) records of the pending range.</summary>
    public long Rejected { get; internal set; }

    /// <summary>Dead letters or scores were produced for the pending range: they must be delivered before it is sent (set and cleared by the intake).</summary>
    public bool ProducedSide { get; set; }

    /// <summary>The last read was the end of the partition.</summary>
    public bool AtEnd { get; internal set; }

    /// <summary>A seek that failed and is retried (-1: none).</summary>
    public long PendingSeek { get; internal set; } = -1;

    /// <summary>The high watermark seen at the end of the partition (-1: not yet).</summary>
    public long High { get; internal set; } = -1;

    /// <summary>Records to read, from the last status (high watermark minus <see cref="Expected"/>).</summary>
    public long Lag { get; internal set; }

    /// <summary>
    /// Where the partition went on after a loss it reported (-1: none pending): the coordinator answers the loss report with
    /// that position, which must not re-seek a partition already reading past it.
    /// </summary>
    public long ResumedAfterLoss { get; internal set; } = -1;

    /// <summary>Contributions sent and not yet acknowledged, oldest first: [From, To) and when each was sent.</summary>
    public IReadOnlyList<(long From, long To, long SentAt)> InFlight => InFlightList;

    /// <summary>The pending range holds nothing read (no rows, no counted record).</summary>
    public bool Empty => Rows.Rows == 0 && Accepted == 0 && Rejected == 0;

    /// <summary>
    /// Every offset below it that this position read was sent and acknowledged: the start of the oldest unacknowledged
    /// contribution, else <see cref="From"/>. An unfinished range (in flight or pending) always holds it back.
    /// </summary>
    public long Confirmed => InFlightList.Count > 0 ? InFlightList[0].From : From;

    internal List<(long From, long To, long SentAt)> InFlightList { get; } = [];
    internal long PositionAskedAt { get; set; }
    internal long LastReadAt { get; set; }
    internal long StallCheckedAt { get; set; }
    internal long BatchStartedAt { get; set; }
}

/// <summary>What an unpositioned partition needs now (<see cref="PartitionTracker.Unpositioned"/>).</summary>
public enum PositionAction
{
    /// <summary>Nothing: its query is out, or it is too early to retry.</summary>
    None,

    /// <summary>Seek again to <see cref="TrackedPartition.PendingSeek"/>: the last seek failed while the assignment settled.</summary>
    RetrySeek,

    /// <summary>Ask the ledger again where it resumes (the last question went unanswered).</summary>
    AskPosition,
}

/// <summary>Where a fetched record stands against its partition's next offset (<see cref="PartitionTracker.Locate"/>).</summary>
public enum ReadPlace
{
    /// <summary>Below the next offset: a re-delivery after a seek race, ignored.</summary>
    Behind,

    /// <summary>The next offset.</summary>
    Next,

    /// <summary>Past the next offset: the offsets between were passed over (deleted, markers, aborted or compacted records).</summary>
    Gap,
}

/// <summary>What an acknowledgement means for its partition (<see cref="PartitionTracker.Acknowledge"/>).</summary>
public enum AckResult
{
    /// <summary>For an older position of the partition, or a partition not (any more) assigned: ignored.</summary>
    Stale,

    /// <summary>The ledger refused the range: the partition must be positioned again.</summary>
    Refused,

    /// <summary>The range left the in-flight window.</summary>
    Accepted,
}

/// <summary>
/// The intake's per-partition bookkeeping (docs/ARCHITECTURE.md, "Streaming"), with no Kafka types and an injected clock,
/// so it is tested in milliseconds: the position of each assigned partition (next offset to read, the pending range not
/// yet sent, the resume point after an assignment, a refusal or a loss), the in-flight window (contributions sent and not
/// yet acknowledged, and the pending rows, both bounded), flow control (which partition to pause or resume, as answers the
/// consume loop carries out), the stall clock (how long a partition with lag has read nothing) and revocation (what must
/// be sent before a partition is let go). The intake keeps only the consume loop and the Kafka calls.
/// </summary>
public sealed class PartitionTracker
{
    private readonly Dictionary<int, TrackedPartition> _parts = [];
    private readonly IntakeOptions _options;
    private readonly TimeProvider _clock;
    private readonly int _batchRows;

    /// <param name="batchRows">Rows per contribution (the job's batch size).</param>
    public PartitionTracker(IntakeOptions options, int batchRows, TimeProvider clock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchRows, 1);
        _options = options.Validated();
        _batchRows = batchRows;
        _clock = clock;
    }

    /// <summary>Draining: nothing more is read; pending ranges go out, acknowledgements are awaited.</summary>
    public bool Draining { get; private set; }

    /// <summary>The assigned partitions.</summary>
    public IReadOnlyCollection<TrackedPartition> Partitions => _parts.Values;

    /// <summary>The assigned partition numbers.</summary>
    public IReadOnlyCollection<int> PartitionNumbers => _parts.Keys;

    /// <summary>Pending rows of one partition at which fetching it pauses.</summary>
    public int WindowRows => _options.MaxPendingBatches * _batchRows;

    /// <summary>The partition when it is assigned.</summary>
    public bool TryGet(int partition, [MaybeNullWhen(false)] out TrackedPartition state) => _parts.TryGetValue(partition, out state);

    /// <summary>An assigned partition (throws <see cref="KeyNotFoundException"/> when it is not assigned).</summary>
    public TrackedPartition this[int partition] => _parts[partition];

    /// <summary>The partition when it is assigned and positioned (its records count); a read of it restarts its stall clock.</summary>
    public TrackedPartition? Reading(int partition)
    {
        if (!_parts.TryGetValue(partition, out var s) || !s.Positioned) return null;
        s.LastReadAt = Now;
        return s;
    }

    private long Now => _clock.GetTimestamp();

    private TimeSpan Since(long timestamp) => _clock.GetElapsedTime(timestamp);

    // ---- assignment, positioning, revocation ----

    /// <summary>A partition assigned: unpositioned, its ledger query out. A new state each time, so an answer to an older assignment's query is recognised as stale.</summary>
    public TrackedPartition Assign(int partition)
    {
        var s = new TrackedPartition(partition, Now) { Querying = true };
        _parts[partition] = s;
        return s;
    }

    /// <summary>
    /// The answer to the ledger query of assignment <paramref name="s"/> came: false when it is stale (the partition was
    /// revoked or assigned again, or already positioned otherwise) or when draining, so the answer must be dropped.
    /// </summary>
    public bool QueryAnswered(TrackedPartition s)
    {
        if (!_parts.TryGetValue(s.Partition, out var current) || !ReferenceEquals(current, s) || !s.Querying) return false;
        s.Querying = false;
        return !s.Positioned && !Draining;
    }

    /// <summary>The partition asks the ledger (again) where it resumes: the retry clock restarts.</summary>
    public void AskingPosition(TrackedPartition s) => s.PositionAskedAt = Now;

    /// <summary>Unpositioned partitions not yet paused, now marked paused: the loop pauses them in the consumer.</summary>
    public IReadOnlyList<int> PauseUnpositioned()
    {
        var toPause = _parts.Values.Where(s => !s.Positioned && !s.Paused).ToList();
        foreach (var s in toPause) s.Paused = true;
        return toPause.Select(s => s.Partition).ToList();
    }

    /// <summary>The partition is already at <paramref name="next"/> with nothing in flight: a seek there changes nothing.</summary>
    public bool IsAt(int partition, long next) =>
        _parts.TryGetValue(partition, out var s) && s.Positioned && s.Expected == next && s.InFlightList.Count == 0;

    /// <summary>The ledger's position is the answer to this partition's own loss report: it already reads on from there (consumed).</summary>
    public bool IsOwnLossAnswer(int partition, long next)
    {
        if (!_parts.TryGetValue(partition, out var s) || !s.Positioned || s.ResumedAfterLoss < 0 || next != s.ResumedAfterLoss) return false;
        s.ResumedAfterLoss = -1;
        return true;
    }

    /// <summary>The consumer paused the partition.</summary>
    public void MarkPaused(TrackedPartition s) => s.Paused = true;

    /// <summary>
    /// The partition resumes at the ledger's <paramref name="next"/>: what was pending or in flight is forgotten (the ledger
    /// decides), the pending range starts there, and a late answer to its first ledger query is stale. The consumer seeks
    /// next; then <see cref="Sought"/> or <see cref="SeekFailed"/>.
    /// </summary>
    public void Position(TrackedPartition s, long next)
    {
        s.ResumedAfterLoss = -1;
        s.LastReadAt = Now;
        s.Rows.Clear();
        s.Accepted = s.Rejected = 0;
        s.InFlightList.Clear();
        s.From = s.Expected = next;
        s.Positioned = true;
        s.Querying = false;
        s.AtEnd = false;
    }

    /// <summary>The seek succeeded: the partition fetches again (the consumer resumes it).</summary>
    public void Sought(TrackedPartition s)
    {
        s.PendingSeek = -1;
        s.Paused = false;
        s.PausedForFlow = false;
    }

    /// <summary>The seek failed (the assignment is still settling): unpositioned, the seek is retried (<see cref="PositionAction.RetrySeek"/>).</summary>
    public void SeekFailed(TrackedPartition s, long next)
    {
        s.Positioned = false;
        s.PendingSeek = next;
        s.PositionAskedAt = Now;
    }

    /// <summary>
    /// Forgets what is pending and in flight and marks the partition unpositioned and asking the ledger. True when the
    /// consumer must pause it (it was fetching).
    /// </summary>
    public bool Unposition(TrackedPartition s)
    {
        s.InFlightList.Clear();
        s.Rows.Clear();
        s.Accepted = s.Rejected = 0;
        s.Positioned = false;
        s.PositionAskedAt = Now;
        bool pause = !s.Paused;
        s.Paused = true;
        return pause;
    }

    /// <summary>Drops a partition's pending rows together with their counters and range (never the rows alone): it is not positioned any more.</summary>
    public static void Forget(TrackedPartition s)
    {
        s.Rows.Clear();
        s.Accepted = s.Rejected = 0;
        s.From = s.Expected;
        s.Positioned = false;
    }

    /// <summary>
    /// An orderly revocation is starting: true when the partition's pending range must be sent before it is let go (so the
    /// next owner does not read it again); its in-flight window is emptied, since the window is flow control only and its
    /// acknowledgements no longer matter. Then <see cref="Remove"/>.
    /// </summary>
    public bool StartHandOver(int partition)
    {
        if (Draining || !_parts.TryGetValue(partition, out var s) || !s.Positioned || s.Expected <= s.From) return false;
        s.InFlightList.Clear();
        return true;
    }

    /// <summary>The partition is let go.</summary>
    public void Remove(int partition) => _parts.Remove(partition);

    // ---- reading ----

    /// <summary>Where a fetched record's offset stands against the partition's next offset.</summary>
    public static ReadPlace Locate(TrackedPartition s, long offset) =>
        offset < s.Expected ? ReadPlace.Behind : offset == s.Expected ? ReadPlace.Next : ReadPlace.Gap;

    /// <summary>The end of the partition at <paramref name="high"/> was read (after any gap before it was passed over).</summary>
    public static void ReachedEnd(TrackedPartition s, long high)
    {
        s.AtEnd = true;
        s.High = high;
    }

    /// <summary>A record at the next offset is about to be decoded into <see cref="TrackedPartition.Rows"/>; the first of a range starts its linger clock.</summary>
    public void BeginRecord(TrackedPartition s)
    {
        s.AtEnd = false;
        if (s.Empty) s.BatchStartedAt = Now;
    }

    /// <summary>
    /// The record at <paramref name="offset"/> was counted, accepted (its rows are in <see cref="TrackedPartition.Rows"/>) or
    /// rejected (dead-lettered): the pending range grows past it. True when the range must be sent now (a full batch, or
    /// <see cref="IntakeOptions.MaxRecordsPerContribution"/> records).
    /// </summary>
    public bool Counted(TrackedPartition s, long offset, bool accepted)
    {
        if (accepted) s.Accepted++;
        else s.Rejected++;
        s.Expected = offset + 1;
        return s.Rows.Rows >= _batchRows || s.Accepted + s.Rejected >= _options.MaxRecordsPerContribution;
    }

    /// <summary>
    /// After a read (and any send): true when the partition's pending rows fill the window and it must pause until
    /// acknowledgements drain it (marked paused for flow).
    /// </summary>
    public bool PauseForFlow(TrackedPartition s)
    {
        if (s.PausedForFlow || s.Rows.Rows < WindowRows) return false;
        s.PausedForFlow = true;
        s.Paused = true;
        return true;
    }

    /// <summary>
    /// Records [<paramref name="lostFrom"/>..) up to <paramref name="lostTo"/> were deleted by the broker and reported lost
    /// (after the pending range was sent): the partition reads on from <paramref name="lostTo"/>, and the ledger's answer to
    /// the loss report must not re-seek it.
    /// </summary>
    public static void LossReported(TrackedPartition s, long lostTo)
    {
        s.From = s.Expected = lostTo;
        s.ResumedAfterLoss = lostTo;
    }

    /// <summary>Offsets up to <paramref name="offset"/> delivered nothing but still exist (or were reported lost): the pending range covers them.</summary>
    public void PassedOver(TrackedPartition s, long offset)
    {
        if (s.Empty && s.Expected == s.From) s.BatchStartedAt = Now;
        s.Expected = offset;
    }

    // ---- the in-flight window ----

    /// <summary>The pending range may be sent: positioned, not empty, and room in the in-flight window (or <paramref name="force"/>: before a loss report).</summary>
    public bool CanSend(TrackedPartition s, bool force = false) =>
        s.Positioned && s.Expected != s.From && (s.InFlightList.Count < _options.MaxInFlight || force);

    /// <summary>The pending range [From, Expected) was sent as one contribution: it enters the window and a new range starts.</summary>
    public (long From, long To) Sent(TrackedPartition s)
    {
        var range = (s.From, s.Expected);
        s.InFlightList.Add((s.From, s.Expected, Now));
        s.From = s.Expected;
        s.Rows.Clear();
        s.Accepted = s.Rejected = 0;
        return range;
    }

    /// <summary>An acknowledgement of [from, to) for a partition.</summary>
    public AckResult Acknowledge(int partition, long from, long to, bool refused)
    {
        if (!_parts.TryGetValue(partition, out var s)) return AckResult.Stale;
        int i = s.InFlightList.FindIndex(x => x.From == from && x.To == to);
        if (i < 0) return AckResult.Stale;
        if (refused) return AckResult.Refused;
        s.InFlightList.RemoveAt(i);
        return AckResult.Accepted;
    }

    /// <summary>After an acknowledgement: a batch that grew while the window was full (or, draining, any pending range) goes out now.</summary>
    public bool SendAfterAck(TrackedPartition s) => s.Rows.Rows >= _batchRows || (Draining && s.Expected > s.From);

    /// <summary>After an acknowledgement (and any send): true when a partition paused for flow has room again and must resume (marked fetching).</summary>
    public bool ResumeAfterAck(TrackedPartition s)
    {
        if (!s.PausedForFlow || s.Rows.Rows >= WindowRows || Draining) return false;
        s.PausedForFlow = false;
        s.Paused = false;
        return true;
    }

    // ---- timers ----

    /// <summary>What an unpositioned partition needs now; <see cref="PositionAction.AskPosition"/> restarts its retry clock.</summary>
    public PositionAction Unpositioned(TrackedPartition s)
    {
        if (s.Positioned || s.Querying || Draining) return PositionAction.None;
        if (s.PendingSeek >= 0 && Since(s.PositionAskedAt) >= _options.SeekRetry) return PositionAction.RetrySeek;
        if (Since(s.PositionAskedAt) <= _options.PositionRetry) return PositionAction.None;
        s.PositionAskedAt = Now;
        return PositionAction.AskPosition;
    }

    /// <summary>The pending range has waited its linger time (or the intake drains): send it.</summary>
    public bool LingerDue(TrackedPartition s, double lingerMilliseconds) =>
        s.Positioned && s.Expected > s.From && (Draining || Since(s.BatchStartedAt).TotalMilliseconds >= lingerMilliseconds);

    /// <summary>The oldest contribution in flight went unacknowledged for <see cref="IntakeOptions.AckTimeout"/> (not while draining): the partition must be positioned again.</summary>
    public bool AckTimedOut(TrackedPartition s) =>
        !Draining && s.InFlightList.Count > 0 && Since(s.InFlightList[0].SentAt) > _options.AckTimeout;

    /// <summary>How long the partition has had lag without a record read from it; zero without lag.</summary>
    public TimeSpan Unread(TrackedPartition s) => s.Lag > 0 ? Since(s.LastReadAt) : TimeSpan.Zero;

    /// <summary>
    /// A partition with lag, fetching and not draining, that read nothing for <see cref="IntakeOptions.StallCheck"/> and was
    /// not checked for as long: it must be checked against the broker's log start now (the check clock restarts).
    /// </summary>
    public bool StallCheckDue(TrackedPartition s)
    {
        if (Draining || s.Paused || s.Lag <= 0 || Since(s.LastReadAt) < _options.StallCheck || Since(s.StallCheckedAt) < _options.StallCheck) return false;
        s.StallCheckedAt = Now;
        return true;
    }

    /// <summary>The partition's lag from a high watermark (-1 when unknown: the one seen at the end of the partition).</summary>
    public static long UpdateLag(TrackedPartition s, long high)
    {
        if (high < 0) high = s.High;
        return s.Lag = s.Positioned && high >= 0 ? Math.Max(0, high - s.Expected) : 0;
    }

    // ---- the whole intake ----

    /// <summary>Starts draining: the partitions the consumer must pause (all).</summary>
    public IReadOnlyCollection<int> BeginDrain()
    {
        Draining = true;
        return _parts.Keys;
    }

    /// <summary>Every assigned partition is positioned at its end with nothing pending or in flight.</summary>
    public bool AllAtEnd => _parts.Values.All(s => s.Positioned && s.AtEnd && s.InFlightList.Count == 0 && s.Expected == s.From);

    /// <summary>Nothing pending in a positioned partition and nothing in flight anywhere (a drain is complete).</summary>
    public bool AllAcknowledged => _parts.Values.All(s => s.InFlightList.Count == 0 && (!s.Positioned || s.Expected == s.From));

    /// <summary>Something waits for an answer (an acknowledgement, a position) or is paused for flow: the loop polls briefly.</summary>
    public bool Waiting => _parts.Values.Any(p => p.PausedForFlow || p.InFlightList.Count > 0 || !p.Positioned);
}
