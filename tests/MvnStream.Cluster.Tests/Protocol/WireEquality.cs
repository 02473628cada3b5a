using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;

namespace MvnStream.Cluster.Tests.Protocol;

/// <summary>
/// Structural equality for wire messages, stricter than record equality: arrays are compared element
/// by element (records compare them by reference), doubles by their bits (record equality says
/// NaN == NaN whatever the payload and 0.0 == -0.0). Nested records are compared property by property,
/// so new message types need nothing here.
/// </summary>
internal static class WireEquality
{
    /// <summary>Null when equal; otherwise the path of the first difference and the two values.</summary>
    public static string? FirstDifference(object? expected, object? actual) => Diff(expected, actual, expected?.GetType().Name ?? "value");

    public static void AssertBitIdentical(object? expected, object? actual)
    {
        var diff = FirstDifference(expected, actual);
        Assert.True(diff is null, diff);
    }

    private static string? Diff(object? a, object? b, string path)
    {
        if (a is null || b is null)
            return a is null && b is null ? null : $"{path}: expected {Show(a)}, got {Show(b)}";
        if (a.GetType() != b.GetType())
            return $"{path}: expected type {a.GetType().Name}, got {b.GetType().Name}";
        switch (a)
        {
            case double x:
                return BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits((double)b) ? null : $"{path}: expected {Show(x)}, got {Show((double)b)}";
            case float f:
                return BitConverter.SingleToInt32Bits(f) == BitConverter.SingleToInt32Bits((float)b) ? null : $"{path}: expected {f}, got {b}";
            case DateTime t:
            {
                // DateTime equality ignores Kind, and its Date property would recurse forever below.
                var u = (DateTime)b;
                return t.Ticks == u.Ticks && t.Kind == u.Kind ? null : $"{path}: expected {t.Ticks} ticks ({t.Kind}), got {u.Ticks} ticks ({u.Kind})";
            }
            case string s:
                return string.Equals(s, (string)b, StringComparison.Ordinal) ? null : $"{path}: expected \"{s}\", got \"{b}\"";
            case double[] xs:
            {
                var ys = (double[])b;
                if (xs.Length != ys.Length) return $"{path}: expected {xs.Length} elements, got {ys.Length}";
                if (MemoryMarshal.AsBytes(xs.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(ys.AsSpan()))) return null;
                for (int i = 0; i < xs.Length; i++)
                    if (Diff(xs[i], ys[i], $"{path}[{i}]") is { } d) return d;
                return null;
            }
            case Array xs:
            {
                var ys = (Array)b;
                if (xs.Length != ys.Length) return $"{path}: expected {xs.Length} elements, got {ys.Length}";
                for (int i = 0; i < xs.Length; i++)
                    if (Diff(xs.GetValue(i), ys.GetValue(i), $"{path}[{i}]") is { } d) return d;
                return null;
            }
        }
        var type = a.GetType();
        if (type.IsPrimitive || type.IsEnum || a is decimal)
            return a.Equals(b) ? null : $"{path}: expected {a}, got {b}";
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance);
        if (properties.Length == 0)
            return a.Equals(b) ? null : $"{path}: expected {a}, got {b}";
        foreach (var p in properties)
        {
            if (p.GetIndexParameters().Length != 0) continue;
            if (Diff(p.GetValue(a), p.GetValue(b), path + "." + p.Name) is { } d) return d;
        }
        return null;
    }

    private static string Show(object? v) => v switch
    {
        null => "null",
        double x => Show(x),
        _ => v.ToString() ?? "",
    };

    private static string Show(double x) =>
        x.ToString("R", CultureInfo.InvariantCulture) + " (0x" + BitConverter.DoubleToInt64Bits(x).ToString("X16", CultureInfo.InvariantCulture) + ")";
}
