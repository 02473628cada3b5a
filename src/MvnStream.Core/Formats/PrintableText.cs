using System.Globalization;
using System.Text;

namespace MvnStream.Core.Formats;

/// <summary>
/// Text from untrusted input made safe to print or to put in a header: control characters and bytes that are not
/// valid UTF-8 are written as escapes (<c>\x00</c>, <c>\xFF</c>), never copied raw, and the result is bounded.
/// </summary>
public static class PrintableText
{
    private const string Cut = "...";

    /// <summary>
    /// The first <paramref name="maxBytes"/> bytes of <paramref name="utf8"/> as text: valid printable UTF-8 is kept,
    /// control characters and invalid bytes become <c>\xNN</c> (one per byte); "..." marks a cut.
    /// </summary>
    public static string Utf8(ReadOnlySpan<byte> utf8, int maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        bool cut = utf8.Length > maxBytes;
        var span = cut ? utf8[..maxBytes] : utf8;
        var sb = new StringBuilder(span.Length + 8);
        while (!span.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(span, out var rune, out int consumed);
            if (status == System.Buffers.OperationStatus.Done && IsPrintable(rune))
                sb.Append(rune.ToString());
            else if (status == System.Buffers.OperationStatus.Done && rune.Value < 0x80)
                AppendByte(sb, (byte)rune.Value);
            else
                for (int i = 0; i < consumed; i++) AppendByte(sb, span[i]);
            span = span[consumed..];
        }
        if (cut) sb.Append(Cut);
        return sb.ToString();
    }

    /// <summary>
    /// <paramref name="text"/> as printable ASCII (0x20-0x7E) of at most <paramref name="maxChars"/> characters: '\n', '\r'
    /// and '\t' as <c>\n</c>, <c>\r</c>, <c>\t</c>, other control characters as <c>\xNN</c>, anything beyond ASCII as
    /// <c>\uNNNN</c>; a longer result is cut and ends with "...". For headers and logs that must hold plain ASCII.
    /// </summary>
    public static string Ascii(string text, int maxChars)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChars, Cut.Length);
        var sb = new StringBuilder(Math.Min(text.Length, maxChars) + 8);
        int fits = 0; // length of sb at the last escape boundary that leaves room for the cut mark
        foreach (char c in text)
        {
            if (c is >= ' ' and <= '~') sb.Append(c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (c < 0x80) sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}");
            else sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            if (sb.Length <= maxChars - Cut.Length) fits = sb.Length;
            if (sb.Length > maxChars)
            {
                sb.Length = fits;
                return sb.Append(Cut).ToString();
            }
        }
        return sb.ToString();
    }

    private static bool IsPrintable(Rune r) =>
        !Rune.IsControl(r) && Rune.GetUnicodeCategory(r) is not (UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned)
        && r.Value != 0xFFFD;

    private static void AppendByte(StringBuilder sb, byte b) => sb.Append(CultureInfo.InvariantCulture, $"\\x{b:X2}");
}
