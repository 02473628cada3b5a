namespace MvnStream.Core.Streaming;

/// <summary>The coordinator's decision on one contribution (docs/ARCHITECTURE.md, "The offset ledger").</summary>
public enum LedgerDecision
{
    /// <summary>from == next[p]: merge it; next[p] becomes to.</summary>
    Accept,

    /// <summary>to &lt;= next[p]: already counted (a replay after a rebalance or restart): acknowledge and drop.</summary>
    Duplicate,

    /// <summary>A gap (from &gt; next[p]), a partial overlap, or an unknown partition: refuse; the worker re-seeks to next[p].</summary>
    Refuse,
}

/// <summary>One partition's coverage: the merged statistics cover exactly offsets [Start, Next); Lost were deleted unread.</summary>
public readonly record struct PartitionCoverage(string Topic, int Partition, long Start, long Next, long Lost);

/// <summary>
/// The exactly-once offset ledger (docs/ARCHITECTURE.md, "The offset ledger"). For each partition p it keeps next[p] such that the merged
/// statistics cover exactly [start[p], next[p]): each record once, none skipped. A contribution
/// (p, from, to) is merged only if from == next[p]; a replay (to &lt;= next[p]) is dropped; anything else
/// is refused, never split or guessed. Not thread-safe: owned by the coordinator actor.
/// </summary>
public sealed class OffsetLedger
{
    private readonly Dictionary<(string Topic, int Partition), PartitionCoverage> _partitions = [];

    public IReadOnlyCollection<PartitionCoverage> Partitions => _partitions.Values;

    /// <summary>next[p], or null when the partition has never been positioned.</summary>
    public long? Next(string topic, int partition) =>
        _partitions.TryGetValue((topic, partition), out var c) ? c.Next : null;

    /// <summary>
    /// Where a worker newly given partition p must seek: next[p]. A partition seen for the first time is
    /// covered from offset 0; when the broker has already deleted its head (the asking worker's low
    /// watermark is above 0), those records are counted as lost, never silently skipped:
    /// <paramref name="lostBeforeStart"/> says how many.
    /// </summary>
    public long Position(string topic, int partition, long lowWatermark, out long lostBeforeStart)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lowWatermark);
        var key = (topic, partition);
        lostBeforeStart = 0;
        if (_partitions.TryGetValue(key, out var c)) return c.Next;
        lostBeforeStart = lowWatermark;
        _partitions[key] = new PartitionCoverage(topic, partition, 0, lowWatermark, lowWatermark);
        return lowWatermark;
    }

    /// <summary><see cref="Position(string, int, long, out long)"/> when the caller does not need the loss count.</summary>
    public long Position(string topic, int partition, long lowWatermark) => Position(topic, partition, lowWatermark, out _);

    /// <summary>Decides a contribution and, when accepted, advances next[p] to <paramref name="to"/>.</summary>
    public LedgerDecision Offer(string topic, int partition, long from, long to)
    {
        if (from < 0 || to < from) throw new ArgumentException($"invalid offset range [{from}, {to}) for {topic}/{partition}");
        var key = (topic, partition);
        if (!_partitions.TryGetValue(key, out var c)) return LedgerDecision.Refuse;
        if (to <= c.Next) return LedgerDecision.Duplicate;
        if (from != c.Next) return LedgerDecision.Refuse;
        _partitions[key] = c with { Next = to };
        return LedgerDecision.Accept;
    }

    /// <summary>
    /// Records [next[p], lowWatermark) were deleted by retention before they were read: they can never be
    /// counted. Moves next[p] to the low watermark and returns how many were lost (0 if the report is stale).
    /// </summary>
    public long RecordLoss(string topic, int partition, long lowWatermark)
    {
        var key = (topic, partition);
        if (!_partitions.TryGetValue(key, out var c) || lowWatermark <= c.Next) return 0;
        long lost = lowWatermark - c.Next;
        _partitions[key] = c with { Next = lowWatermark, Lost = c.Lost + lost };
        return lost;
    }

    /// <summary>Restores the ledger from a checkpoint.</summary>
    public void Restore(IEnumerable<PartitionCoverage> coverage)
    {
        ArgumentNullException.ThrowIfNull(coverage);
        _partitions.Clear();
        foreach (var c in coverage)
        {
            if (c.Start < 0 || c.Next < c.Start || c.Lost < 0) throw new ArgumentException($"invalid coverage {c}");
            _partitions[(c.Topic, c.Partition)] = c;
        }
    }

    /// <summary>Total records the ledger covers: sum of next - start - lost (accepted + rejected, when consistent).</summary>
    public long RecordsCovered => _partitions.Values.Sum(c => c.Next - c.Start - c.Lost);

    public long RecordsLost => _partitions.Values.Sum(c => c.Lost);
}
