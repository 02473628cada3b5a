using MvnStream.Core.Fitting;
using MvnStream.Core.Objective;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;
using MvnStream.Core.Tests.Support;

namespace MvnStream.Core.Tests.Fitting;

/// <summary>Singular data fails with its cause named, or fits with the regularisation asked for: never NaN.</summary>
public sealed class DegenerateDataTests
{
    private static SufficientStatistics Stats(double[] rows, int n, int d)
    {
        var s = new SufficientStatistics(d);
        s.AddBatch(rows, n);
        return s;
    }

    private static double[] Data(int seed, int n, int d, Action<double[]>? edit = null)
    {
        var r = new Random(seed);
        var rows = Draw.Rows(r, n, Draw.Vector(r, d, 3), Draw.LowerFactor(r, d));
        edit?.Invoke(rows);
        return rows;
    }

    public static IEnumerable<object[]> Degenerate()
    {
        const int d = 5;
        yield return ["fewer rows than dimensions", Data(1, 4, d), 4, d, "only n = 4 rows for d = 5"];
        yield return ["constant column", Data(2, 100, d, x => { for (int a = 0; a < 100; a++) x[a * d + 2] = 7.25; }), 100, d, "column 3 is constant"];
        yield return ["duplicated column", Data(3, 100, d, x => { for (int a = 0; a < 100; a++) x[a * d + 4] = x[a * d + 1]; }), 100, d, "columns 2 and 5 are duplicates"];
        yield return ["proportional column", Data(4, 100, d, x => { for (int a = 0; a < 100; a++) x[a * d + 3] = -2 * x[a * d + 0] + 1; }), 100, d, "columns 1 and 4 are duplicates"];
        yield return ["linear combination", Data(5, 100, d, x => { for (int a = 0; a < 100; a++) x[a * d + 4] = x[a * d + 0] + x[a * d + 2]; }), 100, d, "column 5 is a linear combination of columns 1..4"];
    }

