using System.Text;

namespace MvnStream.Core.Formats;

/// <summary>The wording of rejection reasons, shared by every format so that messages read alike.</summary>
internal static class RowErrors
{
    public const string Empty = "empty row";
    private const int MaxValueChars = 40;
    private const int MaxRowChars = 200;

    public static string WrongCount(int expected, int found) => $"expected {expected} values, found {found}";

    /// <summary><paramref name="index"/> is 0-based; messages are 1-based.</summary>
    public static string NotANumber(int index, ReadOnlySpan<byte> text) =>
        $"value {index + 1} '{Shorten(text, MaxValueChars)}' is not a number";

    public static string NotANumber(int index, string text) =>
        $"value {index + 1} '{Shorten(Encoding.UTF8.GetBytes(text), MaxValueChars)}' is not a number";

    /// <summary>
    /// Largest |value| a row may hold. The statistics sum squares and cross products of values over every row
    /// (docs/ARCHITECTURE.md, "The math": M = sum (x - xbar)(x - xbar)^T): one value of 1e200 is finite but its square is not, and the
    /// statistics would hold Infinity for good (a stream's checkpoint too). Below 1e100 the squares stay below
    /// 1e200, finite for any count of rows.
    /// </summary>
    public const double MaxMagnitude = 1e100;

    /// <summary>True when <paramref name="value"/> is a number a row may hold: finite and |value| &lt;= <see cref="MaxMagnitude"/> (false for NaN).</summary>
    public static bool IsUsable(double value) => Math.Abs(value) <= MaxMagnitude;

    /// <summary>
    /// Names NaN/Infinity; a literal that overflowed (e.g. 1e999) is called out of range; a finite value beyond
    /// <see cref="MaxMagnitude"/> is called too large.
    /// </summary>
    public static string NonFinite(int index, double value, ReadOnlySpan<byte> text)
    {
        if (double.IsFinite(value))
            return FormattableString.Invariant(
                $"value {index + 1} ({value:R}) is too large: beyond {MaxMagnitude:E0} in magnitude its square overflows the statistics");
        if (double.IsInfinity(value) && text.IndexOfAnyInRange((byte)'0', (byte)'9') >= 0)
            return $"value {index + 1} '{Shorten(text, MaxValueChars)}' is out of range (it overflows to {Name(value)})";
        return $"value {index + 1} is {Name(value)}";
    }

    public static string Name(double value) =>
        double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";

    /// <summary>The row's text for <see cref="RejectedRow.Text"/>, shortened.</summary>
    public static string RowText(ReadOnlySpan<byte> line) => Shorten(line, MaxRowChars);

    /// <summary>The first <paramref name="maxBytes"/> bytes as printable text: control and invalid bytes escaped (<see cref="PrintableText.Utf8"/>), never copied raw.</summary>
    public static string Shorten(ReadOnlySpan<byte> utf8, int maxBytes) => PrintableText.Utf8(utf8, maxBytes);

    /// <summary>The reason a line is rejected without being read whole (<see cref="RowReaderOptions.MaxLineBytes"/>).</summary>
    public static string LineTooLong(long line, int maxLineBytes) => FormattableString.Invariant($"line {line} is longer than the limit ({maxLineBytes} bytes)");
}
