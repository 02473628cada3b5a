using System.Globalization;
using System.Text;

namespace MvnStream.EndToEnd.Tests.Support;

/// <summary>Numeric assertions whose failure messages say what was compared, the tolerance, and the data's seed.</summary>
public static class Check
{
    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>||actual - expected|| / ||expected|| &lt;= tol (2-norm for vectors, Frobenius for matrices).</summary>
    public static void Relative(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected, double tol, string what, string context)
    {
        double rel = Linalg.RelativeDifference(actual, expected);
        if (!(rel <= tol))
            throw new Xunit.Sdk.XunitException(Inv($"{what}: relative difference {rel:E3} > {tol:E1} ({context})\n  actual   {Show(actual)}\n  expected {Show(expected)}"));
    }

    /// <summary>Every number in the model is finite and the text has no NaN/Infinity/null in it.</summary>
    public static void Finite(ModelFile m, string context)
    {
        foreach (var (name, v) in new[] { ("mu", m.Mu), ("lambda", m.Lambda), ("covariance", m.Covariance) })
            if (v.Any(x => !double.IsFinite(x)))
                throw new Xunit.Sdk.XunitException($"{name} has a non-finite value ({context}):\n{m.Text}");
        if (m.NllPerRow is not { } nll || !double.IsFinite(nll) || m.Gap is not { } gap || !double.IsFinite(gap))
            throw new Xunit.Sdk.XunitException($"nllPerRow or gap is missing or not finite ({context}):\n{m.Text}");
        foreach (var bad in new[] { "NaN", "Infinity", "null" })
            if (m.Text.Contains(bad, StringComparison.Ordinal))
                throw new Xunit.Sdk.XunitException($"model file contains '{bad}' ({context}):\n{m.Text}");
    }

    public static void Contains(string expectedSubstring, string actual, string what)
    {
        if (!actual.Contains(expectedSubstring, StringComparison.Ordinal))
            throw new Xunit.Sdk.XunitException($"{what}: expected to contain \"{expectedSubstring}\", but it was:\n{actual}");
    }

    public static string Show(ReadOnlySpan<double> v)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < v.Length && i < 24; i++) sb.Append(i > 0 ? ", " : "").Append(v[i].ToString("G10", CultureInfo.InvariantCulture));
        if (v.Length > 24) sb.Append(", ...");
        return sb.Append(']').ToString();
    }
}
