using MvnStream.Core.Fitting;
using MvnStream.Core.Model;
using MvnStream.Core.Scoring;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;
using MvnStream.Core.Tests.Support;

namespace MvnStream.Core.Tests.Scoring;

public sealed class ScorerTests
{
    [Theory]
    [MemberData(nameof(TestVectors.Indices), MemberType = typeof(TestVectors))]
    public void Scores_under_the_fitted_mle_match_golden_values(int index)
    {
        var c = TestVectors.Cases[index];
        var stats = new SufficientStatistics(c.D);
        stats.AddBatch(c.Rows, c.N);
        var fit = MvnFitter.Fit(stats, new FitOptions { Solver = new SolverOptions { Kind = SolverKind.ClosedForm } });
        var scorer = new MvnScorer(fit.Theta);
        for (int i = 0; i < c.Scoring.Points.Length; i++)
        {
            var (ld, m2) = scorer.Score(c.Scoring.Points[i]);
            Assert.True(Math.Abs(ld - c.Scoring.LogDensity[i]) <= 1e-10 * Math.Max(1, Math.Abs(c.Scoring.LogDensity[i])), $"{c} point {i}: log density {ld:R} vs {c.Scoring.LogDensity[i]:R}");
            Assert.True(Math.Abs(m2 - c.Scoring.Mahalanobis2[i]) <= 1e-10 * Math.Max(1, c.Scoring.Mahalanobis2[i]), $"{c} point {i}: m2 {m2:R} vs {c.Scoring.Mahalanobis2[i]:R}");
        }
    }

    [Fact]
    public void Squared_Mahalanobis_distances_of_model_draws_follow_chi_square_d()
    {
        // Under the model m2 ~ chi2(d): the tail probabilities are Uniform(0,1). Kolmogorov-Smirnov at
        // n = 4000 has a 1% critical value of 1.63/sqrt(n) = 0.0258.
        const int seed = 124, d = 6, n = 40000;
        var r = new Random(seed);
        var mu = Draw.Vector(r, d, 2);
        var l = Draw.LowerFactor(r, d);
        var theta = new MvnParameters(mu, l, Parameterization.LowerTriangular);
        var scorer = new MvnScorer(theta);
        var rows = Draw.Rows(r, n, mu, l);
        var p = Enumerable.Range(0, n).Select(a => scorer.TailProbability(scorer.Mahalanobis2(rows.AsSpan(a * d, d)))).Order().ToArray();
        double ks = 0;
        for (int i = 0; i < n; i++) ks = Math.Max(ks, Math.Max(Math.Abs(p[i] - (double)i / n), Math.Abs(p[i] - (double)(i + 1) / n)));
        Assert.True(ks < 1.63 / Math.Sqrt(n), $"seed {seed}: KS statistic {ks:F4} >= {1.63 / Math.Sqrt(n):F4}");
    }
}
