using System.Globalization;
using MvnStream.Core.Formats;

namespace MvnStream.Kafka.Producing;

/// <summary>
/// Encodes rows as Kafka record values in the formats of docs/ARCHITECTURE.md, "Formats", the inverse of
/// <see cref="RecordDecoder.TryDecode"/> (every double comes back bit for bit):
/// <list type="bullet">
/// <item><b>csv</b>: one row per record, the d values separated by commas, each in the shortest round-trip form
/// (<c>"R"</c>, invariant culture), no line break; what <c>kcat -P</c> sends for one line of a CSV file.</item>
/// <item><b>f64</b>: a block of up to k rows per record, k*d little-endian IEEE-754 doubles.</item>
/// <item><b>json</b>: <c>[x1,...,xd]</c> when k = 1; <c>[[...],[...]]</c> (always an array of rows, even for the
/// last, shorter record) when k &gt; 1.</item>
/// </list>
/// </summary>
public sealed class RecordEncoder
{
    /// <summary>Longest "R" form of a double ("-1.7976931348623157E+308" is 24 characters).</summary>
    private const int MaxNumberBytes = 32;

    private readonly byte[] _scratch;

    /// <summary>An encoder of rows of <paramref name="dimension"/> values, at most <paramref name="rowsPerRecord"/> per record.</summary>
    /// <exception cref="ArgumentException">csv with more than one row per record (a csv record holds one row).</exception>
    public RecordEncoder(RowFormat format, int dimension, int rowsPerRecord = 1)
    {
        if (!Enum.IsDefined(format)) throw new ArgumentOutOfRangeException(nameof(format), format, "unknown row format");
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rowsPerRecord, 1);
        if (format == RowFormat.Csv && rowsPerRecord != 1)
            throw new ArgumentException($"a csv record holds exactly one row, so rows per record must be 1, not {rowsPerRecord}; use f64 or json for blocks", nameof(rowsPerRecord));
        Format = format;
        Dimension = dimension;
        RowsPerRecord = rowsPerRecord;
        long values = (long)dimension * rowsPerRecord;
        long size = format == RowFormat.F64 ? 8 * values : values * (MaxNumberBytes + 1) + 4L * rowsPerRecord + 4;
        if (size > Array.MaxLength) throw new ArgumentException($"a record of {rowsPerRecord} rows of {dimension} values would be too large", nameof(rowsPerRecord));
        _scratch = format == RowFormat.F64 ? [] : new byte[size];
    }

    /// <summary>The record encoding.</summary>
    public RowFormat Format { get; }

    /// <summary>d.</summary>
    public int Dimension { get; }

    /// <summary>The most rows one record holds (k).</summary>
    public int RowsPerRecord { get; }

    /// <summary>
    /// Encodes 1 to <see cref="RowsPerRecord"/> whole rows (row-major) as one record value, a new array of
    /// exactly the record's length.
    /// </summary>
    /// <exception cref="ArgumentException">Not a whole number of rows, no rows, too many rows, or a NaN or
    /// infinity in json (which has no such numbers).</exception>
    public byte[] Encode(ReadOnlySpan<double> rows)
    {
        int d = Dimension;
        if (rows.Length == 0 || rows.Length % d != 0)
            throw new ArgumentException($"{rows.Length} values are not a whole, non-zero number of rows of {d}", nameof(rows));
        int k = rows.Length / d;
        if (k > RowsPerRecord)
            throw new ArgumentException($"{k} rows are more than the {RowsPerRecord} a record holds", nameof(rows));

        switch (Format)
        {
            case RowFormat.F64:
            {
                var value = new byte[rows.Length * 8];
                if (BitConverter.IsLittleEndian)
                    System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows).CopyTo(value);
                else
                    for (int i = 0; i < rows.Length; i++)
                        System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(value.AsSpan(8 * i), rows[i]);
                return value;
            }
            case RowFormat.Csv:
            {
                int n = WriteRow(rows, _scratch, 0, json: false);
                return _scratch.AsSpan(0, n).ToArray();
            }
            default:
            {
                int n = 0;
                bool nested = RowsPerRecord > 1;
                if (nested) _scratch[n++] = (byte)'[';
                for (int r = 0; r < k; r++)
                {
                    if (r > 0) _scratch[n++] = (byte)',';
                    _scratch[n++] = (byte)'[';
                    n = WriteRow(rows.Slice(r * d, d), _scratch, n, json: true);
                    _scratch[n++] = (byte)']';
                }
                if (nested) _scratch[n++] = (byte)']';
                return _scratch.AsSpan(0, n).ToArray();
            }
        }
    }

    private static int WriteRow(ReadOnlySpan<double> row, byte[] buffer, int n, bool json)
    {
        for (int j = 0; j < row.Length; j++)
        {
            double v = row[j];
            if (json && !double.IsFinite(v))
                throw new ArgumentException($"value {j + 1} of a row is {v.ToString(CultureInfo.InvariantCulture)}, which JSON cannot represent; use csv or f64", nameof(row));
            if (j > 0) buffer[n++] = (byte)',';
            if (!v.TryFormat(buffer.AsSpan(n), out int written, "R", CultureInfo.InvariantCulture))
                throw new InvalidOperationException("a number did not fit its buffer (a bug)");
            n += written;
        }
        return n;
    }
}
