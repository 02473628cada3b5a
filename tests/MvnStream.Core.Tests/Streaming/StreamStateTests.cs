using CsCheck;
using MvnStream.Core.Model;
using MvnStream.Core.Statistics;
using MvnStream.Core.Streaming;

namespace MvnStream.Core.Tests.Streaming;

/// <summary>
/// The stream's state and rules without Akka or Kafka: merging through the ledger, forgetting, loss accounting. Records of a partition are
/// modelled as integer-valued rows derived from their offsets, so the oracles are exact: counts and weights are integers, the moments
/// are compared with the same rows summed in integer arithmetic.
/// </summary>
public sealed class StreamStateTests
{
    private const string T = "rows";
    private const int D = 3;

    /// <summary>The row of the record at <paramref name="offset"/>, or null for a record a worker rejects (every 13th).</summary>
    internal static double[]? Row(long offset) => offset % 13 == 5 ? null : [offset % 7, (offset * 3) % 11 - 5, (offset * offset) % 17];

    /// <summary>A worker's contribution of [from, to): statistics of the accepted records' rows, the counts of both kinds.</summary>
    internal static Contribution Read(long from, long to, int partition = 0, string topic = T)
    {
        var s = new SufficientStatistics(D);
        long accepted = 0, rejected = 0;
        for (long o = from; o < to; o++)
        {
            if (Row(o) is { } row) { s.Add(row); accepted++; }
            else rejected++;
        }
        return new Contribution(topic, partition, from, to, accepted, rejected, accepted > 0 ? s : null);
    }

    private static StreamState Positioned(double forgetting = 1, UpdatePolicy? policy = null, ManualClock? clock = null, params int[] partitions)
    {
        var state = new StreamState(D, forgetting, policy, clock ?? new ManualClock());
        foreach (int p in partitions.DefaultIfEmpty(0)) state.Position(T, p, 0, out _);
        return state;
    }

    [Fact]
    public void Accepted_contributions_merge_to_exactly_the_statistics_of_their_rows()
    {
        var state = Positioned();
        var a = Read(0, 40);
        var b = Read(40, 100);
        Assert.Equal(MergeOutcome.Accepted, state.Offer(a).Outcome);
        var result = state.Offer(b);
        Assert.Equal(MergeOutcome.Accepted, result.Outcome);
        Assert.Equal(100, result.Next);

        // The merge identity: the state holds a + b, merged in the same order (bitwise the same operations).
        var expected = a.Statistics!.Clone();
        expected.Merge(b.Statistics!);
        AssertSame(expected, state.Statistics);
        Assert.Equal(a.AcceptedRecords + b.AcceptedRecords, state.AcceptedRecords);
        Assert.Equal(a.RejectedRecords + b.RejectedRecords, state.RejectedRecords);
        Assert.Equal(100, state.AcceptedRecords + state.RejectedRecords);
        Assert.True(state.RejectedRecords > 0); // the model does reject some records
        AssertMomentsOf(state.Statistics, 0, 100);
    }

    [Fact]
    public void A_malformed_contribution_changes_nothing_and_the_same_range_is_accepted_when_whole()
    {
        var state = Positioned();
        state.Offer(Read(0, 30));
        long changes = state.Changes;
        var whole = Read(30, 60);

        // Rows missing: it claims more accepted records than it carries rows (a worker that lost part of its batch).
        var partial = Read(30, 59);
        var missing = whole with { Statistics = partial.Statistics };
        var r1 = state.Offer(missing);
        Assert.Equal(MergeOutcome.Malformed, r1.Outcome);
        Assert.Contains("accepted records", r1.Problem);
        // Rows without accepted records, and statistics of another dimension.
        Assert.Equal(MergeOutcome.Malformed, state.Offer(whole with { AcceptedRecords = 0, RejectedRecords = 30 }).Outcome);
        var wide = new SufficientStatistics(D + 1);
        for (int i = 0; i < whole.AcceptedRecords; i++) wide.Add([1, 2, 3, 4]);
        var r3 = state.Offer(whole with { Statistics = wide });
        Assert.Equal(MergeOutcome.Malformed, r3.Outcome);
        Assert.Contains("dimension 4", r3.Problem);

        Assert.Equal(30, state.Ledger.Next(T, 0));
        Assert.Equal(changes, state.Changes);
        Assert.Equal(0, state.Refused + state.Duplicates);
        AssertMomentsOf(state.Statistics, 0, 30);

        Assert.Equal(MergeOutcome.Accepted, state.Offer(whole).Outcome);
        AssertMomentsOf(state.Statistics, 0, 60);
    }

