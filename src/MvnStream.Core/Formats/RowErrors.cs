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
        $"value {index + 1} '{(text.Length > MaxValueChars ? text[..MaxValueChars] + "..." : text)}' is not a number";

    /// <summary>Names NaN/Infinity; a literal that overflowed (e.g. 1e999) is called out of range.</summary>
    public static string NonFinite(int index, double value, ReadOnlySpan<byte> text)
    {
        if (double.IsInfinity(value) && text.IndexOfAnyInRange((byte)'0', (byte)'9') >= 0)
            return $"value {index + 1} '{Shorten(text, MaxValueChars)}' is out of range (it overflows to {Name(value)})";
        return $"value {index + 1} is {Name(value)}";
    }

    public static string Name(double value) =>
        double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";

    /// <summary>The row's text for <see cref="RejectedRow.Text"/>, shortened.</summary>
    public static string RowText(ReadOnlySpan<byte> line) => Shorten(line, MaxRowChars);

    public static string Shorten(ReadOnlySpan<byte> utf8, int maxChars)
    {
        bool cut = utf8.Length > maxChars;
        string s = Encoding.UTF8.GetString(cut ? utf8[..maxChars] : utf8);
        return cut ? s + "..." : s;
    }
}
