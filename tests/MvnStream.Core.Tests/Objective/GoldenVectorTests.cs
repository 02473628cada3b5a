using MvnStream.Core.Model;
using MvnStream.Core.Objective;
using MvnStream.Core.Statistics;
using MvnStream.Core.Tests.Support;

namespace MvnStream.Core.Tests.Objective;

/// <summary>J and gradients against golden values computed outside the product (numpy + PyTorch autograd).</summary>
public sealed class GoldenVectorTests
{
    // The golden values agree with autograd to 1e-10; our O(d^3) route differs only by rounding.
    private const double Tolerance = 1e-10;

    [Theory]
    [MemberData(nameof(TestVectors.Indices), MemberType = typeof(TestVectors))]
    public void J_and_gradients_from_statistics_match_golden_values(int index)
    {
        var c = TestVectors.Cases[index];
        var stats = new SufficientStatistics(c.D);
        stats.AddBatch(c.Rows, c.N);
        Check(c, (theta, gm, gl) => MvnObjective.Evaluate(stats, theta, gm, gl));
    }

    [Theory]
    [MemberData(nameof(TestVectors.Indices), MemberType = typeof(TestVectors))]
    public void J_and_gradients_from_raw_rows_match_golden_values(int index)
    {
        var c = TestVectors.Cases[index];
        Check(c, (theta, gm, gl) => MvnObjective.EvaluateRows(c.Rows, c.N, theta, gm, gl));
    }

    private delegate double Eval(MvnParameters theta, Span<double> gradMu, Span<double> gradLambda);

    private static void Check(TestVectorCase c, Eval eval)
    {
        int d = c.D;
        var lambda = TestVectorCase.Flatten(c.Lambda);
        // Full parameterization: the seed's gradient.
        var full = new MvnParameters(c.Mu, lambda, Parameterization.Full);
        var gm = new double[d];
        var gl = new double[d * d];
        double j = eval(full, gm, gl);
        Assert.True(Math.Abs(j - c.J) <= Tolerance * Math.Abs(c.J), $"{c}: J {j:R} vs golden {c.J:R}");
        Assert.True(Draw.RelativeError(gm, c.GradMu) <= Tolerance, $"{c}: gradMu rel err {Draw.RelativeError(gm, c.GradMu):E2}");
        var gold = TestVectorCase.Flatten(c.GradLambda);
        Assert.True(Draw.RelativeError(gl, gold) <= Tolerance, $"{c}: gradLambda rel err {Draw.RelativeError(gl, gold):E2}");

        if (!c.LambdaIsLowerTriangular) return;
        var tril = new MvnParameters(c.Mu, lambda, Parameterization.LowerTriangular);
        double jt = eval(tril, gm, gl);
        Assert.True(Math.Abs(jt - c.J) <= Tolerance * Math.Abs(c.J), $"{c}: tril J {jt:R} vs golden {c.J:R}");
        var goldTril = TestVectorCase.Flatten(c.GradLambdaLowerTriangle);
        Assert.True(Draw.RelativeError(gl, goldTril) <= Tolerance, $"{c}: tril gradLambda rel err {Draw.RelativeError(gl, goldTril):E2}");
    }

    [Theory]
    [MemberData(nameof(TestVectors.Indices), MemberType = typeof(TestVectors))]
    public void Closed_form_optimum_matches_golden_mle(int index)
    {
        var c = TestVectors.Cases[index];
        var stats = new SufficientStatistics(c.D);
        stats.AddBatch(c.Rows, c.N);
        double jStar = MvnObjective.OptimalValue(stats.Weight, stats.Scatter, c.D);
        Assert.True(Math.Abs(jStar - c.Mle.J) <= 1e-12 * Math.Abs(c.Mle.J), $"{c}: J* {jStar:R} vs golden {c.Mle.J:R}");
        Assert.True(Draw.RelativeError(stats.Mean, c.Mle.Mu) <= 1e-13, $"{c}: mean");
        var s = stats.Scatter.ToArray().Select(v => v / stats.Weight).ToArray();
        Assert.True(Draw.RelativeError(s, TestVectorCase.Flatten(c.Mle.Covariance)) <= 1e-12, $"{c}: covariance");
    }
}
