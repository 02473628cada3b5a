using System.Runtime.CompilerServices;

namespace MvnStream.Core.Formats;

/// <summary>
/// Parses one csv line (UTF-8, without its line break) into d doubles: split on ',' with span searches,
/// trim spaces/tabs/CR around fields, parse with <see cref="Utf8Double"/>. No allocation unless the row is bad.
/// </summary>
internal static class CsvRowParser
{
    /// <summary>
    /// Parses <paramref name="line"/> into <paramref name="row"/> (length d). Ok only if the line has exactly d
    /// fields, all numbers, all finite unless allowed. A wrong field count is reported before bad values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot read path, optimised at once (docs/ARCHITECTURE.md, "Fitting a file")
    public static RowStatus Parse(ReadOnlySpan<byte> line, Span<double> row, bool allowNonFinite, out int fieldCount, out int badField)
    {
        badField = -1;
        fieldCount = 0;
        if (IsBlank(line)) return RowStatus.Empty;

        RowStatus status = RowStatus.Ok;
        int d = row.Length;
        int field = 0;
        while (true)
        {
            int comma = line.IndexOf((byte)',');
            if (field < d)
            {
                var text = Trim(comma < 0 ? line : line[..comma]);
                if (!Utf8Double.TryParse(text, out double v))
                {
                    if (status == RowStatus.Ok) { status = RowStatus.NotANumber; badField = field; }
                }
                else
                {
                    if (!allowNonFinite && !RowErrors.IsUsable(v) && status == RowStatus.Ok)
                    {
                        status = RowStatus.NonFinite;
                        badField = field;
                    }
                    row[field] = v;
                }
            }
            field++;
            if (comma < 0) break;
            line = line[(comma + 1)..];
        }
        fieldCount = field;
        if (field != d)
        {
            badField = -1;
            return RowStatus.WrongCount;
        }
        return status;
    }

    /// <summary>The number of comma-separated fields of a non-blank line.</summary>
    public static int CountFields(ReadOnlySpan<byte> line) => line.Count((byte)',') + 1;

    /// <summary>
    /// Parses a line whose dimension is not known yet (d = its own field count) into a scratch array.
    /// </summary>
    public static RowStatus ParseAlone(ReadOnlySpan<byte> line, ref double[] scratch, bool allowNonFinite, out int fieldCount, out int badField)
    {
        if (IsBlank(line))
        {
            fieldCount = 0;
            badField = -1;
            return RowStatus.Empty;
        }
        int count = CountFields(line);
        if (scratch.Length < count) scratch = new double[count];
        return Parse(line, scratch.AsSpan(0, count), allowNonFinite, out fieldCount, out badField);
    }

    /// <summary>
    /// A header: not blank, every field a name (non-empty, not a number, starting with a letter, '_' or a
    /// quote) and, when the dimension is known, exactly that many fields. So "1;2;3" (numbers with the wrong
    /// separator) is a bad row with its real reason, not a header.
    /// </summary>
    public static bool IsHeader(ReadOnlySpan<byte> line, int expectedFields = 0)
    {
        if (IsBlank(line)) return false;
        if (expectedFields > 0 && CountFields(line) != expectedFields) return false;
        while (true)
        {
            int comma = line.IndexOf((byte)',');
            var field = Trim(comma < 0 ? line : line[..comma]);
            if (field.IsEmpty || Utf8Double.TryParse(field, out _)) return false;
            byte first = field[0];
            bool nameStart = first is (byte)'_' or (byte)'"' or (byte)'\'' || (first | 0x20) is >= (byte)'a' and <= (byte)'z' || first >= 0x80;
            if (!nameStart) return false;
            if (comma < 0) return true;
            line = line[(comma + 1)..];
        }
    }

    /// <summary>The rejection reason for a failed <see cref="Parse"/> of <paramref name="line"/>.</summary>
    public static string Describe(RowStatus status, ReadOnlySpan<byte> line, int dimension, int fieldCount, int badField)
    {
        switch (status)
        {
            case RowStatus.Empty:
                return RowErrors.Empty;
            case RowStatus.WrongCount:
                return RowErrors.WrongCount(dimension, fieldCount);
            case RowStatus.NotANumber:
                return RowErrors.NotANumber(badField, Field(line, badField));
            case RowStatus.NonFinite:
                var text = Field(line, badField);
                Utf8Double.TryParse(text, out double v);
                return RowErrors.NonFinite(badField, v, text);
            default:
                throw new ArgumentOutOfRangeException(nameof(status), status, "not a failure");
        }
    }

    public static bool IsBlank(ReadOnlySpan<byte> line) =>
        line.IndexOfAnyExcept((byte)' ', (byte)'\t', (byte)'\r') < 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> field)
    {
        if (field.IsEmpty || (!IsSpace(field[0]) && !IsSpace(field[^1]))) return field;
        int start = 0, end = field.Length;
        while (start < end && IsSpace(field[start])) start++;
        while (end > start && IsSpace(field[end - 1])) end--;
        return field[start..end];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsSpace(byte b) => b == (byte)' ' || b == (byte)'\t' || b == (byte)'\r';

    private static ReadOnlySpan<byte> Field(ReadOnlySpan<byte> line, int index)
    {
        for (int i = 0; i < index; i++)
        {
            int comma = line.IndexOf((byte)',');
            if (comma < 0) return default;
            line = line[(comma + 1)..];
        }
        int end = line.IndexOf((byte)',');
        return Trim(end < 0 ? line : line[..end]);
    }
}
