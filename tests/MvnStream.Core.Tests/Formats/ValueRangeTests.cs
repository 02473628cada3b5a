using System.Text;
using MvnStream.Core.Formats;

namespace MvnStream.Core.Tests.Formats;

/// <summary>
/// A value whose square overflows (|x| &gt; 1e100) is a bad value in every format, like NaN and Infinity: accepted, it
/// would turn the scatter into Infinity for good. 1e100 itself is accepted.
/// </summary>
public sealed class ValueRangeTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Csv_rows_with_a_value_beyond_1e100_are_rejected_as_too_large_and_1e100_is_accepted()
    {
        var path = _dir.Write("data.csv", "1,2\n1e100,-1e100\n3,1e200\n-2.5e150,4\n5,6\n");
        var r = Read.All(path, Read.Csv(policy: BadRowPolicy.Skip));
        Assert.Equal([1, 2, 1e100, -1e100, 5, 6], r.Flat);
        Assert.Equal(2, r.RowsRejected);
        Assert.Equal(path + ":3: value 2 (1E+200) is too large: beyond 1E+100 in magnitude its square overflows the statistics", r.Rejections[0].ToString());
        Assert.Contains("value 1 (-2.5E+150) is too large", r.Rejections[1].ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Json_rows_with_a_value_beyond_1e100_are_rejected_as_too_large()
    {
        var path = _dir.Write("data.jsonl", "[1,2]\n[1e100,-1e100]\n[3,1e101]\n");
        var r = Read.All(path, Read.Json(policy: BadRowPolicy.Skip));
        Assert.Equal([1, 2, 1e100, -1e100], r.Flat);
        var rejected = Assert.Single(r.Rejections);
        Assert.Contains(":3: value 2 (1E+101) is too large", rejected.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void F64_rows_with_a_value_beyond_1e100_are_rejected_with_their_row_number()
    {
        double above = Math.BitIncrement(1e100);
        var values = Enumerable.Range(0, 2 * 50).Select(i => (double)i).ToArray();
        values[2 * 10 + 1] = 1e100;   // row 11: the limit itself, accepted
        values[2 * 20 + 0] = -above;  // row 21
        values[2 * 49 + 1] = 1e300;   // row 50
        var path = _dir.Write("data.f64", Read.F64Bytes(values));
        var r = Read.All(path, Read.F64(2, BadRowPolicy.Skip));
        Assert.Equal(48, r.Rows.Count);
        Assert.Equal(2, r.RowsRejected);
        Assert.Contains("row 21", r.Rejections[0].ToString(), StringComparison.Ordinal);
        Assert.Contains("too large", r.Rejections[0].ToString(), StringComparison.Ordinal);
        Assert.Contains("row 50", r.Rejections[1].ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Kafka_records_with_a_value_beyond_1e100_are_rejected_in_every_format()
    {
        foreach (var (format, value) in new (RowFormat, byte[])[]
                 {
                     (RowFormat.Csv, Encoding.UTF8.GetBytes("1,1e200")),
                     (RowFormat.Json, Encoding.UTF8.GetBytes("[[1,2],[1,-1e200]]")),
                     (RowFormat.F64, Read.F64Bytes(1, 2, 3, 1e200)),
                 })
        {
            var buffer = new RowBuffer();
            int d = 2;
            var reason = RecordDecoder.TryDecode(value, format, ref d, allowNonFinite: false, buffer);
            Assert.True(reason is not null && reason.Contains("too large", StringComparison.Ordinal), $"{format}: reason '{reason}'");
            Assert.Equal(0, buffer.Rows);
        }
    }

    [Fact]
    public void Vectorised_search_agrees_with_the_scalar_definition_at_every_position()
    {
        // Every length up to 70 (vector tails, 4-vector unrolled bodies) and every position of one bad value, for
        // values just beyond the limit, NaN with payload, both infinities; the good ones include -0, subnormals and +-1e100.
        double[] bad = [Math.BitIncrement(1e100), -Math.BitIncrement(1e100), double.NaN, BitConverter.Int64BitsToDouble(unchecked((long)0xFFF8_0000_0000_0001)), double.PositiveInfinity, double.NegativeInfinity, double.MaxValue];
        double[] good = [0.0, -0.0, double.Epsilon, -double.Epsilon, 1e100, -1e100, 1.5, -3e99];
        var rnd = new Random(5);
        for (int n = 1; n <= 70; n++)
        {
            var v = new double[n];
            for (int i = 0; i < n; i++) v[i] = good[rnd.Next(good.Length)];
            Assert.Equal(-1, F64Rows.IndexOfUnusable(v));
            for (int at = 0; at < n; at++)
            {
                var w = (double[])v.Clone();
                w[at] = bad[rnd.Next(bad.Length)];
                Assert.True(at == F64Rows.IndexOfUnusable(w), $"n {n}, bad value {w[at]:R} at {at}");
            }
        }
    }
}
