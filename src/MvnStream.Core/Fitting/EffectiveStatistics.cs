using MvnStream.Core.Numerics;
using MvnStream.Core.Statistics;

namespace MvnStream.Core.Fitting;

/// <summary>
/// The statistics a fit actually minimises J over: the data's (n, xbar) and the scatter after the
/// requested regularisation, M' = n S_reg. J*, the closed form and the gap are all computed from these,
/// so the closed form remains the oracle of every solver whatever regularisation was asked.
/// </summary>
public sealed class EffectiveStatistics
{
    private EffectiveStatistics(int d, double n, double[] mean, double[] scatter, double? shrinkageUsed)
    {
        Dimension = d;
        N = n;
        Mean = mean;
        Scatter = scatter;
        ShrinkageUsed = shrinkageUsed;
    }

    public int Dimension { get; }
    public double N { get; }
    public double[] Mean { get; }
    public double[] Scatter { get; }

    /// <summary>The shrinkage intensity rho applied, when shrinkage was asked.</summary>
    public double? ShrinkageUsed { get; }

    /// <summary>
    /// Applies <paramref name="regularization"/>; without regularisation checks that the scatter is
    /// non-singular and throws <see cref="DegenerateDataException"/> naming the cause otherwise.
    /// </summary>
    public static EffectiveStatistics From(SufficientStatistics stats, Regularization regularization)
    {
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(regularization);
        int d = stats.Dimension;
        double n = stats.Weight;
        if (n <= 0) throw new DegenerateDataException("no rows were counted: there is nothing to fit");
        var mean = stats.Mean.ToArray();
        var m = stats.Scatter.ToArray();

        if (regularization.IsNone)
        {
            ScatterDiagnostics.EnsureNonSingular(stats);
            return new EffectiveStatistics(d, n, mean, m, null);
        }

        if (regularization.Ridge < 0 || !double.IsFinite(regularization.Ridge))
            throw new ArgumentException($"ridge {regularization.Ridge} must be finite and non-negative");

        double? rhoUsed = null;
        if (regularization.Shrinkage != ShrinkageMode.None)
        {
            double rho = regularization.Shrinkage == ShrinkageMode.Fixed
                ? regularization.ShrinkageIntensity
                : LedoitWolfIntensity(stats);
            double target = 0;
            for (int i = 0; i < d; i++) target += m[i * d + i];
            target /= d; // n * (tr(M/n)/d)
            for (int i = 0; i < d * d; i++) m[i] *= 1 - rho;
            for (int i = 0; i < d; i++) m[i * d + i] += rho * target;
            rhoUsed = rho;
        }
        if (regularization.Ridge > 0)
            for (int i = 0; i < d; i++) m[i * d + i] += n * regularization.Ridge;

        var l = new double[d * d];
        var s = new double[d * d];
        for (int i = 0; i < d * d; i++) s[i] = m[i] / n;
        if (!Dense.TryCholesky(s, d, l))
            throw new DegenerateDataException(StillSingularMessage(stats, regularization, rhoUsed));
        return new EffectiveStatistics(d, n, mean, m, rhoUsed);
    }

    /// <summary>Why S is still singular after the regularisation asked for, and the remedy that can work.</summary>
    private static string StillSingularMessage(SufficientStatistics stats, Regularization regularization, double? rhoUsed)
    {
        int d = stats.Dimension;
        var m = stats.Scatter;
        double trace = 0;
        for (int i = 0; i < d; i++) trace += m[i * d + i];
        string ridge = regularization.Ridge.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);
        if (regularization.Ridge > 0)
            return $"the covariance is still singular after {regularization}: ridge {ridge} is too small for S + eps I to be " +
                "positive definite in double precision; increase --ridge (e.g. 1e-6 times the typical variance)" +
                (regularization.Shrinkage == ShrinkageMode.None ? " or use --shrinkage auto" : "");
        if (trace == 0)
            return $"the covariance is still singular after {regularization}: every column is constant " +
                $"({(stats.Count == 1 ? "there is only 1 row" : $"all {stats.Count} rows are identical")}), so S = 0 and the " +
                "shrinkage target (tr S / d) I is zero too; fit with --ridge EPS (S + eps I, eps a variance you are willing to assume)";
        string intensity = rhoUsed is { } rho ? rho.ToString("G6", System.Globalization.CultureInfo.InvariantCulture) : "0";
        return $"the covariance is still singular after {regularization} (intensity {intensity}): use --ridge EPS " +
            "(e.g. 1e-6 times the typical variance) or a larger fixed --shrinkage RHO";
    }

    /// <summary>
    /// Ledoit-Wolf (2004) intensity from merged statistics: with S = M/n, mu = tr(S)/d,
    /// delta^2 = ||S - mu I||_F^2 and beta^2 = min(delta^2, (sum_a |z_a|^4 - n ||S||_F^2) / n^2),
    /// rho = beta^2 / delta^2. The fourth moment sum_a |z_a|^4 is carried by the statistics.
    /// </summary>
    public static double LedoitWolfIntensity(SufficientStatistics stats)
    {
        ArgumentNullException.ThrowIfNull(stats);
        int d = stats.Dimension;
        double n = stats.Weight;
        var m = stats.Scatter;
        double trace = 0, frob2 = 0;
        for (int i = 0; i < d; i++) trace += m[i * d + i] / n;
        for (int i = 0; i < d * d; i++) frob2 += (m[i] / n) * (m[i] / n);
        double mu = trace / d;
        double delta2 = frob2 - 2 * mu * trace + d * mu * mu; // ||S - mu I||^2
        if (!(delta2 > 0)) return 1.0; // S is already a multiple of I (or zero): shrink fully
        double beta2 = (stats.FourthMoment - n * frob2) / (n * n);
        beta2 = Math.Max(0, Math.Min(beta2, delta2));
        return beta2 / delta2;
    }
}
