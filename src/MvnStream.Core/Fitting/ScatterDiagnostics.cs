using System.Globalization;
using MvnStream.Core.Numerics;
using MvnStream.Core.Statistics;

namespace MvnStream.Core.Fitting;

/// <summary>
/// Names why a scatter matrix is singular or numerically singular, so that a fit fails with a cause
/// instead of a NaN: too few rows (n &lt;= d), a constant column, two duplicated (proportional)
/// columns, or a column that is a linear combination of others. Columns are 1-based in messages.
/// A column is called constant only when every value is equal, which the statistics' exact per-column min and max decide
/// (min == max); a column whose values differ but whose spread is below working precision relative to its mean
/// (1e12 +- 1e-3) is named as such, with the bounds on its number of distinct values that min and max give.
/// </summary>
public static class ScatterDiagnostics
{
    /// <summary>Standard deviation relative to |mean| at or below which a column's variance is not resolved in double precision.</summary>
    public const double RelativeSpreadTolerance = 1e-13;

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
            double lo = stats.ColumnMin[j], hi = stats.ColumnMax[j];
            if (lo == hi) return Inv($"column {j + 1} is constant (every value is {lo:R}): its variance is 0");
            if (!(v > 0) || sd[j] <= RelativeSpreadTolerance * Math.Abs(mean[j]))
                return SpreadBelowPrecision(j, lo, hi, count, sd[j], mean[j]);
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

    /// <summary>
    /// The values of column j differ (min &lt; max) but its variance is not resolved. The exact number of distinct values is
    /// not in the statistics (it would need the set of values, which does not merge in fixed size); min and max bound it:
    /// at least 2, at most the doubles between min and max (and at most n).
    /// </summary>
    private static string SpreadBelowPrecision(int j, double lo, double hi, long count, double sd, double mean)
    {
        Int128 between = DoublesBetween(lo, hi);
        Int128 upper = Int128.Min(between, count);
        string distinct = upper == 2 ? "exactly 2 distinct values"
            : upper == count ? Inv($"between 2 and n = {count} distinct values")
            : Inv($"between 2 and {upper} distinct values: only {upper} doubles lie from min to max");
        string range = Inv($"its values differ (min {lo:R}, max {hi:R}: {distinct})");
        if (mean == 0 || !double.IsFinite(sd / Math.Abs(mean)))
            return Inv($"column {j + 1} is not constant, but its variance ({sd * sd:0.00e+00}) is 0 to working precision: {range}");
        return Inv($"column {j + 1} is not constant, but its spread is below working precision relative to its mean: {range}, and their standard deviation {sd:0.00e+00} is {sd / Math.Abs(mean):0.00e+00} of their mean {mean:R} (a relative spread of {RelativeSpreadTolerance:0e+00} or less is not resolved in double precision), so its variance cannot be told from 0");
    }

    /// <summary>How many doubles x satisfy lo &lt;= x &lt;= hi (finite lo &lt;= hi; -0.0 and 0.0 count once).</summary>
    internal static Int128 DoublesBetween(double lo, double hi)
    {
        // Doubles map monotonically onto integers: non-negative ones by their bits, negative ones by minus their magnitude's bits.
        static Int128 Ordinal(double x)
        {
            long bits = BitConverter.DoubleToInt64Bits(x);
            return bits >= 0 ? bits : -(Int128)(bits & long.MaxValue);
        }
        return Ordinal(hi) - Ordinal(lo) + 1;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
