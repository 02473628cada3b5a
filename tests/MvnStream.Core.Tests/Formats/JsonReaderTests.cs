using System.Globalization;
using System.Text;
using MvnStream.Core.Formats;

namespace MvnStream.Core.Tests.Formats;

public sealed class JsonReaderTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Json_lines_of_rows_and_of_arrays_of_rows()
    {
        var path = _dir.Write("data.jsonl", "[1,2]\n[[3,4],[5,6]]\r\n  [7, 8.5e1]  \n");
        var r = Read.All(path, Read.Json());
        Assert.Equal(2, r.Dimension);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 85], r.Flat);
    }

    [Fact]
    public void Rows_of_a_line_are_handed_out_across_blocks()
    {
        var path = _dir.Write("data.jsonl", "[[1],[2],[3],[4],[5]]\n[6]\n");
        var r = Read.All(path, Read.Json() with { BlockRows = 2 });
        Assert.Equal([1, 2, 3, 4, 5, 6], r.Flat);
    }

    [Theory]
    [InlineData("[1,2,3]", "expected 2 values, found 3")]
    [InlineData("[1,\"abc\"]", "value 2 '\"abc\"' is not a number")]
    [InlineData("[1,null]", "value 2 'null' is not a number")]
    [InlineData("[1,\"NaN\"]", "value 2 is NaN")]
    [InlineData("[\"-Infinity\",1]", "value 1 is -Infinity")]
    [InlineData("[1,1e999]", "value 2 '1e999' is out of range (it overflows to Infinity)")]
    [InlineData("[]", "empty row")]
    [InlineData("", "empty row")]
    [InlineData("[[1,2],[3]]", "row 2: expected 2 values, found 1")]
    [InlineData("[[1,2],3]", "row 2 is a number, not an array of numbers")]
    [InlineData("[1,[2]]", "value 2 is an array, not a number")]
    [InlineData("{\"x\":1}", "expected a JSON array of numbers or an array of arrays, found an object")]
    public void Bad_lines_are_rejected_with_their_line_number(string line, string reason)
    {
        var path = _dir.Write("data.jsonl", "[0,0]\n" + line + "\n[9,9]\n");
        var ex = Assert.Throws<BadRowException>(() => Read.All(path, Read.Json()));
        Assert.Equal($"{path}:2: {reason}", ex.Row.ToString());

        var r = Read.All(path, Read.Json(policy: BadRowPolicy.Skip));
        Assert.Equal([0, 0, 9, 9], r.Flat);
        Assert.Equal(1, r.RowsRejected);
    }

    [Fact]
    public void Malformed_json_lines_are_rejected_and_reading_goes_on()
    {
        var path = _dir.Write("data.jsonl", "[1,2]\n[1,2\n[3,4]\n[5,6]]\n[7,8]\n");
        var r = Read.All(path, Read.Json(policy: BadRowPolicy.Skip));
        Assert.Equal([1, 2, 3, 4, 7, 8], r.Flat);
        Assert.Equal([2L, 4], r.Rejections.Select(x => x.Line));
        Assert.All(r.Rejections, x => Assert.StartsWith("malformed JSON", x.Reason));
    }

    [Fact]
    public void Non_finite_strings_are_accepted_when_allowed()
    {
        var path = _dir.Write("data.jsonl", "[\"NaN\",\"Infinity\",\"-Infinity\"]\n");
        var r = Read.All(path, Read.Json() with { AllowNonFinite = true });
        Assert.True(double.IsNaN(r.Flat[0]));
        Assert.Equal(double.PositiveInfinity, r.Flat[1]);
        Assert.Equal(double.NegativeInfinity, r.Flat[2]);
    }

    [Fact]
    public void A_single_pretty_printed_document_is_streamed()
    {
        var path = _dir.Write("data.json", "[\n  [1, 2],\n  [3, 4],\n  [5, \"x\"],\n  [7, 8]\n]\n");
        var ex = Assert.Throws<BadRowException>(() => Read.All(path, Read.Json()));
        Assert.Equal($"{path}:4: value 2 '\"x\"' is not a number", ex.Row.ToString());

        var r = Read.All(path, Read.Json(policy: BadRowPolicy.Skip));
        Assert.Equal(2, r.Dimension);
        Assert.Equal([1, 2, 3, 4, 7, 8], r.Flat);
    }

    [Fact]
    public void A_document_larger_than_the_buffer_is_read_exactly()
    {
        var rng = new Random(3);
        const int n = 60_000, d = 3;
        var expected = new double[n * d];
        var text = new StringBuilder("[\n");
        for (int i = 0; i < n; i++)
        {
            text.Append(i == 0 ? "  [" : ",\n  [");
            for (int j = 0; j < d; j++)
            {
                expected[i * d + j] = rng.NextDouble() * 1e6;
                if (j > 0) text.Append(", ");
                text.Append(expected[i * d + j].ToString("R", CultureInfo.InvariantCulture));
            }
            text.Append(']');
        }
        text.Append("\n]");
        var path = _dir.Write("big.json", text.ToString());
        Assert.True(new FileInfo(path).Length > 2 << 20);
        var r = Read.All(path, Read.Json());
        Assert.Equal(expected, r.Flat);
    }

    [Fact]
    public void A_syntax_error_in_a_document_stops_reading_whatever_the_policy()
    {
        var path = _dir.Write("data.json", "[\n  [1, 2],\n  [3, 4]\n  [5, 6]\n]\n");
        var ex = Assert.Throws<BadRowException>(() => Read.All(path, Read.Json(policy: BadRowPolicy.Skip)));
        Assert.Equal(4, ex.Row.Line);
        Assert.StartsWith("malformed JSON", ex.Row.Reason);
        Assert.Contains("cannot be read past", ex.Message);
    }

    [Fact]
    public void An_unclosed_document_is_an_error()
    {
        var path = _dir.Write("data.json", "[\n  [1, 2],\n  [3, 4]\n");
        var ex = Assert.Throws<BadRowException>(() => Read.All(path, Read.Json(policy: BadRowPolicy.Skip)));
        Assert.True(ex.Message.Contains("closed", StringComparison.Ordinal), ex.Message);
    }

    [Fact]
    public void A_document_cannot_be_sharded()
    {
        var path = _dir.Write("data.json", "[\n  [1, 2],\n  [3, 4]\n]\n");
        var ex = Assert.Throws<NotSupportedException>(() => RowReader.Open(path, Read.Json(), 0, 10));
        Assert.Contains("JSON Lines", ex.Message);
        Assert.Throws<NotSupportedException>(() => RowReader.Open(path, Read.Json(), 5, long.MaxValue));
        Assert.Equal([1, 2, 3, 4], Read.Range(path, Read.Json(), 0, new FileInfo(path).Length).Flat);
    }

    [Fact]
    public void A_document_on_one_long_line_is_streamed_with_bounded_memory()
    {
        // json.dump(rows) writes the whole array of arrays on one line: about 9 MB here.
        const int n = 250_000, d = 4;
        var text = new StringBuilder("[");
        for (int i = 0; i < n; i++)
        {
            text.Append(i == 0 ? "[" : ", [");
            for (int j = 0; j < d; j++) text.Append(j > 0 ? ", " : "").Append((i * d + j + 0.5).ToString("R", CultureInfo.InvariantCulture));
            text.Append(']');
        }
        text.Append("]\n");
        var path = _dir.Write("oneline.json", text.ToString());
        long size = new FileInfo(path).Length;
        Assert.True(size > 8_000_000, $"{size} bytes");
        Assert.Throws<NotSupportedException>(() => RowReader.Open(path, Read.Json(), 0, size / 2));

        long before = GC.GetAllocatedBytesForCurrentThread();
        long rows = 0;
        double last = 0;
        using (var reader = RowReader.Open(path, Read.Json()))
        {
            var block = new double[4096 * reader.Dimension];
            int k;
            while ((k = reader.ReadBlock(block)) > 0)
            {
                rows += k;
                last = block[k * d - 1];
            }
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(n, rows);
        Assert.Equal(n * d - 0.5, last);
        Assert.True(allocated < 4_000_000, $"reading a {size}-byte document allocated {allocated} bytes");
    }

    [Fact]
    public void A_document_stream_may_hold_several_top_level_values()
    {
        var path = _dir.Write("multi.json", "[\n  [1, 2],\n  [3, 4]\n]\n[[5, 6]]\n[7, 8]\n[]\n{\"a\": 1}\n[[9, 10]]\n");
        var r = Read.All(path, Read.Json(policy: BadRowPolicy.Skip));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], r.Flat);
        Assert.Equal("row 5 is an object, not an array of numbers", Assert.Single(r.Rejections).Reason);
        Assert.Equal(8, r.Rejections[0].Line);
    }

    [Fact]
    public void An_empty_document_has_no_rows()
    {
        var path = _dir.Write("empty.json", "[\n]\n");
        var r = Read.All(path, Read.Json(d: 2));
        Assert.Empty(r.Rows);
        Assert.Equal(0, r.RowsRejected);
    }
}
