namespace MvnStream.Core.Formats;

/// <summary>
/// Decodes one Kafka record value into rows (docs/ARCHITECTURE.md, "Formats"): csv (one row; a header line is not data),
/// f64 (a block of k rows, k*d little-endian doubles) or json (an array of d numbers or an array of such
/// arrays). A record is accepted or rejected as a whole, so a worker can count it exactly once either way.
/// </summary>
public static class RecordDecoder
{
    /// <summary>
    /// Decodes <paramref name="value"/> and appends its rows to <paramref name="output"/>. Returns null on
    /// success, or the reason the record is rejected (then nothing is appended).
    /// </summary>
    /// <param name="value">The record value.</param>
    /// <param name="format">Its encoding.</param>
    /// <param name="dimension">d, or 0 = unknown: learned from the first accepted record (csv, json) and returned
    /// here. When 0 and <paramref name="output"/> already has a dimension, that one is used. f64 needs d.</param>
    /// <param name="allowNonFinite">Accept NaN and ±Infinity values.</param>
    /// <param name="output">The buffer to append to; its dimension must agree with <paramref name="dimension"/>.</param>
    /// <remarks>A csv header line (no field is a number) succeeds with no rows appended: callers see
    /// <see cref="RowBuffer.Rows"/> unchanged and can count it as a record without rows.</remarks>
    public static string? TryDecode(ReadOnlySpan<byte> value, RowFormat format, ref int dimension, bool allowNonFinite, RowBuffer output)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfNegative(dimension);
        if (dimension == 0) dimension = output.Dimension;
        else if (output.Dimension == 0 && output.Rows == 0) output.LearnDimension(dimension);
        else if (output.Dimension != dimension)
            throw new ArgumentException($"the buffer holds rows of dimension {output.Dimension}, not {dimension}", nameof(output));

        return format switch
        {
            RowFormat.Csv => DecodeCsv(value, ref dimension, allowNonFinite, output),
            RowFormat.F64 => DecodeF64(value, dimension, allowNonFinite, output),
            RowFormat.Json => JsonRowDecoder.Decode(value, ref dimension, allowNonFinite, output),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown row format"),
        };
    }

    private static string? DecodeCsv(ReadOnlySpan<byte> value, ref int dimension, bool allowNonFinite, RowBuffer output)
    {
        var line = value;
        if (!line.IsEmpty && line[^1] == (byte)'\n') line = line[..^1];
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        if (line.Contains((byte)'\n')) return "a csv record must hold one row, but this one has a line break";
        if (CsvRowParser.IsBlank(line)) return RowErrors.Empty;

        int d = dimension == 0 ? CsvRowParser.CountFields(line) : dimension;
        if (output.Dimension == 0) output.LearnDimension(d);
        var row = output.AppendRows(1);
        var status = CsvRowParser.Parse(line, row, allowNonFinite, out int count, out int bad);
        if (status == RowStatus.Ok)
        {
            dimension = d;
            return null;
        }

        output.Truncate(output.Rows - 1);
        if (dimension == 0 && output.Rows == 0) output.Reset(0);
        if (CsvRowParser.IsHeader(line, dimension)) return null;
        return CsvRowParser.Describe(status, line, d, count, bad);
    }

    private static string? DecodeF64(ReadOnlySpan<byte> value, int dimension, bool allowNonFinite, RowBuffer output)
    {
        if (dimension == 0) return "the dimension is unknown: f64 records carry no header, so it must be given (--dim)";
        if (value.IsEmpty) return RowErrors.Empty;
        int rowBytes = 8 * dimension;
        if (value.Length % rowBytes != 0)
            return $"truncated: {value.Length} bytes are not a whole number of rows of {dimension} doubles ({rowBytes} bytes each)";

        int rows = value.Length / rowBytes;
        var destination = output.AppendRows(rows);
        F64Rows.CopyFromLittleEndian(value, destination);
        if (!allowNonFinite)
        {
            int bad = F64Rows.IndexOfUnusable(destination);
            if (bad >= 0)
            {
                double v = destination[bad];
                output.Truncate(output.Rows - rows);
                return $"row {bad / dimension + 1}: {RowErrors.NonFinite(bad % dimension, v, default)}";
            }
        }
        return null;
    }
}
