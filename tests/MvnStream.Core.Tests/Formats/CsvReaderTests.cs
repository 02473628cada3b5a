using System.Globalization;
using System.Text;
using MvnStream.Core.Formats;

namespace MvnStream.Core.Tests.Formats;

public sealed class CsvReaderTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Reads_rows_and_skips_a_header()
    {
        var path = _dir.Write("data.csv", "x,y,z\n1,2,3\n4.5,-6e2,7\n");
        var r = Read.All(path, Read.Csv());
        Assert.Equal(3, r.Dimension);
        Assert.Equal([1, 2, 3, 4.5, -600, 7], r.Flat);
        Assert.Equal(0, r.RowsRejected);
    }

    [Fact]
    public void Without_a_header_the_first_line_is_data()
    {
        var path = _dir.Write("data.csv", "1,2,3\n4,5,6\n");
        Assert.Equal([1, 2, 3, 4, 5, 6], Read.All(path, Read.Csv()).Flat);
    }

    [Fact]
    public void A_first_line_where_only_some_fields_parse_is_a_bad_row_not_a_header()
    {
        var path = _dir.Write("data.csv", "1,y,3\n4,5,6\n");
        var ex = Assert.Throws<BadRowException>(() => Read.All(path, Read.Csv()));
        Assert.Equal(1, ex.Row.Line);
        Assert.Equal("value 2 'y' is not a number", ex.Row.Reason);

        var skipped = Read.All(path, Read.Csv(policy: BadRowPolicy.Skip));
        Assert.Equal([4, 5, 6], skipped.Flat);
        Assert.Equal(1, skipped.RowsRejected);
    }

    [Fact]
    public void A_header_is_recognised_only_on_the_first_non_blank_line()
    {
        var path = _dir.Write("data.csv", "a,b\n1,2\nc,d\n3,4\n");
        var r = Read.All(path, Read.Csv(policy: BadRowPolicy.Skip));
        Assert.Equal([1, 2, 3, 4], r.Flat);
        Assert.Equal(3, Assert.Single(r.Rejections).Line);
    }

    [Fact]
    public void Crlf_line_endings_whitespace_and_a_last_line_without_newline()
    {
        var path = _dir.Write("data.csv", "a , b\r\n 1 ,\t2\r\n3,4 \r\n5,6");
        var r = Read.All(path, Read.Csv());
        Assert.Equal([1, 2, 3, 4, 5, 6], r.Flat);
        Assert.Equal(0, r.RowsRejected);
    }

    [Fact]
    public void A_trailing_newline_is_not_a_row_but_an_inner_blank_line_is_an_empty_row()
    {
        var path = _dir.Write("data.csv", "1,2\n\n3,4\n");
        var ex = Assert.Throws<BadRowException>(() => Read.All(path, Read.Csv()));
        Assert.Equal(path + ":2: empty row", ex.Row.ToString());

        var r = Read.All(path, Read.Csv(policy: BadRowPolicy.Skip));
        Assert.Equal([1, 2, 3, 4], r.Flat);
        Assert.Equal(1, r.RowsRejected);
    }

    [Fact]
    public void Wrong_column_count_is_rejected_with_its_line_number()
    {
        var path = _dir.Write("data.csv", "1,2,3,4,5\n1,2,3,4,5\n1,2,3,4\n");
        var ex = Assert.Throws<BadRowException>(() => Read.All(path, Read.Csv()));
        Assert.Equal(path + ":3: expected 5 values, found 4", ex.Row.ToString());
        Assert.StartsWith(path + ":3: expected 5 values, found 4", ex.Message);
        Assert.Contains("--on-bad-row skip", ex.Message);
        Assert.Equal("1,2,3,4", ex.Row.Text);
        Assert.Equal(20, ex.Row.ByteOffset);
    }

    [Fact]
    public void Non_numeric_values_are_rejected_naming_the_value()
    {
        var path = _dir.Write("data.csv", "1,2,3\n4,5,abc\n");
        var ex = Assert.Throws<BadRowException>(() => Read.All(path, Read.Csv()));
        Assert.Equal(path + ":2: value 3 'abc' is not a number", ex.Row.ToString());
    }

    [Theory]
    [InlineData("NaN", "value 2 is NaN")]
    [InlineData("Infinity", "value 2 is Infinity")]
    [InlineData("-Infinity", "value 2 is -Infinity")]
    [InlineData("1e999", "value 2 '1e999' is out of range (it overflows to Infinity)")]
    public void Non_finite_values_are_rejected_unless_allowed(string value, string reason)
    {
        var path = _dir.Write("data.csv", $"1,2\n3,{value}\n");
        var ex = Assert.Throws<BadRowException>(() => Read.All(path, Read.Csv()));
        Assert.Equal(2, ex.Row.Line);
        Assert.Equal(reason, ex.Row.Reason);

        var allowed = Read.All(path, Read.Csv() with { AllowNonFinite = true });
        Assert.Equal(2, allowed.Rows.Count);
        Assert.False(double.IsFinite(allowed.Rows[1][1]));
    }

    [Fact]
    public void A_wrong_count_is_reported_before_a_bad_value()
    {
        var path = _dir.Write("data.csv", "1,2,3\nabc,2\n");
        var ex = Assert.Throws<BadRowException>(() => Read.All(path, Read.Csv()));
        Assert.Equal("expected 3 values, found 2", ex.Row.Reason);
    }

    [Fact]
    public void Skip_counts_keeps_reasons_and_continues()
    {
        var path = _dir.Write("data.csv", "h1,h2\n1,2\nx,2\n3,4\n5\n\n6,NaN\n7,8\n");
        var r = Read.All(path, Read.Csv(policy: BadRowPolicy.Skip));
        Assert.Equal([1, 2, 3, 4, 7, 8], r.Flat);
        Assert.Equal(4, r.RowsRejected);
        Assert.Equal([3L, 5, 6, 7], r.Rejections.Select(x => x.Line));
        Assert.Equal(
            ["value 1 'x' is not a number", "expected 2 values, found 1", "empty row", "value 2 is NaN"],
            r.Rejections.Select(x => x.Reason));
    }

    [Fact]
    public void Only_the_first_rejections_are_kept_but_all_are_counted()
    {
        var text = new StringBuilder("1,2\n");
        for (int i = 0; i < 50; i++) text.Append("1,x\n");
        var path = _dir.Write("data.csv", text.ToString());
        using var reader = RowReader.Open(path, Read.Csv(policy: BadRowPolicy.Skip) with { MaxRejectionsKept = 10 });
        var block = new double[reader.Dimension * 4096];
        while (reader.ReadBlock(block) > 0) { }
        Assert.Equal(50, reader.RowsRejected);
        Assert.Equal(10, reader.Rejections.Count);
        Assert.Equal(1, reader.RowsRead);
    }

    [Fact]
    public void Fail_throws_at_the_bad_row_and_keeps_rows_of_earlier_blocks_counted()
    {
        var text = new StringBuilder();
        for (int i = 0; i < 10; i++) text.Append(CultureInfo.InvariantCulture, $"{i},{i}\n");
        text.Append("1,2,3\n");
        var path = _dir.Write("data.csv", text.ToString());
        using var reader = RowReader.Open(path, Read.Csv() with { BlockRows = 4 });
        var block = new double[8];
        Assert.Equal(4, reader.ReadBlock(block));
        Assert.Equal(4, reader.ReadBlock(block));
        var ex = Assert.Throws<BadRowException>(() => reader.ReadBlock(block));
        Assert.Equal(11, ex.Row.Line);
        Assert.Equal(8, reader.RowsRead);
        Assert.Equal(1, reader.RowsRejected);
        Assert.Same(ex, Assert.Throws<BadRowException>(() => reader.ReadBlock(block)));
    }

    [Fact]
    public void A_given_dimension_checks_every_row()
    {
        var path = _dir.Write("data.csv", "1,2\n3,4,5\n");
        var r = Read.All(path, Read.Csv(d: 3, policy: BadRowPolicy.Skip));
        Assert.Equal([3, 4, 5], r.Flat);
        Assert.Equal("expected 3 values, found 2", Assert.Single(r.Rejections).Reason);
    }

    [Fact]
    public void The_dimension_comes_from_the_first_valid_data_row()
    {
        var path = _dir.Write("data.csv", "a,b,c\n1,x\n1,2,3\n4,5,6\n");
        using var reader = RowReader.Open(path, Read.Csv(policy: BadRowPolicy.Skip));
        Assert.Equal(3, reader.Dimension);
        var r = Read.All(path, Read.Csv(policy: BadRowPolicy.Skip));
        Assert.Equal([1, 2, 3, 4, 5, 6], r.Flat);
        Assert.Equal("expected 3 values, found 2", Assert.Single(r.Rejections).Reason);
    }

    [Theory]
    [InlineData("")]
    [InlineData("x,y\n")]
    [InlineData("\n\n")]
    public void A_file_without_data_rows_has_no_dimension(string text)
    {
        var path = _dir.Write("data.csv", text);
        using var reader = RowReader.Open(path, Read.Csv(policy: BadRowPolicy.Skip));
        var ex = Assert.Throws<InvalidOperationException>(() => reader.Dimension);
        Assert.Contains("no valid data rows", ex.Message);
        Assert.Contains("--dim", ex.Message);
        Assert.Equal(0, reader.ReadBlock(new double[1]));
    }

    [Fact]
    public void A_file_of_only_bad_rows_reports_each_row_fault()
    {
        var path = _dir.Write("data.csv", "1,x\nNaN,2\n");
        var r = Read.All(path, Read.Csv(policy: BadRowPolicy.Skip));
        Assert.Empty(r.Rows);
        Assert.Equal(["value 2 'x' is not a number", "value 1 is NaN"], r.Rejections.Select(x => x.Reason));
        Assert.Throws<BadRowException>(() => Read.All(path, Read.Csv()));
    }

    [Fact]
    public void Many_rows_across_buffer_refills_round_trip_bit_identically()
    {
        // About 9 MB: several 1 MiB buffer refills, with lines straddling buffer ends.
        var rng = new Random(7);
        const int n = 30_000, d = 16;
        var expected = new double[n * d];
        var text = new StringBuilder();
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < d; j++)
            {
                // Magnitudes from 1e-300 up to the rows' limit of 1e100 (larger values are bad rows: ValueRangeTests;
                // the parser itself is checked over the whole double range in Utf8DoubleTests).
                double v = (rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-300, 100));
                expected[i * d + j] = v;
                if (j > 0) text.Append(',');
                text.Append(v.ToString("R", CultureInfo.InvariantCulture));
            }
            text.Append('\n');
        }
        var path = _dir.Write("data.csv", text.ToString());
        var r = Read.All(path, Read.Csv());
        Assert.Equal(n, r.Rows.Count);

        long before = GC.GetAllocatedBytesForCurrentThread();
        using (var reader = RowReader.Open(path, Read.Csv()))
        {
            var block = new double[4096 * d];
            while (reader.ReadBlock(block) > 0) { }
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 2_000_000, $"reading a {text.Length}-byte file allocated {allocated} bytes");
        var actual = r.Flat;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(actual[i]), $"value {i}: {expected[i]:R} read as {actual[i]:R}");
    }

    [Fact]
    public void A_line_longer_than_the_buffer_is_read_whole()
    {
        const int d = 150_000; // about 1.3 MB on one line
        var values = Enumerable.Range(0, d).Select(i => i * 0.25).ToArray();
        string line = string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
        var path = _dir.Write("wide.csv", line + "\n" + line + "\n");
        var r = Read.All(path, Read.Csv() with { BlockRows = 1 });
        Assert.Equal(2, r.Rows.Count);
        Assert.Equal(values, r.Rows[1]);
    }

    [Fact]
    public void A_byte_order_mark_is_ignored()
    {
        var path = _dir.Write("bom.csv", [0xEF, 0xBB, 0xBF, .. "x,y\n1,2\n"u8]);
        Assert.Equal([1, 2], Read.All(path, Read.Csv()).Flat);
    }

    [Fact]
    public void A_shard_reports_real_line_numbers()
    {
        var text = new StringBuilder("a,b\n");
        for (int i = 2; i <= 100; i++) text.Append(i == 77 ? "1,2,3\n" : "1,2\n");
        var path = _dir.Write("data.csv", text.ToString());
        long start = text.ToString().IndexOf("1,2\n", 200, StringComparison.Ordinal) + 1;
        var ex = Assert.Throws<BadRowException>(() => Read.Range(path, Read.Csv(d: 2), start, long.MaxValue));
        Assert.Equal(77, ex.Row.Line);
        Assert.Equal(text.ToString().IndexOf("1,2,3", StringComparison.Ordinal), ex.Row.ByteOffset);
    }

    [Fact]
    public void Options_are_validated()
    {
        var path = _dir.Write("data.csv", "1\n");
        Assert.Throws<ArgumentException>(() => RowReader.Open(path, Read.Csv(d: 0)));
        Assert.Throws<ArgumentException>(() => RowReader.Open(path, Read.Csv() with { BlockRows = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => RowReader.Open(path, Read.Csv(), 5, 2));
        using var reader = RowReader.Open(path, Read.Csv() with { BlockRows = 8 });
        Assert.Throws<ArgumentException>(() => reader.ReadBlock(new double[7]));
    }
}
