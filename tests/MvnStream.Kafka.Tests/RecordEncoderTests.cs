using System.Text;
using MvnStream.Core.Formats;
using MvnStream.Kafka.Producing;
using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

public sealed class RecordEncoderTests
{
    /// <summary>Values whose text forms are tricky: signed zero, subnormals, extremes, exponents, halfway-ish decimals.</summary>
    private static readonly double[] Edge =
    [
        0.0, -0.0, double.Epsilon, -double.Epsilon, 2.2250738585072014E-308, 2.225073858507201E-308, double.MaxValue, double.MinValue,
        1e-300, 1e300, 0.1, 1.0 / 3, Math.PI, -Math.E, 123456789012345680, 9007199254740993, 5e-324, 1.7976931348623157E+308, 1e21, 1e-7,
    ];

    private static double[] Values(int rows, int d, int seed)
    {
        var x = new SyntheticSource(d, seed).NextRows(rows);
        for (int i = 0; i < x.Length; i += 3) x[i] = Edge[(i / 3) % Edge.Length];
        return x;
    }

    [Theory]
    [InlineData(RowFormat.Csv, 1)]
    [InlineData(RowFormat.F64, 1)]
    [InlineData(RowFormat.F64, 4)]
    [InlineData(RowFormat.Json, 1)]
    [InlineData(RowFormat.Json, 4)]
    public void Every_encoding_decodes_back_to_the_exact_rows(RowFormat format, int k)
    {
        const int d = 5, rows = 203; // 203 = 50 x 4 + 3: the last record of a block encoding is shorter
        var x = Values(rows, d, 11);
        var encoder = new RecordEncoder(format, d, k);
        var records = new List<byte[]>();
        for (int first = 0; first < rows; first += k)
            records.Add(encoder.Encode(x.AsSpan(first * d, Math.Min(k, rows - first) * d)));
        Assert.Equal((rows + k - 1) / k, records.Count);
        // The whole double range, MaxValue included, round-trips bit for bit (the decoder's range check is off here:
        // rows beyond 1e100 are bad values, a separate rule tested in ValueRangeTests).
        Rows.AssertBitIdentical(x, Rows.Decode(records, format, d, anyValue: true), d);
    }

    [Fact]
    public void Csv_is_the_shortest_round_trip_text_without_a_line_break()
    {
        var e = new RecordEncoder(RowFormat.Csv, 4);
        Assert.Equal("0.1,-0,1E-300,1.7976931348623157E+308", Encoding.UTF8.GetString(e.Encode([0.1, -0.0, 1e-300, double.MaxValue])));
    }

    [Fact]
    public void Json_is_a_flat_array_for_one_row_and_an_array_of_rows_for_blocks()
    {
        Assert.Equal("[1.5,-2]", Encoding.UTF8.GetString(new RecordEncoder(RowFormat.Json, 2).Encode([1.5, -2])));
        var block = new RecordEncoder(RowFormat.Json, 2, 3);
        Assert.Equal("[[1,2],[3,4]]", Encoding.UTF8.GetString(block.Encode([1, 2, 3, 4])));
        Assert.Equal("[[5,6]]", Encoding.UTF8.GetString(block.Encode([5, 6])));
    }

    [Fact]
    public void F64_is_little_endian_doubles()
    {
        var bytes = new RecordEncoder(RowFormat.F64, 2, 2).Encode([1.0, -2.5, 3, 4]);
        Assert.Equal(32, bytes.Length);
        Assert.Equal(-2.5, System.Buffers.Binary.BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(8)));
    }

    [Fact]
    public void Rejects_what_a_format_cannot_hold()
    {
        Assert.Throws<ArgumentException>(() => new RecordEncoder(RowFormat.Csv, 3, 2));
        Assert.Throws<ArgumentException>(() => new RecordEncoder(RowFormat.Json, 2).Encode([double.NaN, 1]));
        Assert.Throws<ArgumentException>(() => new RecordEncoder(RowFormat.Json, 2).Encode([1, 2, 3]));
        Assert.Throws<ArgumentException>(() => new RecordEncoder(RowFormat.F64, 2, 1).Encode([1, 2, 3, 4]));
        Assert.Throws<ArgumentException>(() => new RecordEncoder(RowFormat.F64, 2).Encode([]));
    }
}
