using System.Globalization;
using MvnStream.Core.Numerics;
using MvnStream.Core.Statistics;

namespace MvnStream.Core.Fitting;

/// <summary>
/// Names why a scatter matrix is singular or numerically singular, so that a fit fails with a cause
/// instead of a NaN: too few rows (n &lt;= d), a constant column, two duplicated (proportional)
/// columns, or a column that is a linear combination of others. Columns are 1-based in messages.
/// </summary>
public static class ScatterDiagnostics
{
    /// <summary>Remaining-variance fraction below which a column counts as a linear combination of earlier ones.</summary>
    public const double DependenceTolerance = 1e-12;

    private const string Remedy = "; fit anyway with --ridge EPS (S + eps I) or --shrinkage auto (Ledoit-Wolf)";

    /// <summary>Throws <see cref="DegenerateDataException"/> naming the cause when M/n is singular to working precision.</summary>
    public static void EnsureNonSingular(SufficientStatistics stats)
    {
        var cause = FindCause(stats);
        if (cause is not null) throw new DegenerateDataException(cause + Remedy);
    }

    /// <summary>The cause as a sentence, or null when the scatter is safely positive definite.</summary>
    public static string? FindCause(SufficientStatistics stats)
    {
        ArgumentNullException.ThrowIfNull(stats);
        int d = stats.Dimension;
        long count = stats.Count;
        if (stats.Weight <= 0) return "no rows were counted";
        if (count <= d)
            return Inv($"only n = {count} rows for d = {d} dimensions: the sample covariance has rank at most n - 1 = {count - 1} < d, so it is singular");

        var m = stats.Scatter;
        var mean = stats.Mean;
        double n = stats.Weight;
        var sd = new double[d];
        for (int j = 0; j < d; j++)
        {
            double v = m[j * d + j] / n;
            sd[j] = Math.Sqrt(Math.Max(v, 0));
            if (!double.IsFinite(v)) return Inv($"column {j + 1} has a non-finite variance ({v})");
            if (!(v > 0) || sd[j] <= 1e-13 * Math.Abs(mean[j]))
                return Inv($"column {j + 1} is constant (every value is {mean[j]:R}): its variance is 0");
        }

        // Correlation matrix: scale-free checks.
        var r = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                r[i * d + j] = m[i * d + j] / n / (sd[i] * sd[j]);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < i; j++)
            {
                double c = r[i * d + j];
                if (Math.Abs(c) >= 1 - DependenceTolerance)
                    return Inv($"columns {j + 1} and {i + 1} are duplicates up to scale and offset (correlation {c:F12})");
            }

        int k = Dense.FirstDeficientPivot(r, d, DependenceTolerance, out double smallest);
        if (k >= 0)
            return Inv($"column {k + 1} is a linear combination of columns 1..{k} (it keeps a fraction {Math.Max(smallest, 0):G3} of its variance after regressing on them): the scatter matrix is singular to working precision");
        return null;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
