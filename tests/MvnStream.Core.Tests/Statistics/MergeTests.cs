using MvnStream.Core.Statistics;
using MvnStream.Core.Tests.Support;
using CsCheck;
using Cs = CsCheck;

namespace MvnStream.Core.Tests.Statistics;

/// <summary>Exact merge identities: statistics of any split, merged in any order, equal those of the whole.</summary>
public sealed class MergeTests
{
    // Merging reorders floating-point sums; 1e-12 relative is far above rounding for these sizes and
    // far below any real error (a missing row or a wrong delta term moves M by >1e-3 relative).
    private const double Tolerance = 1e-12;

    [Fact]
    public void Merge_of_random_split_equals_whole_in_any_order()
    {
        Cs.Gen.Select(Cs.Gen.Int[1, 9], Cs.Gen.Int[2, 300], Cs.Gen.Int[1, 8], Cs.Gen.Int[0, int.MaxValue])
            .Sample((d, n, shards, seed) =>
            {
                var r = new Random(seed);
                var rows = Draw.Rows(r, n, Draw.Vector(r, d, 10), Draw.LowerFactor(r, d));
                var whole = new SufficientStatistics(d);
                whole.AddBatch(rows, n);

                var cuts = Enumerable.Range(0, shards - 1).Select(_ => r.Next(0, n + 1)).Append(0).Append(n).Order().ToArray();
                var parts = new List<SufficientStatistics>();
                for (int s = 0; s + 1 < cuts.Length; s++)
                {
                    var part = new SufficientStatistics(d);
                    int k = cuts[s + 1] - cuts[s];
                    // Within a shard, add in random block sizes too.
                    int done = 0;
                    while (done < k)
                    {
                        int b = Math.Min(k - done, r.Next(1, 50));
                        part.AddBatch(rows.AsSpan((cuts[s] + done) * d, b * d), b);
                        done += b;
                    }
                    parts.Add(part);
                }
                var merged = new SufficientStatistics(d);
                foreach (var p in parts.OrderBy(_ => r.Next())) merged.Merge(p);
                AssertEqual(whole, merged, $"seed {seed} d={d} n={n} cuts=[{string.Join(",", cuts)}]");
            }, iter: 300);
    }

    [Fact]
    public void Operator_plus_is_merge_and_leaves_operands_unchanged()
    {
        const int seed = 11, d = 4;
        var r = new Random(seed);
        var a = new SufficientStatistics(d);
        var b = new SufficientStatistics(d);
        var rows = Draw.Rows(r, 60, Draw.Vector(r, d), Draw.LowerFactor(r, d));
        a.AddBatch(rows, 25);
        b.AddBatch(rows.AsSpan(25 * d), 35);
        var aCopy = a.Clone();
        var sum = a + b;
        var whole = new SufficientStatistics(d);
        whole.AddBatch(rows, 60);
        AssertEqual(whole, sum, $"seed {seed}");
        AssertEqual(aCopy, a, "operand a changed");
    }

    [Fact]
    public void Batch_statistics_equal_two_pass_definitions()
    {
        const int seed = 5, d = 5, n = 400;
        var r = new Random(seed);
        var rows = Draw.Rows(r, n, Draw.Vector(r, d, 1000), Draw.LowerFactor(r, d));
        var s = new SufficientStatistics(d);
        for (int done = 0; done < n; done += 37) s.AddBatch(rows.AsSpan(done * d, Math.Min(37, n - done) * d), Math.Min(37, n - done));

        // Two-pass oracle straight from the definitions.
        var mean = new double[d];
        for (int a = 0; a < n; a++) for (int j = 0; j < d; j++) mean[j] += rows[a * d + j] / n;
        var m = new double[d * d];
        var t = new double[d];
        double q = 0;
        for (int a = 0; a < n; a++)
        {
            var z = new double[d];
            double zz = 0;
            for (int j = 0; j < d; j++) { z[j] = rows[a * d + j] - mean[j]; zz += z[j] * z[j]; }
            for (int i = 0; i < d; i++) { t[i] += zz * z[i]; for (int j = 0; j < d; j++) m[i * d + j] += z[i] * z[j]; }
            q += zz * zz;
        }
        Assert.Equal(n, s.Count);
        Assert.True(Draw.RelativeError(s.Mean, mean) <= 1e-14, $"seed {seed}: mean");
        Assert.True(Draw.RelativeError(s.Scatter, m) <= 1e-11, $"seed {seed}: scatter {Draw.RelativeError(s.Scatter, m):E2}");
        Assert.True(Draw.RelativeError(s.ThirdMoment, t) <= 1e-9, $"seed {seed}: third moment {Draw.RelativeError(s.ThirdMoment, t):E2}");
        Assert.True(Math.Abs(s.FourthMoment - q) <= 1e-11 * q, $"seed {seed}: fourth moment");
    }