    [Fact]
    public void Duplicate_and_overlapping_contributions_are_counted_and_not_merged()
    {
        var state = Positioned();
        state.Offer(Read(0, 50));
        state.Offer(Read(50, 80));
        var before = state.Statistics.Clone();
        long accepted = state.AcceptedRecords, changes = state.Changes;

        var dup = state.Offer(Read(0, 50));      // a replay
        var dup2 = state.Offer(Read(20, 80));    // a replay ending at next
        var overlap = state.Offer(Read(60, 90)); // starts inside what is counted, ends beyond: never split
        var gap = state.Offer(Read(85, 95));     // a hole before it
        var unknown = state.Offer(Read(0, 10, partition: 7)); // a partition never positioned

        Assert.Equal([MergeOutcome.Duplicate, MergeOutcome.Duplicate, MergeOutcome.Refused, MergeOutcome.Refused, MergeOutcome.Refused],
            new[] { dup, dup2, overlap, gap, unknown }.Select(r => r.Outcome));
        Assert.All(new[] { dup, dup2, overlap, gap }, r => Assert.Equal(80, r.Next));
        Assert.Equal(-1, unknown.Next);
        Assert.Equal(2, state.Duplicates);
        Assert.Equal(3, state.Refused);
        AssertSame(before, state.Statistics);
        Assert.Equal(accepted, state.AcceptedRecords);
        Assert.Equal(changes, state.Changes);
    }

    [Fact]
    public void Random_deliveries_never_let_the_ledger_cover_rows_absent_from_the_statistics()
    {
        // Workers read batches from the ledger's position (or a stale one), some lose rows of a batch (malformed), and contributions
        // arrive in any order, some twice. After every delivery the statistics hold exactly the rows of the records the ledger covers.
        Gen.Select(Gen.Int[1, 300], Gen.Int[1, 4], Gen.Int[0, int.MaxValue]).Sample((n, workers, seed) =>
        {
            var r = new Random(seed);
            var state = Positioned(partitions: [0, 1]);
            var inflight = new List<Contribution>();
            var positions = new long[workers, 2];
            for (int step = 0; step < 1000; step++)
            {
                int w = r.Next(workers), p = r.Next(2);
                switch (r.Next(5))
                {
                    case 0:
                        positions[w, p] = r.Next(3) == 0 ? Math.Max(0, positions[w, p] - r.Next(0, 20)) : state.Ledger.Next(T, p)!.Value;
                        break;
                    case 1 or 2:
                        if (positions[w, p] >= n) break;
                        long to = Math.Min(n, positions[w, p] + r.Next(1, 30));
                        var c = Read(positions[w, p], to, p);
                        if (r.Next(8) == 0 && c.Statistics is { Count: > 1 })
                            c = c with { Statistics = Read(positions[w, p], to - 1, p).Statistics }; // a row went missing
                        inflight.Add(c);
                        positions[w, p] = to;
                        break;
                    default:
                        if (inflight.Count == 0) break;
                        int i = r.Next(inflight.Count);
                        var d = inflight[i];
                        if (r.Next(4) != 0) inflight.RemoveAt(i); // else delivered again later
                        state.Offer(d);
                        long covered0 = state.Ledger.Next(T, 0)!.Value, covered1 = state.Ledger.Next(T, 1)!.Value;
                        long rows = RowsIn(0, covered0) + RowsIn(0, covered1);
                        if (state.Statistics.Count != rows || state.AcceptedRecords + state.RejectedRecords != covered0 + covered1)
                            throw new Exception($"seed {seed}: the ledger covers [0,{covered0}) and [0,{covered1}) = {rows} rows, the statistics hold {state.Statistics.Count}");
                        break;
                }
            }
        }, iter: 100);
    }