    [Theory]
    [MemberData(nameof(Degenerate))]
    public void Singular_data_fails_with_the_cause_named(string what, double[] rows, int n, int d, string expected)
    {
        var stats = Stats(rows, n, d);
        foreach (var kind in new[] { SolverKind.ClosedForm, SolverKind.Lbfgs, SolverKind.Adam })
        {
            var e = Assert.Throws<DegenerateDataException>(() => MvnFitter.Fit(stats, new FitOptions { Solver = new SolverOptions { Kind = kind } }));
            Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), $"{what} ({kind}): message '{e.Message}' does not contain '{expected}'");
            Assert.Contains("--ridge", e.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Degenerate))]
    public void Singular_data_fits_with_ridge_or_shrinkage_and_never_gives_NaN(string what, double[] rows, int n, int d, string expected)
    {
        _ = expected;
        var stats = Stats(rows, n, d);
        var regs = new[]
        {
            new Regularization { Ridge = 1e-3 },
            new Regularization { Shrinkage = ShrinkageMode.LedoitWolf },
            new Regularization { Shrinkage = ShrinkageMode.Fixed, ShrinkageIntensity = 0.2 },
        };
        foreach (var reg in regs)
            foreach (var kind in new[] { SolverKind.ClosedForm, SolverKind.Lbfgs })
            {
                var fit = MvnFitter.Fit(stats, new FitOptions { Regularization = reg, Solver = new SolverOptions { Kind = kind, GradientTolerance = 1e-10 } });
                var s = fit.Theta.Covariance();
                Assert.True(s.All(double.IsFinite) && fit.Theta.Mu.All(double.IsFinite), $"{what} {reg} {kind}: NaN in the model");
                Assert.True(double.IsFinite(fit.NllPerRow), $"{what} {reg} {kind}: nll {fit.NllPerRow}");
                // The closed form of the regularised problem is the oracle for the iterative fit.
                var eff = EffectiveStatistics.From(stats, reg);
                double jStar = MvnObjective.OptimalValue(eff.N, eff.Scatter, d);
                Assert.True(fit.GapPerRow * n <= 1e-8 * Math.Abs(jStar) + 1e-9, $"{what} {reg} {kind}: gap {fit.GapPerRow:E3}");
                if (reg.Ridge > 0)
                    for (int i = 0; i < d; i++)
                        Assert.True(s[i * d + i] >= reg.Ridge * (1 - 1e-6), $"{what}: ridge not applied to S[{i},{i}] = {s[i * d + i]}");
            }
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("0.5")]
    public void Shrinkage_of_all_constant_columns_names_the_cause_and_only_ridge_as_remedy(string shrinkage)
    {
        // One row (or identical rows): M = 0, so tr(S) = 0 and the target (tr S / d) I is zero as well.
        const int d = 3;
        foreach (int n in new[] { 1, 4 })
        {
            var rows = Enumerable.Range(0, n).SelectMany(_ => new[] { 1.0, 2.0, 3.0 }).ToArray();
            var (mode, rho) = Regularization.ParseShrinkage(shrinkage);
            var e = Assert.Throws<DegenerateDataException>(() =>
                EffectiveStatistics.From(Stats(rows, n, d), new Regularization { Shrinkage = mode, ShrinkageIntensity = rho }));
            Assert.Contains("every column is constant", e.Message);
            Assert.Contains("--ridge", e.Message);
            Assert.DoesNotContain("--shrinkage auto", e.Message);
        }
    }

    [Fact]
    public void A_ridge_too_small_to_matter_says_so()
    {
        const int d = 5;
        var rows = Data(3, 100, d, x => { for (int a = 0; a < 100; a++) x[a * d + 4] = x[a * d + 1]; });
        var e = Assert.Throws<DegenerateDataException>(() => EffectiveStatistics.From(Stats(rows, 100, d), new Regularization { Ridge = 1e-300 }));
        Assert.Contains("ridge 1E-300 is too small", e.Message);
        Assert.Contains("--shrinkage auto", e.Message);
    }

    [Fact]
    public void Ledoit_Wolf_intensity_from_merged_statistics_equals_the_two_pass_formula()
    {
        const int seed = 17, d = 8, n = 30;
        var r = new Random(seed);
        var rows = Draw.Rows(r, n, Draw.Vector(r, d), Draw.LowerFactor(r, d));
        // Statistics accumulated in three merged shards.
        var stats = new SufficientStatistics(d);
        stats.AddBatch(rows.AsSpan(0, 10 * d), 10);
        var b = new SufficientStatistics(d);
        b.AddBatch(rows.AsSpan(10 * d, 20 * d), 20);
        stats.Merge(b);

        // Oracle: Ledoit & Wolf (2004), Lemma 3.2-3.4, straight from the centred rows.
        var mean = new double[d];
        for (int a = 0; a < n; a++) for (int j = 0; j < d; j++) mean[j] += rows[a * d + j] / n;
        var s = new double[d * d];
        for (int a = 0; a < n; a++)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++)
                    s[i * d + j] += (rows[a * d + i] - mean[i]) * (rows[a * d + j] - mean[j]) / n;
        double mu = Enumerable.Range(0, d).Sum(i => s[i * d + i]) / d;
        double delta2 = 0;
        for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) delta2 += Math.Pow(s[i * d + j] - (i == j ? mu : 0), 2);
        double beta2 = 0;
        for (int a = 0; a < n; a++)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++)
                    beta2 += Math.Pow((rows[a * d + i] - mean[i]) * (rows[a * d + j] - mean[j]) - s[i * d + j], 2);
        beta2 /= (double)n * n;
        double expected = Math.Min(beta2, delta2) / delta2;

        double actual = EffectiveStatistics.LedoitWolfIntensity(stats);
        Assert.True(Math.Abs(actual - expected) <= 1e-10, $"seed {seed}: intensity {actual:R} vs two-pass {expected:R}");
        Assert.InRange(actual, 1e-6, 1 - 1e-6);
    }
}
