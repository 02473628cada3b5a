using System.Text;
using MvnStream.Core.Formats;

namespace MvnStream.Core.Tests.Formats;

public sealed class RecordDecoderTests
{
    private static string? Decode(string value, RowFormat format, ref int d, RowBuffer output, bool allowNonFinite = false) =>
        RecordDecoder.TryDecode(Encoding.UTF8.GetBytes(value), format, ref d, allowNonFinite, output);

    [Fact]
    public void Csv_record_learns_the_dimension_and_appends_a_row()
    {
        var output = new RowBuffer();
        int d = 0;
        Assert.Null(Decode("1.5, 2,3\n", RowFormat.Csv, ref d, output));
        Assert.Equal(3, d);
        Assert.Null(Decode("4,5,6\r\n", RowFormat.Csv, ref d, output));
        Assert.Equal(2, output.Rows);
        Assert.Equal([1.5, 2, 3, 4, 5, 6], output.AsSpan().ToArray());
    }

    [Theory]
    [InlineData("1;2;3", "expected 3 values, found 1")]
    [InlineData("1 2 3", "expected 3 values, found 1")]
    [InlineData("a,b", "expected 3 values, found 2")]
    public void Numbers_with_the_wrong_separator_are_bad_rows_not_headers(string record, string reason)
    {
        int d = 3;
        var buffer = new RowBuffer(3);
        var why = RecordDecoder.TryDecode(System.Text.Encoding.UTF8.GetBytes(record), RowFormat.Csv, ref d, false, buffer);
        Assert.NotNull(why);
        Assert.Contains(reason, why, StringComparison.Ordinal);
        Assert.Equal(0, buffer.Rows);
    }

    [Fact]
    public void Csv_header_record_decodes_to_no_rows()
    {
        var output = new RowBuffer();
        int d = 0;
        Assert.Null(Decode("x,y,z", RowFormat.Csv, ref d, output));
        Assert.Equal(0, d);
        Assert.Equal(0, output.Rows);
    }

    [Theory]
    [InlineData("1,2", "expected 3 values, found 2")]
    [InlineData("1,2,abc", "value 3 'abc' is not a number")]
    [InlineData("1,NaN,3", "value 2 is NaN")]
    [InlineData("", "empty row")]
    [InlineData("  \r\n", "empty row")]
    [InlineData("1,2,3\n4,5,6", "a csv record must hold one row, but this one has a line break")]
    public void Bad_csv_records_are_rejected_and_append_nothing(string value, string reason)
    {
        var output = new RowBuffer(3);
        int d = 3;
        Assert.Null(Decode("7,8,9", RowFormat.Csv, ref d, output));
        Assert.Equal(reason, Decode(value, RowFormat.Csv, ref d, output));
        Assert.Equal(1, output.Rows);
        Assert.Equal([7, 8, 9], output.AsSpan().ToArray());
    }

    [Fact]
    public void A_bad_first_csv_record_does_not_fix_the_dimension()
    {
        var output = new RowBuffer();
        int d = 0;
        Assert.NotNull(Decode("1,x", RowFormat.Csv, ref d, output));
        Assert.Equal(0, d);
        Assert.Equal(0, output.Dimension);
        Assert.Null(Decode("1,2,3", RowFormat.Csv, ref d, output));
        Assert.Equal(3, d);
    }

    [Fact]
    public void F64_record_of_several_rows()
    {
        var output = new RowBuffer();
        int d = 2;
        Assert.Null(RecordDecoder.TryDecode(Read.F64Bytes(1, 2, 3, 4, 5, 6), RowFormat.F64, ref d, false, output));
        Assert.Equal(3, output.Rows);
        Assert.Equal([1, 2, 3, 4, 5, 6], output.AsSpan().ToArray());
    }

    [Fact]
    public void Bad_f64_records_are_rejected_and_append_nothing()
    {
        var output = new RowBuffer(2);
        int d = 2;
        Assert.StartsWith("truncated", RecordDecoder.TryDecode(Read.F64Bytes(1, 2, 3), RowFormat.F64, ref d, false, output));
        Assert.Equal("row 2: value 1 is Infinity", RecordDecoder.TryDecode(Read.F64Bytes(1, 2, double.PositiveInfinity, 4), RowFormat.F64, ref d, false, output));
        Assert.Equal("empty row", RecordDecoder.TryDecode([], RowFormat.F64, ref d, false, output));
        Assert.Equal(0, output.Rows);
        Assert.Null(RecordDecoder.TryDecode(Read.F64Bytes(1, 2, double.NaN, 4), RowFormat.F64, ref d, true, output));
        Assert.Equal(2, output.Rows);

        int unknown = 0;
        Assert.Contains("--dim", RecordDecoder.TryDecode(Read.F64Bytes(1, 2), RowFormat.F64, ref unknown, false, new RowBuffer()));
    }

    [Fact]
    public void Json_records_one_row_or_many()
    {
        var output = new RowBuffer();
        int d = 0;
        Assert.Null(Decode("[1, 2]", RowFormat.Json, ref d, output));
        Assert.Equal(2, d);
        Assert.Null(Decode("[[3,4],[5,6]]", RowFormat.Json, ref d, output));
        Assert.Equal([1, 2, 3, 4, 5, 6], output.AsSpan().ToArray());
    }

    [Theory]
    [InlineData("[[1,2],[3]]", "row 2: expected 2 values, found 1")]
    [InlineData("[1,\"a\"]", "value 2 '\"a\"' is not a number")]
    [InlineData("[1,\"NaN\"]", "value 2 is NaN")]
    [InlineData("[]", "empty row")]
    [InlineData("  ", "empty row")]
    [InlineData("[1,2] [3,4]", null)]
    [InlineData("[1,2", null)]
    public void Bad_json_records_are_rejected_and_append_nothing(string value, string? reason)
    {
        var output = new RowBuffer();
        int d = 0;
        Assert.Null(Decode("[0,0]", RowFormat.Json, ref d, output));
        string? actual = Decode(value, RowFormat.Json, ref d, output);
        Assert.NotNull(actual);
        if (reason != null) Assert.Equal(reason, actual);
        else Assert.StartsWith("malformed JSON", actual);
        Assert.Equal(1, output.Rows);
    }

    [Fact]
    public void A_failed_multi_row_json_record_forgets_a_learned_dimension()
    {
        var output = new RowBuffer();
        int d = 0;
        Assert.NotNull(Decode("[[1,2],[3,\"x\"]]", RowFormat.Json, ref d, output));
        Assert.Equal(0, d);
        Assert.Equal(0, output.Rows);
        Assert.Null(Decode("[1,2,3]", RowFormat.Json, ref d, output));
        Assert.Equal(3, d);
    }

    [Fact]
    public void Json_non_finite_strings_are_accepted_when_allowed()
    {
        var output = new RowBuffer();
        int d = 0;
        Assert.Null(Decode("[\"NaN\", 1]", RowFormat.Json, ref d, output, allowNonFinite: true));
        Assert.True(double.IsNaN(output.Row(0)[0]));
    }

    [Fact]
    public void A_buffer_of_another_dimension_is_a_programming_error()
    {
        int d = 3;
        Assert.Throws<ArgumentException>(() => Decode("1,2,3", RowFormat.Csv, ref d, new RowBuffer(2)));
    }
}
