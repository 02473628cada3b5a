using System.Globalization;
using System.Text;
using MvnStream.Core.Formats;

namespace MvnStream.Core.Tests.Formats;

/// <summary>
/// Byte-range shards with random cut points must together yield exactly the whole file's rows, each once,
/// in order, and the same rejections with the same line numbers.
/// </summary>
public sealed class ShardTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static void AssertShardsEqualWhole(string path, RowReaderOptions options, int seed, int iterations)
    {
        options = options with { MaxRejectionsKept = int.MaxValue };
        var whole = Read.All(path, options);
        long length = new FileInfo(path).Length;
        Assert.Equal(length, whole.BytesRead);
        var rng = new Random(seed);
        for (int it = 0; it < iterations; it++)
        {
            int cuts = rng.Next(1, 8);
            var points = new List<long> { 0, length };
            for (int c = 0; c < cuts; c++) points.Add(rng.NextInt64(0, length + 1));
            points.Sort();
            var rows = new List<double[]>();
            var rejections = new List<RejectedRow>();
            long bytes = 0;
            for (int s = 0; s + 1 < points.Count; s++)
            {
                var part = Read.Range(path, options, points[s], points[s + 1]);
                rows.AddRange(part.Rows);
                rejections.AddRange(part.Rejections);
                bytes += part.BytesRead;
            }
            string where = $"seed {seed}, iteration {it}, cuts [{string.Join(", ", points)}]";
            Assert.True(bytes == length, $"{where}: the shards read {bytes} bytes of {length}");
            Assert.True(whole.Rows.Count == rows.Count, $"{where}: {rows.Count} rows from shards, {whole.Rows.Count} from the whole file");
            for (int i = 0; i < rows.Count; i++)
                Assert.True(whole.Rows[i].AsSpan().SequenceEqual(rows[i]), $"{where}: row {i} differs");
            int first = Enumerable.Range(0, Math.Min(whole.Rejections.Count, rejections.Count)).FirstOrDefault(i => whole.Rejections[i] != rejections[i], -1);
            Assert.True(whole.Rejections.Count == rejections.Count && first < 0,
                $"{where}: {rejections.Count} rejections from shards, {whole.Rejections.Count} from the whole file; first difference at {first}: "
                + (first >= 0 ? $"{whole.Rejections[first]} vs {rejections[first]}" : ""));
        }
    }

    private static string RandomCsv(Random rng, int rows, int d, bool header, bool crlf, bool withBadRows)
    {
        var text = new StringBuilder();
        string nl = crlf ? "\r\n" : "\n";
        if (header) text.Append(string.Join(",", Enumerable.Range(0, d).Select(j => "c" + j))).Append(nl);
        for (int i = 0; i < rows; i++)
        {
            int kind = withBadRows && i > 0 ? rng.Next(12) : 99;
            if (kind == 0) { text.Append(nl); continue; }
            if (kind == 1) { text.Append("1,x").Append(nl); continue; }
            int count = kind == 2 ? d + 1 : d;
            for (int j = 0; j < count; j++)
            {
                if (j > 0) text.Append(rng.Next(4) == 0 ? " , " : ",");
                text.Append((rng.NextDouble() * 200 - 100).ToString("R", CultureInfo.InvariantCulture));
            }
            text.Append(nl);
        }
        if (rng.Next(2) == 0) text.Append("1,2"); // a last line without newline (and of the wrong width)
        return text.ToString();
    }

    [Theory]
    [InlineData(1, true, false)]
    [InlineData(2, false, true)]
    [InlineData(3, true, true)]
    public void Csv_shards_yield_the_whole_file(int seed, bool header, bool crlf)
    {
        var rng = new Random(seed);
        var path = _dir.Write($"data{seed}.csv", RandomCsv(rng, 300, 3, header, crlf, withBadRows: true));
        AssertShardsEqualWhole(path, Read.Csv(policy: BadRowPolicy.Skip) with { BlockRows = 7 }, seed, 150);
        AssertShardsEqualWhole(path, Read.Csv(d: 3, policy: BadRowPolicy.Skip), seed + 100, 50);
    }

    [Fact]
    public void Csv_shards_of_a_file_starting_with_blank_lines_agree_on_the_header()
    {
        var path = _dir.Write("blank.csv", "\n\n\na,b\n1,2\n3,4\n");
        var whole = Read.All(path, Read.Csv(policy: BadRowPolicy.Skip));
        Assert.Equal([1, 2, 3, 4], whole.Flat);
        Assert.Equal(3, whole.RowsRejected);
        AssertShardsEqualWhole(path, Read.Csv(policy: BadRowPolicy.Skip), 5, 200);
    }

    [Fact]
    public void Cut_points_exactly_at_line_starts_give_the_line_to_the_later_shard()
    {
        var path = _dir.Write("lines.csv", "1,1\n2,2\n3,3\n");
        Assert.Equal([1, 1], Read.Range(path, Read.Csv(), 0, 4).Flat);
        Assert.Equal([2, 2], Read.Range(path, Read.Csv(), 4, 8).Flat);
        Assert.Equal([2, 2, 3, 3], Read.Range(path, Read.Csv(), 4, 100).Flat);
        Assert.Equal([2, 2], Read.Range(path, Read.Csv(), 1, 5).Flat);
        Assert.Empty(Read.Range(path, Read.Csv(d: 2), 5, 8).Rows);
    }

    [Fact]
    public void F64_shards_yield_the_whole_file()
    {
        for (int seed = 10; seed < 13; seed++)
        {
            var rng = new Random(seed);
            int d = rng.Next(1, 6);
            var values = Enumerable.Range(0, d * rng.Next(50, 400)).Select(_ => rng.Next(20) == 0 ? double.NaN : rng.NextDouble()).ToArray();
            var bytes = Read.F64Bytes(values);
            if (seed != 10) bytes = [.. bytes, .. new byte[rng.Next(1, 8 * d)]]; // a truncated last row
            var path = _dir.Write($"data{seed}.f64", bytes);
            AssertShardsEqualWhole(path, Read.F64(d, BadRowPolicy.Skip) with { BlockRows = 13 }, seed, 150);
        }
    }

    [Fact]
    public void Json_lines_shards_yield_the_whole_file()
    {
        var rng = new Random(21);
        var text = new StringBuilder();
        for (int i = 0; i < 300; i++)
        {
            switch (rng.Next(10))
            {
                case 0: text.Append("[1,\"x\"]\n"); break;
                case 1: text.Append("\n"); break;
                case 2:
                    text.Append('[');
                    int k = rng.Next(1, 4);
                    for (int r = 0; r < k; r++) text.Append(r > 0 ? "," : "").Append(Row(rng));
                    text.Append("]\r\n");
                    break;
                default: text.Append(Row(rng)).Append('\n'); break;
            }
        }
        var path = _dir.Write("data.jsonl", text.ToString());
        AssertShardsEqualWhole(path, Read.Json(policy: BadRowPolicy.Skip) with { BlockRows = 5 }, 21, 150);

        static string Row(Random rng) =>
            "[" + string.Join(", ", Enumerable.Range(0, 2).Select(_ => rng.NextDouble().ToString("R", CultureInfo.InvariantCulture))) + "]";
    }
}
