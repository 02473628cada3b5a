using MvnStream.Core.Fitting;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;

namespace MvnStream.Core.Tests.Fitting;

/// <summary>
/// The accuracy a fit promises, measured against the closed form (the oracle): mu within tol standard deviations and every
/// S_ij within tol sd_i sd_j of S* = M/n (sd from S*).
/// </summary>
internal static class FitTargets
{
    public static SufficientStatistics Statistics(double[] rows, int n, int d)
    {
        var s = new SufficientStatistics(d);
        s.AddBatch(rows, n);
        return s;
    }

    public static (double Mu, double S) Errors(SufficientStatistics stats, MvnParameters theta) => MvnStream.Tests.Shared.FitErrors.Of(stats, theta);

    /// <summary>The accuracy target of each solver: 1e-8 for gd and lbfgs, 1e-6 for adam.</summary>
    public static double Target(SolverKind kind) => kind == SolverKind.Adam ? 1e-6 : 1e-8;

    public static FitResult Fit(SufficientStatistics stats, SolverKind kind, Parameterization p, int maxIterations = 5000) =>
        MvnFitter.Fit(stats, new FitOptions { Parameterization = p, Solver = new SolverOptions { Kind = kind, MaxIterations = maxIterations } });

    public static void AssertMeets(SufficientStatistics stats, FitResult fit, SolverKind kind, string what)
    {
        var (eMu, eS) = Errors(stats, fit.Theta);
        double target = Target(kind);
        Assert.True(eMu <= target && eS <= target,
            $"{what}: mu off by {eMu:E2} sd, S off by {eS:E2} sd_i sd_j (target {target:E0}) after {fit.Iterations} iterations ({fit.Reason})");
        if (kind != SolverKind.Adam)
            Assert.True(fit.Converged, $"{what}: stopped with {fit.Reason} after {fit.Iterations} iterations although it met the target");
    }
}