    [Fact]
    public void Forgetting_down_weights_what_was_counted_once_per_row_that_arrives_after_it()
    {
        const double f = 0.99;
        var state = Positioned(forgetting: f);
        var a = Read(0, 40);
        var b = Read(40, 65);
        state.Offer(a);
        state.Offer(b);

        var expected = a.Statistics!.Clone();
        expected.Decay(Math.Pow(f, b.Statistics!.Count));
        expected.Merge(b.Statistics);
        AssertSame(expected, state.Statistics);
        Assert.Equal(a.Statistics.Count + b.Statistics.Count, state.Statistics.Count); // n counts rows, the weight forgets
        Assert.Equal(a.Statistics.Count * Math.Pow(f, b.Statistics.Count) + b.Statistics.Count, state.Statistics.Weight, 12);
    }

    [Fact]
    public void A_forgetting_factor_outside_0_1_or_an_unknown_dimension_is_refused()
    {
        Assert.Contains("forgetting factor 1.5", Assert.Throws<ArgumentException>(() => new StreamState(D, 1.5)).Message);
        Assert.Throws<ArgumentException>(() => new StreamState(D, 0));
        Assert.Throws<ArgumentException>(() => new StreamState(D, double.NaN));
        Assert.Contains("dimension d", Assert.Throws<ArgumentException>(() => new StreamState(0, 1)).Message);
    }

    [Fact]
    public void A_partition_whose_head_was_deleted_before_the_first_read_is_counted_as_lost_from_offset_0()
    {
        var state = Positioned();
        long next = state.Position(T, 3, 120, out var loss);
        Assert.Equal(120, next);
        Assert.Equal(new LossReport(T, 3, 0, 120, 120, LossCause.BeforeFirstRead), loss);
        Assert.Equal(120, state.LostRecords);
        Assert.Contains("LOST 120 records of rows/3 (offsets 0..119)", loss!.Describe());
        Assert.Contains("before this job first read the partition", loss.Describe());

        // Asked again (another worker, the same partition): no second loss.
        Assert.Equal(120, state.Position(T, 3, 150, out var again));
        Assert.Null(again);
        Assert.Equal(120, state.LostRecords);
    }

    [Fact]
    public void Records_deleted_while_waiting_are_lost_from_next_and_a_stale_report_changes_nothing()
    {
        var state = Positioned();
        state.Offer(Read(0, 40));
        long changes = state.Changes;
        long next = state.RecordLoss(T, 0, 100, workerNext: 40, out var loss);
        Assert.Equal(100, next);
        Assert.Equal(new LossReport(T, 0, 40, 100, 60, LossCause.FellBehind), loss);
        Assert.Contains("fell behind", loss!.Describe());
        Assert.Equal(60, state.LostRecords);
        Assert.Equal(changes + 1, state.Changes);

        // Stale (the low watermark is not above next): nothing lost, the worker resumes at next.
        Assert.Equal(100, state.RecordLoss(T, 0, 90, workerNext: 90, out var stale));
        Assert.Null(stale);
        Assert.Equal(60, state.LostRecords);

        // The ledger covers [0, 100) of which 60 lost: the statistics hold exactly the rows of the 40 read.
        Assert.Equal(40, state.Ledger.RecordsCovered);
        AssertMomentsOf(state.Statistics, 0, 40);
        Assert.Equal(MergeOutcome.Accepted, state.Offer(Read(100, 130)).Outcome);
        Assert.Equal(RowsIn(0, 40) + RowsIn(100, 130), state.Statistics.Count);

        // A partition positioned but never read: a loss there is one before its first read.
        state.Position(T, 1, 0, out _);
        state.RecordLoss(T, 1, 25, workerNext: 0, out var early);
        Assert.Equal(LossCause.BeforeFirstRead, early!.Cause);
        Assert.Equal(85, state.LostRecords);
        Assert.Equal(85, state.Ledger.RecordsLost);
    }

