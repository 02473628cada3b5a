using MvnStream.Core.Formats;

namespace MvnStream.Core.Tests.Formats;

public sealed class F64ReaderTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Reads_rows_of_little_endian_doubles()
    {
        var path = _dir.Write("data.f64", Read.F64Bytes(1, 2, 3, 4, 5, 6));
        var r = Read.All(path, Read.F64(3));
        Assert.Equal(3, r.Dimension);
        Assert.Equal([1, 2, 3, 4, 5, 6], r.Flat);
    }

    [Fact]
    public void The_dimension_is_required()
    {
        var path = _dir.Write("data.f64", Read.F64Bytes(1, 2));
        var ex = Assert.Throws<ArgumentException>(() => RowReader.Open(path, new RowReaderOptions { Format = RowFormat.F64 }));
        Assert.Contains("--dim", ex.Message);
    }

    [Fact]
    public void A_truncated_last_row_is_rejected_with_its_row_number_and_offset()
    {
        var bytes = Read.F64Bytes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        var path = _dir.Write("data.f64", bytes[..(8 * 9 + 4)]); // rows of 4: two whole rows, then 12 bytes
        var ex = Assert.Throws<BadRowException>(() => Read.All(path, Read.F64(4)));
        Assert.Equal(path + ": row 3 (byte 64): truncated: the last 12 bytes are not a whole row of 4 doubles (32 bytes)", ex.Row.ToString());
        Assert.True(ex.Row.IsBinary);

        var r = Read.All(path, Read.F64(4, BadRowPolicy.Skip));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], r.Flat);
        Assert.Equal(1, r.RowsRejected);
    }

    [Fact]
    public void Non_finite_rows_are_rejected_with_their_row_number_unless_allowed()
    {
        var values = Enumerable.Range(0, 3 * 100).Select(i => (double)i).ToArray();
        values[3 * 40 + 2] = double.NaN;          // row 41
        values[3 * 41 + 0] = double.NegativeInfinity; // row 42
        values[3 * 99 + 1] = double.PositiveInfinity; // row 100
        var path = _dir.Write("data.f64", Read.F64Bytes(values));

        var ex = Assert.Throws<BadRowException>(() => Read.All(path, Read.F64(3)));
        Assert.Equal(path + ": row 41 (byte 960): value 3 is NaN", ex.Row.ToString());

        var r = Read.All(path, Read.F64(3, BadRowPolicy.Skip) with { BlockRows = 16 });
        Assert.Equal(97, r.Rows.Count);
        Assert.Equal([41L, 42, 100], r.Rejections.Select(x => x.Line));
        Assert.Equal(["value 3 is NaN", "value 1 is -Infinity", "value 2 is Infinity"], r.Rejections.Select(x => x.Reason));
        var expected = Enumerable.Range(0, 100).Where(i => i is not (40 or 41 or 99))
            .SelectMany(i => new double[] { 3 * i, 3 * i + 1, 3 * i + 2 }).ToArray();
        Assert.Equal(expected, r.Flat);

        var allowed = Read.All(path, Read.F64(3) with { AllowNonFinite = true });
        Assert.Equal(100, allowed.Rows.Count);
    }

    [Fact]
    public void An_empty_file_has_no_rows()
    {
        var path = _dir.Write("empty.f64", []);
        Assert.Empty(Read.All(path, Read.F64(2)).Rows);
    }

    [Fact]
    public void Many_blocks_are_read_exactly()
    {
        var rng = new Random(11);
        var values = Enumerable.Range(0, 8 * 20_001).Select(_ => rng.NextDouble()).ToArray();
        var path = _dir.Write("data.f64", Read.F64Bytes(values));
        var r = Read.All(path, Read.F64(8));
        Assert.Equal(values, r.Flat);
    }
}
