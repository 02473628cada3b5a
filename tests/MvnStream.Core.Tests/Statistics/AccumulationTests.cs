using MvnStream.Core.Numerics;
using MvnStream.Core.Statistics;
using MvnStream.Core.Tests.Support;

namespace MvnStream.Core.Tests.Statistics;

/// <summary>
/// The accumulation path of <see cref="SufficientStatistics.AddBatch"/> on every kernel path it can take:
/// d below and above the 4- and 8-wide vector widths, blocks shorter than 4 rows (reference kernel),
/// blocks longer than a packed panel (256 rows) and than a cache chunk (16 d rows and 512 KiB), with and
/// without weights, into empty and non-empty statistics. Oracles are the definitions, two-pass.
/// </summary>
public sealed class AccumulationTests
{
    public static TheoryData<int, int> Shapes => new()
    {
        { 1, 40 }, { 3, 50 }, { 4, 300 }, { 5, 700 }, { 8, 300 }, { 13, 600 }, { 16, 520 }, { 33, 300 }, { 64, 2600 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void AddBatch_equals_the_weighted_two_pass_definitions(int d, int n)
    {
        int seed = 1000 + d;
        foreach (bool weighted in new[] { false, true })
        {
            var r = new Random(seed);
            var rows = Draw.Rows(r, n, Draw.Vector(r, d, 1000), Draw.LowerFactor(r, d));
            // Weights in [0, 3) with some exact zeros; unit weights when not weighted.
            var w = Enumerable.Range(0, n).Select(_ => weighted ? (r.Next(5) == 0 ? 0.0 : 3 * r.NextDouble()) : 1.0).ToArray();

            var s = new SufficientStatistics(d);
            // Uneven blocks: 1, 2 and 3 rows (reference kernel), then large ones (blocked kernel, panels, chunks).
            int[] sizes = [1, 2, 3, 37, 1100, n];
            int done = 0, b = 0;
            while (done < n)
            {
                int k = Math.Min(sizes[Math.Min(b++, sizes.Length - 1)], n - done);
                s.AddBatch(rows.AsSpan(done * d, k * d), k, weighted ? w.AsSpan(done, k) : default);
                done += k;
            }

            var (wsum, mean, m, t, q) = TwoPass(rows, w, d);
            string context = $"seed {seed} d={d} n={n} weighted={weighted}";
            Assert.Equal(n, s.Count);
            Assert.True(Math.Abs(s.Weight - wsum) <= 1e-13 * wsum, $"{context}: weight {s.Weight} vs {wsum}");
            // Rounding only: the mean (|xbar| ~ 1000, spread ~ 1) to a few ulps of |xbar|; M, T and Q are
            // sums of n terms reordered by blocking and merging, far below any real error (a lost row or a
            // wrong merge term moves them by > 1e-3 relative).
            Assert.True(Draw.RelativeError(s.Mean, mean) <= 1e-14, $"{context}: mean {Draw.RelativeError(s.Mean, mean):E2}");
            Assert.True(Draw.RelativeError(s.Scatter, m) <= 1e-11, $"{context}: scatter {Draw.RelativeError(s.Scatter, m):E2}");
            double tScale = Math.Sqrt(q) * Math.Sqrt(wsum);
            Assert.True(Draw.MaxAbsDiff(s.ThirdMoment, t) <= 1e-10 * tScale, $"{context}: third moment {Draw.MaxAbsDiff(s.ThirdMoment, t) / tScale:E2}");
            Assert.True(Math.Abs(s.FourthMoment - q) <= 1e-11 * q, $"{context}: fourth moment {Math.Abs(s.FourthMoment - q) / q:E2}");
            for (int i = 0; i < d; i++)
                for (int j = 0; j < i; j++)
                    Assert.True(s.Scatter[i * d + j] == s.Scatter[j * d + i], $"{context}: M[{i},{j}] != M[{j},{i}]");
        }
    }

    [Fact]
    public void A_bad_weight_anywhere_in_a_large_block_leaves_the_statistics_unchanged()
    {
        // d = 8: a block of 9000 rows is added in two cache chunks; the bad weight is in the second.
        const int seed = 8, d = 8, n = 9000;
        var r = new Random(seed);
        var rows = Draw.Rows(r, n, Draw.Vector(r, d), Draw.LowerFactor(r, d));
        var s = new SufficientStatistics(d);
        s.AddBatch(rows, 100);
        var before = s.Clone();
        var w = Enumerable.Repeat(1.0, n).ToArray();
        w[n - 1] = double.NaN;
        var e = Assert.Throws<ArgumentException>(() => s.AddBatch(rows, n, w));
        Assert.Contains($"weight of row {n - 1} is NaN", e.Message);
        Assert.Equal(before.Count, s.Count);
        Assert.Equal(before.Weight, s.Weight);
        Assert.True(before.Scatter.SequenceEqual(s.Scatter), $"seed {seed}: scatter changed");
        Assert.True(before.Mean.SequenceEqual(s.Mean), $"seed {seed}: mean changed");
    }

    [Fact]
    public void Huge_offset_with_unit_spread_keeps_the_scatter_exact()
    {
        // x = 1e8 + z with z on a 2^-10 grid: every x is exactly representable (ulp(1e8) = 2^-26), so the
        // oracle is the statistics of z, computed where rounding is negligible. Summing x x^T naively
        // would lose everything (1e16 against 1).
        const int seed = 77, d = 6, n = 5000;
        var r = new Random(seed);
        var z = new double[n * d];
        for (int i = 0; i < z.Length; i++) z[i] = Math.Round(Draw.Normal(r) * 1024) / 1024;
        var x = z.Select(v => 1e8 + v).ToArray();
        var s = new SufficientStatistics(d);
        for (int done = 0; done < n; done += 512) s.AddBatch(x.AsSpan(done * d, Math.Min(512, n - done) * d), Math.Min(512, n - done));

        var ones = Enumerable.Repeat(1.0, n).ToArray();
        var (_, zMean, m, _, _) = TwoPass(z, ones, d);
        for (int j = 0; j < d; j++)
            Assert.True(Math.Abs(s.Mean[j] - (1e8 + zMean[j])) <= 3e-8, $"seed {seed}: mean[{j}] off by {s.Mean[j] - (1e8 + zMean[j]):E2}");
        // The limit is the means themselves: near 1e8 they are representable only to 1.5e-8, which
        // perturbs each block's merge term delta delta^T n1 n2 / n (|delta| ~ 0.04) by ~1e-10 of M.
        // Measured 3.9e-10 (the same, to 3e-18, as the implementation before the fused kernels).
        double e = Draw.RelativeError(s.Scatter, m);
        Assert.True(e <= 5e-9, $"seed {seed}: scatter rel err {e:E2}");
    }

    [Theory]
    [InlineData(4, 4)]
    [InlineData(5, 7)]
    [InlineData(8, 256)]
    [InlineData(13, 257)]
    [InlineData(16, 100)]
    [InlineData(64, 600)]
    [InlineData(3, 9)]
    [InlineData(9, 3)]
    public void Centred_update_equals_the_kernel_on_the_explicitly_centred_block(int d, int k)
    {
        int seed = 31 * d + k;
        var r = new Random(seed);
        var rows = Draw.Rows(r, k, Draw.Vector(r, d, 50), Draw.LowerFactor(r, d));
        var c = Draw.Vector(r, d, 50);
        foreach (var w in new[] { Array.Empty<double>(), Enumerable.Range(0, k).Select(_ => 2 * r.NextDouble()).ToArray() })
        {
            var z = new double[k * d];
            for (int a = 0; a < k; a++)
                for (int j = 0; j < d; j++)
                {
                    double v = rows[a * d + j] - c[j];
                    z[a * d + j] = w.Length == 0 ? v : v * Math.Sqrt(w[a]);
                }
            const double Sentinel = 12345.5;
            var expected = new double[d * d];
            var actual = new double[d * d];
            for (int i = 0; i < d; i++)
                for (int j = i + 1; j < d; j++) expected[i * d + j] = actual[i * d + j] = Sentinel;
            Syrk.AccumulateLower(z, k, d, expected);
            Syrk.AccumulateCentredLower(rows, k, d, c, w, actual);
            // The packed values are the same doubles, so the same kernel gives the same bits.
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"seed {seed} d={d} k={k} weighted={w.Length > 0}");
            for (int i = 0; i < d; i++)
                for (int j = i + 1; j < d; j++)
                    Assert.True(actual[i * d + j] == Sentinel, $"seed {seed}: upper entry [{i},{j}] was written");

            // And the kernel against the definition.
            var naive = new double[d * d];
            for (int a = 0; a < k; a++)
                for (int i = 0; i < d; i++)
                    for (int j = 0; j <= i; j++) naive[i * d + j] += z[a * d + i] * z[a * d + j];
            for (int i = 0; i < d; i++)
                for (int j = i + 1; j < d; j++) naive[i * d + j] = Sentinel;
            Assert.True(Draw.RelativeError(actual, naive) <= 1e-13, $"seed {seed} d={d} k={k}: kernel vs definition {Draw.RelativeError(actual, naive):E2}");
        }
    }

    [Fact]
    public void Mirror_with_merge_terms_equals_the_scalar_update_and_is_exactly_symmetric()
    {
        const int seed = 3;
        var r = new Random(seed);
        for (int d = 1; d <= 41; d++)
        {
            var m = Draw.Vector(r, d * d);
            var o = Draw.Vector(r, d * d);
            var delta = Draw.Vector(r, d);
            double c = r.NextDouble();
            foreach (bool withOther in new[] { false, true })
            {
                var expected = (double[])m.Clone();
                for (int i = 0; i < d; i++)
                    for (int j = 0; j <= i; j++)
                    {
                        double v = expected[i * d + j];
                        if (withOther) v += o[i * d + j];
                        v += delta[i] * c * delta[j];
                        expected[i * d + j] = v;
                    }
                for (int i = 0; i < d; i++)
                    for (int j = i + 1; j < d; j++) expected[i * d + j] = expected[j * d + i];
                var actual = (double[])m.Clone();
                BlockKernels.AddToLowerAndMirror(actual, d, withOther ? o : default, c, delta);
                Assert.True(expected.AsSpan().SequenceEqual(actual), $"seed {seed} d={d} other={withOther}");
            }
        }
    }

    /// <summary>Weighted two-pass definitions: W, xbar, M, T = sum w |z|^2 z, Q = sum w |z|^4 with z = x - xbar.</summary>
    private static (double W, double[] Mean, double[] M, double[] T, double Q) TwoPass(double[] rows, double[] w, int d)
    {
        int n = w.Length;
        double wsum = w.Sum();
        var mean = new double[d];
        for (int a = 0; a < n; a++) for (int j = 0; j < d; j++) mean[j] += w[a] * rows[a * d + j];
        for (int j = 0; j < d; j++) mean[j] /= wsum;
        var corr = new double[d];
        for (int a = 0; a < n; a++) for (int j = 0; j < d; j++) corr[j] += w[a] * (rows[a * d + j] - mean[j]);
        for (int j = 0; j < d; j++) mean[j] += corr[j] / wsum;
        var m = new double[d * d];
        var t = new double[d];
        double q = 0;
        var z = new double[d];
        for (int a = 0; a < n; a++)
        {
            double zz = 0;
            for (int j = 0; j < d; j++) { z[j] = rows[a * d + j] - mean[j]; zz += z[j] * z[j]; }
            for (int i = 0; i < d; i++)
            {
                t[i] += w[a] * zz * z[i];
                for (int j = 0; j < d; j++) m[i * d + j] += w[a] * z[i] * z[j];
            }
            q += w[a] * zz * zz;
        }
        return (wsum, mean, m, t, q);
    }
}
