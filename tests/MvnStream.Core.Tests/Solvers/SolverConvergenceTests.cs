using System.Diagnostics;
using MvnStream.Core.Fitting;
using MvnStream.Core.Model;
using MvnStream.Core.Objective;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;
using MvnStream.Core.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.Core.Tests.Solvers;

/// <summary>Every iterative solver reaches the closed-form optimum J* (the oracle) from a random start.</summary>
public sealed class SolverConvergenceTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Cases() =>
        from d in new[] { 10, 50 }
        from s in new[] { SolverKind.Lbfgs, SolverKind.GradientDescent, SolverKind.Adam }
        from p in new[] { Parameterization.LowerTriangular, Parameterization.Full }
        where !(p == Parameterization.Full && d == 50 && s != SolverKind.Lbfgs)
        select new object[] { d, s, p };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Iterative_solver_reaches_the_closed_form_optimum_from_a_random_start(int d, SolverKind solver, Parameterization p)
    {
        int seed = 31 * d + (int)solver * 3 + (int)p;
        var r = new Random(seed);
        int n = 20 * d;
        var rows = Draw.Rows(r, n, Draw.Vector(r, d, 2), Draw.LowerFactor(r, d, 0.5));
        var stats = new SufficientStatistics(d);
        stats.AddBatch(rows, n);
        // A start far from the optimum: random mean, random factor.
        var start = Draw.Theta(r, d, p, 3);
        var options = new FitOptions
        {
            Parameterization = p,
            Start = start,
            Solver = new SolverOptions { Kind = solver, MaxIterations = 200_000, GradientTolerance = 1e-10, RelativeTolerance = 0 },
        };
        var sw = Stopwatch.StartNew();
        var fit = MvnFitter.Fit(stats, options);
        double jStar = MvnObjective.OptimalValue(stats.Weight, stats.Scatter, d);
        double j = MvnObjective.Evaluate(stats, fit.Theta, default, default);
        double rel = Math.Abs(j - jStar) / Math.Abs(jStar);
        output.WriteLine($"seed {seed} d={d} {solver} {p}: {fit.Iterations} iterations, {fit.Evaluations} evaluations, {fit.Reason}, |J-J*|/|J*| = {rel:E2}, {sw.ElapsedMilliseconds} ms");
        Assert.True(rel < 1e-9, $"seed {seed}: |J - J*|/|J*| = {rel:E3} after {fit.Iterations} iterations ({fit.Reason})");
        Assert.True(Math.Abs(fit.GapPerRow * n - (j - jStar)) <= 1e-9 * Math.Abs(jStar), "reported gap disagrees with J - J*");
        // The covariance is identified (Lambda only up to rotation/signs): compare S with M/n.
        var s = fit.Theta.Covariance();
        var sStar = stats.Scatter.ToArray().Select(v => v / n).ToArray();
        Assert.True(Draw.RelativeError(s, sStar) < 1e-4, $"seed {seed}: S differs from M/n by {Draw.RelativeError(s, sStar):E2}");
        Assert.True(Draw.RelativeError(fit.Theta.Mu, stats.Mean) < 1e-4, $"seed {seed}: mu differs from xbar");
    }

    [Fact]
    public void Gradient_is_zero_and_J_equals_J_star_at_the_closed_form()
    {
        const int seed = 99, d = 7, n = 100;
        var r = new Random(seed);
        var stats = new SufficientStatistics(d);
        stats.AddBatch(Draw.Rows(r, n, Draw.Vector(r, d), Draw.LowerFactor(r, d)), n);
        foreach (var p in new[] { Parameterization.LowerTriangular, Parameterization.Full })
        {
            var fit = MvnFitter.Fit(stats, new FitOptions { Parameterization = p, Solver = new SolverOptions { Kind = SolverKind.ClosedForm } });
            var gm = new double[d];
            var gl = new double[d * d];
            double j = MvnObjective.Evaluate(stats, fit.Theta, gm, gl);
            double jStar = MvnObjective.OptimalValue(stats.Weight, stats.Scatter, d);
            Assert.True(Math.Abs(j - jStar) <= 1e-13 * Math.Abs(jStar), $"seed {seed} {p}: J {j:R} vs J* {jStar:R}");
            // Gradient entries are O(n) sums that cancel at the optimum: compare with n * eps * cond.
            double g = Math.Sqrt(gm.Sum(v => v * v) + gl.Sum(v => v * v));
            Assert.True(g <= 1e-10 * n, $"seed {seed} {p}: |grad J| = {g:E2} at the closed form");
            Assert.Equal(0, fit.GapPerRow, 12);
        }
    }

    [Fact]
    public void Warm_start_at_the_optimum_stops_immediately()
    {
        const int seed = 5, d = 4, n = 80;
        var r = new Random(seed);
        var stats = new SufficientStatistics(d);
        stats.AddBatch(Draw.Rows(r, n, Draw.Vector(r, d), Draw.LowerFactor(r, d)), n);
        var exact = MvnFitter.Fit(stats, new FitOptions { Solver = new SolverOptions { Kind = SolverKind.ClosedForm } });
        var warm = MvnFitter.Fit(stats, new FitOptions { Start = exact.Theta, Solver = new SolverOptions { Kind = SolverKind.Lbfgs, GradientTolerance = 1e-8 } });
        Assert.True(warm.Iterations <= 1, $"seed {seed}: {warm.Iterations} iterations from the optimum");
        Assert.Equal(StopReason.GradientTolerance, warm.Reason);
    }

    [Fact]
    public void Iteration_limit_is_reported_not_hidden()
    {
        const int seed = 6, d = 10, n = 200;
        var r = new Random(seed);
        var stats = new SufficientStatistics(d);
        stats.AddBatch(Draw.Rows(r, n, Draw.Vector(r, d), Draw.LowerFactor(r, d, 0.8)), n);
        foreach (var kind in new[] { SolverKind.GradientDescent, SolverKind.Adam, SolverKind.Lbfgs })
        {
            // From a start with mu != xbar every whitened solver needs at least two steps (the first, the Fisher-scoring step,
            // lands on (xbar, S* + e e^T)), so one is short of the optimum.
            var fit = MvnFitter.Fit(stats, new FitOptions { Start = Draw.Theta(r, d, Parameterization.LowerTriangular, 3), Solver = new SolverOptions { Kind = kind, MaxIterations = 1 } });
            Assert.True(fit.Reason == StopReason.MaxIterations, $"seed {seed} {kind}: stopped with {fit.Reason} after {fit.Iterations} iterations");
            Assert.False(fit.Converged);
            Assert.True(fit.GapPerRow > 0, $"{kind}: gap {fit.GapPerRow}");
        }
    }

    /// <summary>
    /// A --learning-rate caps Adam's step, and Adam honours it to the end (a frame whose start it did not accept used to
    /// fall back to one unit gradient step, which lands on the optimum). Bound: within a frame of at most 10 steps with fresh
    /// moments, |m^| is at most the largest |g| seen and v^ at least 0.099 of its square over the p coordinates, so one step
    /// moves at most lr sqrt(p / 0.099) in whitened units: starting at whitened distance D0 it needs at least
    /// D0 / (lr sqrt(p / 0.099)) steps (D0 measured from below by the start's whitened gradient, less a factor 2 for the
    /// curvature away from the optimum).
    /// </summary>
    [Fact]
    public void Adam_honours_its_step_cap_and_still_meets_the_target()
    {
        const int seed = 12, d = 8, n = 2000;
        var r = new Random(seed);
        var stats = new SufficientStatistics(d);
        stats.AddBatch(Draw.Rows(r, n, Draw.Vector(r, d), Draw.LowerFactor(r, d, 0.9)), n);
        var exact = MvnFitter.Fit(stats, new FitOptions { Solver = new SolverOptions { Kind = SolverKind.ClosedForm } });
        var atStart = MvnFitter.Fit(stats, new FitOptions { Solver = new SolverOptions { Kind = SolverKind.Adam, MaxIterations = 0 } });
        double d0 = atStart.GradientNorm;
        int p = d + d * (d + 1) / 2;
        foreach (double lr in new[] { 1e-3, 1e-4 })
        {
            var fit = MvnFitter.Fit(stats, new FitOptions { Solver = new SolverOptions { Kind = SolverKind.Adam, LearningRate = lr } });
            double atLeast = 0.5 * d0 / (lr * Math.Sqrt(p / 0.099));
            output.WriteLine($"lr {lr:G2}: {fit.Iterations} iterations ({fit.Reason}), at least {atLeast:F0} (start measure {d0:G3})");
            Assert.True(fit.Converged, $"lr {lr}: {fit.Reason} after {fit.Iterations}");
            Assert.True(fit.Iterations >= atLeast, $"lr {lr}: {fit.Iterations} iterations, but steps of at most lr sqrt(p/0.099) need {atLeast:F0} from measure {d0:G3}");
            Assert.True(Math.Abs(fit.NllPerRow - exact.NllPerRow) <= 1e-12 * Math.Abs(exact.NllPerRow) + 1e-12, $"lr {lr}: J/n {fit.NllPerRow:R} vs closed form {exact.NllPerRow:R}");
        }
    }

    [Fact]
    public void Cancellation_returns_the_best_point_so_far()
    {
        const int seed = 8, d = 20, n = 400;
        var r = new Random(seed);
        var stats = new SufficientStatistics(d);
        stats.AddBatch(Draw.Rows(r, n, Draw.Vector(r, d), Draw.LowerFactor(r, d)), n);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        var fit = MvnFitter.Fit(stats,
            new FitOptions { Start = Draw.Theta(r, d, Parameterization.LowerTriangular, 3), Solver = new SolverOptions { Kind = SolverKind.Adam, LearningRate = 1e-3 } },
            _ => { if (++seen == 5) cts.Cancel(); }, cts.Token); // a step capped at 1e-3 sd: hundreds of steps to go
        Assert.Equal(StopReason.Cancelled, fit.Reason);
        Assert.True(double.IsFinite(fit.NllPerRow));
    }
}