    [Fact]
    public void Weighted_rows_equal_repeated_rows()
    {
        const int seed = 9, d = 3;
        var r = new Random(seed);
        var rows = Draw.Rows(r, 20, Draw.Vector(r, d), Draw.LowerFactor(r, d));
        var weights = Enumerable.Range(0, 20).Select(_ => (double)r.Next(0, 4)).ToArray();
        var weighted = new SufficientStatistics(d);
        weighted.AddBatch(rows, 20, weights);
        var repeated = new SufficientStatistics(d);
        for (int a = 0; a < 20; a++)
            for (int k = 0; k < (int)weights[a]; k++)
                repeated.AddBatch(rows.AsSpan(a * d, d), 1);
        Assert.Equal(weights.Sum(), weighted.Weight, 12);
        Assert.True(Draw.RelativeError(weighted.Mean, repeated.Mean) <= 1e-13, $"seed {seed}: mean");
        Assert.True(Draw.RelativeError(weighted.Scatter, repeated.Scatter) <= 1e-12, $"seed {seed}: scatter");
        Assert.True(Math.Abs(weighted.FourthMoment - repeated.FourthMoment) <= 1e-11 * repeated.FourthMoment, $"seed {seed}: fourth");
    }

    [Fact]
    public void Forgetting_weights_each_row_by_factor_to_the_number_of_later_rows()
    {
        const int seed = 21, d = 2, n = 50;
        const double lambda = 0.9;
        var r = new Random(seed);
        var rows = Draw.Rows(r, n, Draw.Vector(r, d), Draw.LowerFactor(r, d));
        var forgetting = new SufficientStatistics(d);
        int[] blocks = [7, 1, 13, 29];
        int at = 0;
        foreach (var b in blocks) { forgetting.AddBatchWithForgetting(rows.AsSpan(at * d, b * d), b, lambda); at += b; }
        var explicitWeights = Enumerable.Range(0, n).Select(a => Math.Pow(lambda, n - 1 - a)).ToArray();
        var oracle = new SufficientStatistics(d);
        oracle.AddBatch(rows, n, explicitWeights);
        AssertEqual(oracle, forgetting, $"seed {seed}");
        Assert.Equal(n, forgetting.Count);
    }

    private static void AssertEqual(SufficientStatistics expected, SufficientStatistics actual, string context)
    {
        Assert.True(expected.Count == actual.Count, $"{context}: count {actual.Count} vs {expected.Count}");
        Assert.True(Math.Abs(expected.Weight - actual.Weight) <= Tolerance * expected.Weight, $"{context}: weight");
        double em = Draw.RelativeError(actual.Mean, expected.Mean);
        Assert.True(em <= Tolerance, $"{context}: mean rel err {em:E2}");
        double es = Draw.RelativeError(actual.Scatter, expected.Scatter);
        Assert.True(es <= Tolerance, $"{context}: scatter rel err {es:E2}");
        double scale = Math.Sqrt(expected.FourthMoment) * Math.Sqrt(Math.Max(expected.Weight, 1));
        double et = Draw.MaxAbsDiff(actual.ThirdMoment, expected.ThirdMoment) / Math.Max(scale, 1e-300);
        Assert.True(et <= 1e-10, $"{context}: third moment rel err {et:E2}");
        double eq = Math.Abs(actual.FourthMoment - expected.FourthMoment) / Math.Max(expected.FourthMoment, 1e-300);
        Assert.True(eq <= 1e-10, $"{context}: fourth moment rel err {eq:E2}");
    }
}
