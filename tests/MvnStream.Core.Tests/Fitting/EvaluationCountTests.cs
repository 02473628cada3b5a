using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Tests.Shared;
using Xunit.Abstractions;

namespace MvnStream.Core.Tests.Fitting;

/// <summary>
/// Evaluations are what a cluster pays for (one gradient-summing round each), so they are bounded, not only iterations:
/// from the default start the whitened unit step is the Fisher-scoring step and lands on the closed form, so every solver
/// needs one evaluation at the start, one at the landing point and at most one or two more to confirm, whatever cond(S*).
/// At cond(S*) = 1e12 the landing point lies close to the domain's boundary in the start's frame, where the directional
/// derivative is large: L-BFGS's Wolfe search used to bisect toward the infeasible side there (23-24 evaluations).
/// </summary>
public sealed class EvaluationCountTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(16, 1e12)]
    [InlineData(16, 1e8)]
    [InlineData(64, 1e12)]
    [InlineData(7, 1e12)]
    public void Default_start_needs_a_handful_of_evaluations_at_any_condition(int d, double cond)
    {
        // The solver benchmark's data (same seed, n, offsets of up to 1e3 sd): the case that took 24 evaluations.
        var r = new Random(1000 * d + (int)Math.Log10(cond));
        int n = Math.Max(20 * d, 2000);
        var rows = IllConditionedData.WithCondition(r, n, d, cond);
        IllConditionedData.ScaleAndOffset(r, rows, n, d, 0, 1e3);
        var stats = FitTargets.Statistics(rows, n, d);
        foreach (var kind in new[] { SolverKind.Lbfgs, SolverKind.GradientDescent, SolverKind.Adam })
            foreach (var p in new[] { Parameterization.LowerTriangular, Parameterization.Full })
            {
                var fit = FitTargets.Fit(stats, kind, p);
                string what = $"d {d}, cond {cond:G2}, {kind} {p}";
                output.WriteLine($"{what}: {fit.Iterations} iterations, {fit.Evaluations} evaluations ({fit.Reason})");
                FitTargets.AssertMeets(stats, fit, kind, what);
                Assert.True(fit.Evaluations <= 5, $"{what}: {fit.Evaluations} evaluations for {fit.Iterations} iterations");
            }
    }
}
