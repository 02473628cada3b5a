using MvnStream.Core.Model;
using MvnStream.Core.Objective;
using MvnStream.Core.Statistics;
using MvnStream.Core.Tests.Support;

namespace MvnStream.Core.Tests.Objective;

/// <summary>Both gradient routes against central finite differences of J (an independent oracle).</summary>
public sealed class FiniteDifferenceTests
{
    public static IEnumerable<object[]> Cases() =>
        from d in new[] { 1, 2, 5, 20 }
        from p in new[] { Parameterization.LowerTriangular, Parameterization.Full }
        from route in new[] { "statistics", "rows" }
        select new object[] { d, p, route };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradients_match_central_finite_differences(int d, Parameterization p, string route)
    {
        int seed = 1000 + d * 7 + (int)p;
        var r = new Random(seed);
        int n = 3 * d + 10;
        var rows = Draw.Rows(r, n, Draw.Vector(r, d), Draw.LowerFactor(r, d));
        var stats = new SufficientStatistics(d);
        stats.AddBatch(rows, n);
        var theta = Draw.Theta(r, d, p);
        double Eval(MvnParameters t, Span<double> gm, Span<double> gl) => route == "rows"
            ? MvnObjective.EvaluateRows(rows, n, t, gm, gl)
            : MvnObjective.Evaluate(stats, t, gm, gl);

        var gMu = new double[d];
        var gL = new double[d * d];
        Eval(theta, gMu, gL);

        int len = MvnParameters.PackedLength(d, p);
        var x = new double[len];
        theta.Pack(x);
        var analytic = new double[len];
        MvnParameters.PackInto(gMu, gL, d, p, analytic);
        var numeric = new double[len];
        for (int i = 0; i < len; i++)
        {
            // Central difference with a step scaled to the coordinate: truncation O(h^2), rounding O(eps J / h).
            double h = 1e-5 * Math.Max(1, Math.Abs(x[i]));
            var xp = (double[])x.Clone();
            var xm = (double[])x.Clone();
            xp[i] += h;
            xm[i] -= h;
            double fp = Eval(MvnParameters.Unpack(xp, d, p), default, default);
            double fm = Eval(MvnParameters.Unpack(xm, d, p), default, default);
            numeric[i] = (fp - fm) / (2 * h);
        }
        double err = Draw.RelativeError(analytic, numeric);
        Assert.True(err < 1e-6, $"seed {seed}, d={d}, {p}, {route}: gradient relative error {err:E3} >= 1e-6");
    }

    [Theory]
    [InlineData(3)]
    [InlineData(12)]
    public void Gradients_from_statistics_equal_gradients_from_raw_rows(int d)
    {
        int seed = 77 + d;
        var r = new Random(seed);
        int n = 200;
        var rows = Draw.Rows(r, n, Draw.Vector(r, d, 5), Draw.LowerFactor(r, d));
        var stats = new SufficientStatistics(d);
        stats.AddBatch(rows, n);
        foreach (var p in new[] { Parameterization.LowerTriangular, Parameterization.Full })
        {
            var theta = Draw.Theta(r, d, p, 5);
            var gm1 = new double[d]; var gl1 = new double[d * d];
            var gm2 = new double[d]; var gl2 = new double[d * d];
            double j1 = MvnObjective.Evaluate(stats, theta, gm1, gl1);
            double j2 = MvnObjective.EvaluateRows(rows, n, theta, gm2, gl2);
            // Same quantity by two summation orders: agreement to rounding (1e-12 relative).
            Assert.True(Math.Abs(j1 - j2) <= 1e-12 * Math.Abs(j2), $"seed {seed} {p}: J {j1:R} vs {j2:R}");
            Assert.True(Draw.RelativeError(gm1, gm2) <= 1e-10, $"seed {seed} {p}: gradMu");
            Assert.True(Draw.RelativeError(gl1, gl2) <= 1e-10, $"seed {seed} {p}: gradLambda");
        }
    }

    [Fact]
    public void Sum_of_shard_gradients_equals_gradient_of_the_whole()
    {
        const int seed = 4242, d = 6, n = 300;
        var r = new Random(seed);
        var rows = Draw.Rows(r, n, Draw.Vector(r, d, 3), Draw.LowerFactor(r, d));
        var whole = new SufficientStatistics(d);
        whole.AddBatch(rows, n);
        var theta = Draw.Theta(r, d, Parameterization.LowerTriangular);
        var gm = new double[d]; var gl = new double[d * d];
        double j = MvnObjective.Evaluate(whole, theta, gm, gl);

        int[] cuts = [0, 17, 120, 121, 300];
        double js = 0;
        var sm = new double[d]; var sl = new double[d * d];
        var pm = new double[d]; var pl = new double[d * d];
        for (int s = 0; s + 1 < cuts.Length; s++)
        {
            var shard = new SufficientStatistics(d);
            shard.AddBatch(rows.AsSpan(cuts[s] * d, (cuts[s + 1] - cuts[s]) * d), cuts[s + 1] - cuts[s]);
            js += MvnObjective.Evaluate(shard, theta, pm, pl);
            for (int i = 0; i < d; i++) sm[i] += pm[i];
            for (int i = 0; i < d * d; i++) sl[i] += pl[i];
        }
        Assert.True(Math.Abs(js - j) <= 1e-12 * Math.Abs(j), $"seed {seed}: sum of shard J {js:R} vs whole {j:R}");
        Assert.True(Draw.RelativeError(sm, gm) <= 1e-11, $"seed {seed}: gradMu");
        Assert.True(Draw.RelativeError(sl, gl) <= 1e-11, $"seed {seed}: gradLambda");
    }
}
