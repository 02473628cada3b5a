using MvnStream.Core.Statistics;
using MvnStream.Core.Tests.Support;
using CsCheck;
using Cs = CsCheck;

namespace MvnStream.Core.Tests.Statistics;

/// <summary>
/// The per-column min and max of the statistics are exact: whatever the block sizes, the split into shards and the merge
/// order, they equal the min and max of the rows (the rows of weight 0 not counted), bit for bit.
/// </summary>
public sealed class ColumnRangeTests
{
    private static (double[] Min, double[] Max) Direct(double[] rows, int n, int d, Func<int, bool>? counted = null)
    {
        var lo = Enumerable.Repeat(double.PositiveInfinity, d).ToArray();
        var hi = Enumerable.Repeat(double.NegativeInfinity, d).ToArray();
        for (int a = 0; a < n; a++)
        {
            if (counted is not null && !counted(a)) continue;
            for (int j = 0; j < d; j++)
            {
                lo[j] = Math.Min(lo[j], rows[a * d + j]);
                hi[j] = Math.Max(hi[j], rows[a * d + j]);
            }
        }
        return (lo, hi);
    }

    [Fact]
    public void Min_and_max_of_any_split_merged_in_any_order_are_those_of_the_rows()
    {
        Cs.Gen.Select(Cs.Gen.Int[1, 21], Cs.Gen.Int[1, 400], Cs.Gen.Int[1, 6], Cs.Gen.Int[0, int.MaxValue])
            .Sample((d, n, shards, seed) =>
            {
                var r = new Random(seed);
                var rows = Draw.Rows(r, n, Draw.Vector(r, d, 1e6), Draw.LowerFactor(r, d));
                var (lo, hi) = Direct(rows, n, d);
                var cuts = Enumerable.Range(0, shards - 1).Select(_ => r.Next(0, n + 1)).Append(0).Append(n).Order().ToArray();
                var parts = new List<SufficientStatistics>();
                for (int s = 0; s + 1 < cuts.Length; s++)
                {
                    var part = new SufficientStatistics(d);
                    int k = cuts[s + 1] - cuts[s];
                    // Rows added in blocks of random size, some of them one at a time.
                    for (int a = cuts[s]; a < cuts[s + 1];)
                    {
                        int b = Math.Min(cuts[s + 1] - a, 1 + r.Next(0, 50));
                        part.AddBatch(rows.AsSpan(a * d, b * d), b);
                        a += b;
                    }
                    _ = k;
                    parts.Add(part);
                }
                var merged = new SufficientStatistics(d);
                foreach (var p in parts.OrderBy(_ => r.Next())) merged.Merge(p);
                Assert.Equal(lo, merged.ColumnMin.ToArray());
                Assert.Equal(hi, merged.ColumnMax.ToArray());
                var clone = merged.Clone();
                Assert.Equal(lo, clone.ColumnMin.ToArray());
                Assert.Equal(hi, clone.ColumnMax.ToArray());
            });
    }

    [Fact]
    public void Rows_of_weight_0_are_not_counted_and_empty_statistics_have_the_identities()
    {
        const int d = 3, n = 40;
        var r = new Random(11);
        var rows = Draw.Rows(r, n, Draw.Vector(r, d, 5), Draw.LowerFactor(r, d));
        rows[7 * d + 1] = 1e9; // a row of weight 0 holds the extreme value
        var w = Enumerable.Range(0, n).Select(a => a == 7 ? 0.0 : 0.5 + r.NextDouble()).ToArray();
        var s = new SufficientStatistics(d);
        Assert.True(double.IsPositiveInfinity(s.ColumnMin[0]) && double.IsNegativeInfinity(s.ColumnMax[0]));
        s.AddBatch(rows, n, w);
        var (lo, hi) = Direct(rows, n, d, a => a != 7);
        Assert.Equal(lo, s.ColumnMin.ToArray());
        Assert.Equal(hi, s.ColumnMax.ToArray());

        // Forgetting: every row keeps a positive weight, so every row counts.
        var f = new SufficientStatistics(d);
        f.AddBatchWithForgetting(rows, n, 0.99);
        var (flo, fhi) = Direct(rows, n, d);
        Assert.Equal(flo, f.ColumnMin.ToArray());
        Assert.Equal(fhi, f.ColumnMax.ToArray());

        // Statistics decayed to weight 0 are replaced by the next block, range included.
        f.Decay(0);
        f.AddBatch(rows.AsSpan(0, 2 * d), 2);
        var (zlo, zhi) = Direct(rows, 2, d);
        Assert.Equal(zlo, f.ColumnMin.ToArray());
        Assert.Equal(zhi, f.ColumnMax.ToArray());
    }
}