/// <summary>Why L-BFGS is hand-written: MathNet's stalls where J is flat to rounding; ours follows the gradient.</summary>
public sealed class LbfgsAgainstMathNetTests(ITestOutputHelper output)
{
    private sealed class PerRow(SufficientStatistics stats, Parameterization p) : IDifferentiableFunction
    {
        public int Length => MvnParameters.PackedLength(stats.Dimension, p);

        public double Evaluate(ReadOnlySpan<double> x, Span<double> gradient)
        {
            int d = stats.Dimension;
            var theta = MvnParameters.Unpack(x, d, p);
            var gm = new double[d];
            var gl = new double[d * d];
            double j = MvnObjective.Evaluate(stats, theta, gm, gl);
            MvnParameters.PackInto(gm, gl, d, p, gradient);
            for (int i = 0; i < gradient.Length; i++) gradient[i] /= stats.Weight;
            return j / stats.Weight;
        }
    }

    [Theory]
    [InlineData(5, 7)]
    [InlineData(20, 8)]
    public void Hand_written_lbfgs_reaches_a_gradient_norm_that_MathNet_lbfgs_stalls_above(int d, int seed)
    {
        var r = new Random(seed);
        int n = 50 * d;
        var stats = new SufficientStatistics(d);
        stats.AddBatch(Draw.Rows(r, n, Draw.Vector(r, d, 2), Draw.LowerFactor(r, d, 0.5)), n);
        var f = new PerRow(stats, Parameterization.LowerTriangular);
        var x0 = new double[f.Length];
        Draw.Theta(r, d, Parameterization.LowerTriangular, 3).Pack(x0);
        var options = new SolverOptions { Kind = SolverKind.Lbfgs, GradientTolerance = 1e-12, MaxIterations = 10_000 };
        var ours = Minimizer.Minimize(f, x0, options);
        var reference = Minimizer.MinimizeWithMathNetLbfgs(f, x0, options);
        output.WriteLine($"seed {seed} d={d}: ours |g| = {ours.GradientNorm:E2} ({ours.Evaluations} evaluations, {ours.Reason}); MathNet |g| = {reference.GradientNorm:E2} ({reference.Evaluations} evaluations, {reference.Reason})");
        Assert.True(ours.GradientNorm <= 1e-11, $"seed {seed}: ours stopped at |g| = {ours.GradientNorm:E2} ({ours.Reason})");
        Assert.True(reference.GradientNorm > 10 * ours.GradientNorm,
            $"seed {seed}: MathNet reached |g| = {reference.GradientNorm:E2}, ours {ours.GradientNorm:E2}: the hand-written solver no longer earns its place");
    }
}
