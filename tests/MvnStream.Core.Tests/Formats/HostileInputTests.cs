using System.Text;
using MvnStream.Core.Formats;

namespace MvnStream.Core.Tests.Formats;

/// <summary>
/// Hostile input (defect 8 of the issue): a line longer than the limit is a bad row named by its line number, never an
/// overflow; rejection reasons and row texts never carry raw control or invalid bytes.
/// </summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string LongLine(int bytes) => new('9', bytes);

    [Fact]
    public void A_csv_line_longer_than_the_limit_fails_naming_its_line_and_the_limit()
    {
        var path = _dir.Write("long.csv", "1,2\n3,4\n" + LongLine(500) + "\n5,6\n");
        var options = Read.Csv() with { MaxLineBytes = 100 };
        var e = Assert.Throws<BadRowException>(() => Read.All(path, options));
        Assert.StartsWith(path + ":3: line 3 is longer than the limit (100 bytes)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Skip_passes_over_a_long_line_and_reads_the_rows_around_it()
    {
        // The long line is longer than the 1 MiB read buffer too, so skipping it takes several reads.
        var path = _dir.Write("long.csv", "1,2\n" + LongLine(3_000_000) + "\n3,4\n" + LongLine(150) + "\n5,6");
        var r = Read.All(path, Read.Csv(policy: BadRowPolicy.Skip) with { MaxLineBytes = 100 });
        Assert.Equal([1, 2, 3, 4, 5, 6], r.Flat);
        Assert.Equal(2, r.RowsRejected);
        Assert.Equal(path + ":2: line 2 is longer than the limit (100 bytes)", r.Rejections[0].ToString());
        Assert.Equal(path + ":4: line 4 is longer than the limit (100 bytes)", r.Rejections[1].ToString());
    }

    [Fact]
    public void A_long_first_line_is_neither_a_header_nor_the_dimension_and_is_rejected()
    {
        var path = _dir.Write("first.csv", LongLine(2_500_000) + "\n1,2,3\n4,5,6\n");
        var r = Read.All(path, Read.Csv(policy: BadRowPolicy.Skip) with { MaxLineBytes = 1000 });
        Assert.Equal([1, 2, 3, 4, 5, 6], r.Flat);
        Assert.Equal(path + ":1: line 1 is longer than the limit (1000 bytes)", Assert.Single(r.Rejections).ToString());
    }

    [Fact]
    public void A_json_lines_line_longer_than_the_limit_is_rejected_by_line()
    {
        var path = _dir.Write("long.jsonl", "[1,2]\n[" + string.Join(',', Enumerable.Repeat("1", 200)) + "]\n[3,4]\n");
        var r = Read.All(path, Read.Json(policy: BadRowPolicy.Skip) with { MaxLineBytes = 64 });
        Assert.Equal([1, 2, 3, 4], r.Flat);
        Assert.Equal(path + ":2: line 2 is longer than the limit (64 bytes)", Assert.Single(r.Rejections).ToString());
    }

    [Fact]
    public void The_line_limit_cannot_exceed_what_an_array_can_hold()
    {
        Assert.Throws<ArgumentException>(() => Read.All(_dir.Write("x.csv", "1\n"), Read.Csv() with { MaxLineBytes = int.MaxValue }));
        Assert.True(RowReaderOptions.DefaultMaxLineBytes < Array.MaxLength, "the default limit must fit in an array");
    }

    [Fact]
    public void Reasons_and_row_texts_escape_control_and_invalid_bytes()
    {
        byte[] bad = [(byte)'1', (byte)',', 0x00, 0xFF, 0x1B, (byte)'[', (byte)'2', (byte)'J', 0x07, (byte)'\xE9', (byte)',', (byte)'3'];
        var path = _dir.Write("binary.csv", [.. "1,2,3\n"u8, .. bad, (byte)'\n']);
        var r = Read.All(path, Read.Csv(policy: BadRowPolicy.Skip));
        var rejected = Assert.Single(r.Rejections);
        string all = rejected.ToString() + rejected.Text;
        Assert.True(all.All(c => c >= 0x20 && c != 0x7F && c != '\uFFFD'), $"raw control or invalid bytes in '{all}'");
        Assert.Contains(@"value 2 '\x00\xFF\x1B[2J\x07\xE9' is not a number", rejected.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Printable_ascii_escapes_everything_else_and_is_bounded()
    {
        Assert.Equal(@"a\x00b\u00E9\n", PrintableText.Ascii("a\0b\u00e9\n", 100));
        string s = PrintableText.Ascii(new string('x', 1000), 50);
        Assert.True(s.Length <= 50 && s.EndsWith("...", StringComparison.Ordinal), s);
        Assert.Equal("caf\u00e9 \\xFF", PrintableText.Utf8(Encoding.UTF8.GetBytes("caf\u00e9 ").Concat(new byte[] { 0xFF }).ToArray(), 100));
    }
}