    [Fact]
    public void Idleness_is_measured_from_the_last_accepted_merge_on_the_injected_clock()
    {
        var clock = new ManualClock();
        var state = Positioned(clock: clock);
        state.Start();
        clock.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(TimeSpan.FromSeconds(3), state.SinceLastMerge);
        state.Offer(Read(0, 10));
        clock.Advance(TimeSpan.FromSeconds(2));
        state.Offer(Read(0, 10)); // a duplicate is not activity
        state.Offer(Read(50, 60)); // nor is a refusal
        Assert.Equal(TimeSpan.FromSeconds(2), state.SinceLastMerge);
        Assert.Equal(TimeSpan.FromSeconds(5), state.Elapsed);
    }

    /// <summary>Rows (accepted records) among offsets [from, to).</summary>
    internal static long RowsIn(long from, long to)
    {
        long n = 0;
        for (long o = from; o < to; o++) if (Row(o) is not null) n++;
        return n;
    }

    internal static void AssertSame(SufficientStatistics expected, SufficientStatistics actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.Weight, actual.Weight);
        Assert.Equal(expected.Mean.ToArray(), actual.Mean.ToArray());
        Assert.Equal(expected.Scatter.ToArray(), actual.Scatter.ToArray());
        Assert.Equal(expected.ThirdMoment.ToArray(), actual.ThirdMoment.ToArray());
        Assert.Equal(expected.FourthMoment, actual.FourthMoment);
        Assert.Equal(expected.ColumnMin.ToArray(), actual.ColumnMin.ToArray());
        Assert.Equal(expected.ColumnMax.ToArray(), actual.ColumnMax.ToArray());
    }

    /// <summary>
    /// Count and weight exact; mean and scatter equal, to rounding, to the rows of [from, to) summed in integers:
    /// n sum x_i x_j - sum x_i sum x_j is exact in long arithmetic for these small integer rows.
    /// </summary>
    internal static void AssertMomentsOf(SufficientStatistics s, long from, long to)
    {
        var sum = new long[D];
        var cross = new long[D * D];
        long n = 0;
        for (long o = from; o < to; o++)
        {
            if (Row(o) is not { } row) continue;
            n++;
            for (int i = 0; i < D; i++)
            {
                sum[i] += (long)row[i];
                for (int j = 0; j < D; j++) cross[i * D + j] += (long)row[i] * (long)row[j];
            }
        }
        Assert.Equal(n, s.Count);
        Assert.Equal(n, s.Weight);
        for (int i = 0; i < D; i++) Assert.Equal((double)sum[i] / n, s.Mean[i], 12);
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++)
            {
                double exact = (double)(n * cross[i * D + j] - sum[i] * sum[j]) / n;
                Assert.True(Math.Abs(exact - s.Scatter[i * D + j]) <= 1e-10 * Math.Max(1, Math.Abs(exact)), $"scatter[{i},{j}] = {s.Scatter[i * D + j]}, exact {exact}");
            }
    }
}

/// <summary>A clock tests move by hand: time passes only in <see cref="Advance"/>.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _ticks;
    private readonly DateTimeOffset _origin = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    public void Advance(TimeSpan by) => _ticks += by.Ticks;

    public override DateTimeOffset GetUtcNow() => _origin.AddTicks(_ticks);

    public override long GetTimestamp() => _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
}
