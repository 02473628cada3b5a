using CsCheck;
using MvnStream.Core.Streaming;

namespace MvnStream.Core.Tests.Streaming;

public sealed class OffsetLedgerTests
{
    private const string T = "rows";

    [Fact]
    public void Contiguous_contributions_are_accepted_and_advance_next()
    {
        var l = new OffsetLedger();
        Assert.Equal(0, l.Position(T, 0, 0));
        Assert.Equal(LedgerDecision.Accept, l.Offer(T, 0, 0, 10));
        Assert.Equal(LedgerDecision.Accept, l.Offer(T, 0, 10, 25));
        Assert.Equal(25, l.Next(T, 0));
        Assert.Equal(25, l.RecordsCovered);
    }

    [Fact]
    public void Duplicate_is_acknowledged_and_dropped()
    {
        var l = new OffsetLedger();
        l.Position(T, 1, 0);
        l.Offer(T, 1, 0, 10);
        l.Offer(T, 1, 10, 20);
        Assert.Equal(LedgerDecision.Duplicate, l.Offer(T, 1, 0, 10));
        Assert.Equal(LedgerDecision.Duplicate, l.Offer(T, 1, 5, 20));
        Assert.Equal(LedgerDecision.Duplicate, l.Offer(T, 1, 0, 20));
        Assert.Equal(20, l.Next(T, 1));
    }

    [Fact]
    public void Gap_in_offsets_is_refused_and_next_is_unchanged()
    {
        var l = new OffsetLedger();
        l.Position(T, 2, 100);
        Assert.Equal(LedgerDecision.Refuse, l.Offer(T, 2, 110, 120));
        Assert.Equal(100, l.Next(T, 2));
        Assert.Equal(LedgerDecision.Accept, l.Offer(T, 2, 100, 110));
    }

    [Fact]
    public void Partial_overlap_is_refused_never_split()
    {
        var l = new OffsetLedger();
        l.Position(T, 0, 0);
        l.Offer(T, 0, 0, 10);
        Assert.Equal(LedgerDecision.Refuse, l.Offer(T, 0, 5, 15));
        Assert.Equal(10, l.Next(T, 0));
    }

    [Fact]
    public void Unknown_partition_is_refused_so_the_worker_asks_first()
    {
        var l = new OffsetLedger();
        Assert.Equal(LedgerDecision.Refuse, l.Offer(T, 3, 0, 5));
        Assert.Null(l.Next(T, 3));
    }

    [Fact]
    public void A_partition_whose_head_was_deleted_starts_at_the_low_watermark_and_counts_the_head_as_lost()
    {
        var l = new OffsetLedger();
        Assert.Equal(40, l.Position(T, 0, 40, out long lost));
        Assert.Equal(40, lost);
        Assert.Equal(40, l.RecordsLost);
        Assert.Equal(0, l.Partitions.Single().Start);
        l.Offer(T, 0, 40, 50);
        Assert.Equal(10, l.RecordsCovered);
        // A second worker (after a rebalance) with a different watermark view gets next, not its watermark.
        Assert.Equal(50, l.Position(T, 0, 0));
        Assert.Equal(50, l.Position(T, 0, 45));
    }

    [Fact]
    public void Retention_loss_moves_next_to_the_low_watermark_and_counts_the_lost_records()
    {
        var l = new OffsetLedger();
        l.Position(T, 0, 0);
        l.Offer(T, 0, 0, 10);
        Assert.Equal(90, l.RecordLoss(T, 0, 100));
        Assert.Equal(100, l.Next(T, 0));
        Assert.Equal(0, l.RecordLoss(T, 0, 50)); // stale report
        Assert.Equal(90, l.RecordsLost);
        Assert.Equal(10, l.RecordsCovered);
    }

    [Fact]
    public void Reassignment_race_old_and_new_owner_never_double_count()
    {
        // Worker A owns p and has [0,100) and [100,200) in flight; p moves to B, which asks next (= 100 after
        // A's first is merged) and sends [100,150), [150,300). A's late [100,200) must not count twice.
        var l = new OffsetLedger();
        l.Position(T, 0, 0);
        Assert.Equal(LedgerDecision.Accept, l.Offer(T, 0, 0, 100));
        Assert.Equal(100, l.Position(T, 0, 0));
        Assert.Equal(LedgerDecision.Accept, l.Offer(T, 0, 100, 150));   // B first
        Assert.Equal(LedgerDecision.Refuse, l.Offer(T, 0, 100, 200));   // A late: partial overlap
        Assert.Equal(LedgerDecision.Accept, l.Offer(T, 0, 150, 300));   // B continues
        Assert.Equal(LedgerDecision.Duplicate, l.Offer(T, 0, 100, 200)); // A retries: now a replay
        Assert.Equal(300, l.Next(T, 0));
    }

    [Fact]
    public void Random_interleavings_of_workers_cover_every_offset_exactly_once()
    {
        // Model: a partition of N records; several workers repeatedly "own" it, seek to a position (the ledger's
        // next, or a stale one), read batches of random sizes and send contributions that arrive in random
        // order. Whatever happens, the accepted ranges tile [start, next) with no overlap and no hole.
        Gen.Select(Gen.Int[1, 400], Gen.Int[1, 5], Gen.Int[0, int.MaxValue]).Sample((n, workers, seed) =>
        {
            var r = new Random(seed);
            var l = new OffsetLedger();
            var counted = new int[n];
            var inflight = new List<(long From, long To)>();
            var positions = new long[workers];
            for (int w = 0; w < workers; w++) positions[w] = l.Position(T, 0, 0);
            for (int step = 0; step < 2000 && (l.Next(T, 0) < n || inflight.Count > 0); step++)
            {
                int w = r.Next(workers);
                switch (r.Next(4))
                {
                    case 0: // re-seek from the ledger (assignment), or keep a stale position
                        positions[w] = r.Next(3) == 0 ? Math.Max(0, positions[w] - r.Next(0, 20)) : l.Position(T, 0, 0);
                        break;
                    case 1 or 2: // read a batch
                        if (positions[w] >= n) break;
                        long to = Math.Min(n, positions[w] + r.Next(1, 30));
                        inflight.Add((positions[w], to));
                        positions[w] = to;
                        break;
                    default: // deliver a random in-flight contribution
                        if (inflight.Count == 0) break;
                        int i = r.Next(inflight.Count);
                        var (from, end) = inflight[i];
                        inflight.RemoveAt(i);
                        if (l.Offer(T, 0, from, end) == LedgerDecision.Accept)
                            for (long o = from; o < end; o++) counted[o]++;
                        break;
                }
            }
            long next = l.Next(T, 0)!.Value;
            for (long o = 0; o < n; o++)
            {
                int expected = o < next ? 1 : 0;
                if (counted[o] != expected) throw new Exception($"seed {seed}: offset {o} counted {counted[o]} times (next = {next})");
            }
        }, iter: 500);
    }

    [Fact]
    public void Restore_round_trips_the_coverage()
    {
        var l = new OffsetLedger();
        l.Position(T, 0, 5);
        l.Offer(T, 0, 5, 9);
        l.Position("other", 3, 0);
        var copy = new OffsetLedger();
        copy.Restore(l.Partitions);
        Assert.Equal(9, copy.Next(T, 0));
        Assert.Equal(0, copy.Next("other", 3));
        Assert.Equal(LedgerDecision.Accept, copy.Offer(T, 0, 9, 12));
    }
}
