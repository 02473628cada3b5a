using MvnStream.Core.Fitting;
using MvnStream.Core.Statistics;
using MvnStream.Core.Tests.Support;

namespace MvnStream.Core.Tests.Fitting;

/// <summary>
/// Issue 8, truthful diagnostics: a column is "constant" only when every value is equal; a column of 1e12 +- 1e-3 (values
/// that differ, with a spread below working precision relative to the mean) gets a message that says so, with the bounds
/// on its number of distinct values, never "every value is X".
/// </summary>
public sealed class ConstantColumnDiagnosticsTests
{
    private const int D = 4, N = 2000;

    private static SufficientStatistics Stats(int seed, Func<Random, int, double> column3, int blocks = 3)
    {
        var r = new Random(seed);
        var rows = Draw.Rows(r, N, Draw.Vector(r, D, 3), Draw.LowerFactor(r, D));
        for (int a = 0; a < N; a++) rows[a * D + 2] = column3(r, a);
        // Several blocks and a merge, as ingest and the cluster build them.
        var total = new SufficientStatistics(D);
        int per = N / blocks;
        for (int b = 0; b < blocks; b++)
        {
            int from = b * per, to = b == blocks - 1 ? N : from + per;
            var part = new SufficientStatistics(D);
            part.AddBatch(rows.AsSpan(from * D, (to - from) * D), to - from);
            total.Merge(part);
        }
        return total;
    }

    [Theory]
    [InlineData(1e12)]
    [InlineData(7.25)]
    [InlineData(0.0)]
    [InlineData(-3.0e-7)]
    public void An_exactly_constant_column_is_called_constant(double value)
    {
        var cause = ScatterDiagnostics.FindCause(Stats(1, (_, _) => value));
        Assert.NotNull(cause);
        Assert.StartsWith($"column 3 is constant (every value is {value.ToString("R", System.Globalization.CultureInfo.InvariantCulture)})", cause, StringComparison.Ordinal);
    }

    [Fact]
    public void A_column_of_1e12_plus_tiny_noise_is_named_below_working_precision_not_constant()
    {
        var stats = Stats(2, (r, _) => 1e12 + (r.NextDouble() * 2 - 1) * 1e-3);
        double lo = stats.ColumnMin[2], hi = stats.ColumnMax[2];
        Assert.True(lo < hi, $"the generated column should hold different values: min {lo:R}, max {hi:R}");
        // The doubles from min to max, counted one by one: the bound the message must give.
        int between = 1;
        for (double x = lo; x < hi; x = Math.BitIncrement(x)) between++;

        var cause = ScatterDiagnostics.FindCause(stats);
        Assert.NotNull(cause);
        Assert.DoesNotContain("every value is", cause, StringComparison.Ordinal);
        Assert.DoesNotContain("is constant", cause, StringComparison.Ordinal);
        Assert.StartsWith("column 3 is not constant, but its spread is below working precision relative to its mean", cause, StringComparison.Ordinal);
        Assert.Contains($"between 2 and {between} distinct values", cause, StringComparison.Ordinal);
        Assert.Contains("min 999999999999.999", cause, StringComparison.Ordinal);
        Assert.Contains("max 1000000000000.00", cause, StringComparison.Ordinal);
        // And the fit refuses it as degenerate data, with the remedy.
        var e = Assert.Throws<DegenerateDataException>(() => MvnFitter.Fit(stats, new FitOptions()));
        Assert.Contains("below working precision", e.Message, StringComparison.Ordinal);
        Assert.Contains("--ridge", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_neighbouring_doubles_are_exactly_2_distinct_values()
    {
        double a = 1e12, b = Math.BitIncrement(1e12);
        var cause = ScatterDiagnostics.FindCause(Stats(3, (_, i) => i % 2 == 0 ? a : b));
        Assert.NotNull(cause);
        Assert.Contains("exactly 2 distinct values", cause, StringComparison.Ordinal);
        Assert.DoesNotContain("every value is", cause, StringComparison.Ordinal);
    }

    [Fact]
    public void DoublesBetween_counts_across_zero_and_signs()
    {
        Assert.Equal(1, ScatterDiagnostics.DoublesBetween(5.0, 5.0));
        Assert.Equal(2, ScatterDiagnostics.DoublesBetween(1.0, Math.BitIncrement(1.0)));
        Assert.Equal(1, ScatterDiagnostics.DoublesBetween(-0.0, 0.0));
        // -eps, 0, +eps (the smallest subnormals around zero).
        Assert.Equal(3, ScatterDiagnostics.DoublesBetween(-double.Epsilon, double.Epsilon));
        Assert.Equal(5, ScatterDiagnostics.DoublesBetween(Math.BitDecrement(Math.BitDecrement(-1.0)), Math.BitIncrement(Math.BitIncrement(-1.0))));
    }
}
