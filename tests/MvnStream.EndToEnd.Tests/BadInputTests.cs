using System.Globalization;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>Test 3: bad rows stop the fit with exit 3 naming the row (or are counted and skipped); usage errors exit 2.</summary>
public sealed class BadInputTests(ITestOutputHelper output) : IDisposable
{
    private const int Seed = 4301, D = 4, N = 2000;
    private readonly TestScope _scope = new(output, "bad-input");

    public void Dispose() => _scope.Dispose();

    private static MvnSample Sample => MvnSample.Random(Seed, D, N);

    /// <summary>Line 17 of the file (the header is line 1) replaced by a bad row, and the reason the product gives.</summary>
    [Theory]
    [InlineData("wrong-count", "1.5,2.5,3.5", "expected 4 values, found 3")]
    [InlineData("too-many", "1,2,3,4,5", "expected 4 values, found 5")]
    [InlineData("non-numeric", "1.5,abc,3.5,4.5", "value 2 'abc' is not a number")]
    [InlineData("nan", "1.5,2.5,NaN,4.5", "value 3 is NaN")]
    [InlineData("empty", "", "empty row")]
    public async Task A_bad_csv_row_fails_with_exit_3_naming_file_line_and_reason(string kind, string badLine, string reason)
    {
        var lines = Sample.CsvLines(header: true);
        lines[16] = badLine; // line 17
        var csv = _scope.PathOf($"bad-{kind}.csv");
        MvnSample.WriteLines(csv, lines);

        var run = (await _scope.RunAsync("fit", csv, "--out", _scope.PathOf("model.json"))).ExpectExit(3);
        Check.Contains($"{csv}:17: {reason}", run.Stderr, $"stderr of a csv with a {kind} row at line 17 ({Sample.Describe})");
        Check.Contains("--on-bad-row skip", run.Stderr, "stderr (the remedy)");
        Assert.False(File.Exists(_scope.PathOf("model.json")), "no model may be written when the input is bad");
    }

    [Theory]
    [InlineData("non-numeric", "[1.5, \"abc\", 3.5, 4.5]", "is not a number")]
    [InlineData("wrong-count", "[1.5, 2.5, 3.5]", "expected 4 values, found 3")]
    [InlineData("empty", "", "empty row")]
    public async Task A_bad_json_row_fails_with_exit_3_naming_file_line_and_reason(string kind, string badLine, string reason)
    {
        var lines = Enumerable.Range(0, N).Select(i => "[" + Sample.CsvRow(i) + "]").ToList();
        lines[16] = badLine; // line 17 (no header in json)
        var json = _scope.PathOf($"bad-{kind}.json");
        MvnSample.WriteLines(json, lines);

        var run = (await _scope.RunAsync("fit", json, "--out", _scope.PathOf("model.json"))).ExpectExit(3);
        Check.Contains($"{json}:17:", run.Stderr, $"stderr of a json file with a {kind} row at line 17");
        Check.Contains(reason, run.Stderr, $"stderr of a json file with a {kind} row at line 17");
    }

    [Fact]
    public async Task A_truncated_f64_file_fails_with_exit_3_naming_the_partial_row()
    {
        var f64 = Sample.WriteF64(_scope.PathOf("data.f64"));
        using (var fs = new FileStream(f64, FileMode.Append)) fs.Write(new byte[12]); // 12 bytes of a 32-byte row
        var run = (await _scope.RunAsync("fit", f64, "--dim", "4", "--out", _scope.PathOf("model.json"))).ExpectExit(3);
        long byteOffset = N * D * 8L;
        Check.Contains(Inv($"{f64}: row {N + 1} (byte {byteOffset})"), run.Stderr, "stderr of a truncated f64 file");
        Check.Contains("truncated", run.Stderr, "stderr of a truncated f64 file");
    }

    [Fact]
    public async Task An_f64_row_with_NaN_fails_with_exit_3_naming_the_row()
    {
        var sample = Sample;
        sample.Rows[(17 - 1) * D + 2] = double.NaN; // row 17, value 3
        var f64 = sample.WriteF64(_scope.PathOf("nan.f64"));
        var run = (await _scope.RunAsync("fit", f64, "--dim", "4", "--out", _scope.PathOf("model.json"))).ExpectExit(3);
        Check.Contains(Inv($"{f64}: row 17 (byte {16 * D * 8})"), run.Stderr, "stderr of an f64 file with NaN in row 17");
        Check.Contains("NaN", run.Stderr, "stderr of an f64 file with NaN in row 17");
    }

    [Fact]
    public async Task Skip_counts_the_bad_rows_and_fits_the_good_ones()
    {
        var sample = Sample;
        var lines = sample.CsvLines(header: true);
        // File line L holds data row L - 2 (0-based).
        var bad = new Dictionary<int, string>
        {
            [17] = "1.5,2.5,3.5",
            [250] = "1.5,abc,3.5,4.5",
            [1200] = "1.5,2.5,NaN,4.5",
            [1801] = "",
            [1999] = "1,2,3,4,5",
        };
        foreach (var (line, text) in bad) lines[line - 1] = text;
        var csv = _scope.PathOf("bad.csv");
        MvnSample.WriteLines(csv, lines);

        // The closed form makes the check exact: the model must be the moments of precisely the good rows.
        var modelPath = _scope.PathOf("model.json");
        var run = (await _scope.RunAsync("fit", csv, "--on-bad-row", "skip", "--solver", "closed-form", "--out", modelPath)).ExpectExit(0);
        var m = ModelFile.Load(modelPath);
        string ctx = $"{bad.Count} bad rows at lines {string.Join(", ", bad.Keys)}, {sample.Describe}";
        Assert.True(m.RejectedRows == bad.Count, $"rejectedRows = {m.RejectedRows}, expected {bad.Count} ({ctx})");
        Assert.True(m.N == N - bad.Count, $"n = {m.N}, expected {N - bad.Count} good rows ({ctx})");
        foreach (var line in bad.Keys)
            Check.Contains($"{csv}:{line.ToString(CultureInfo.InvariantCulture)}:", run.Stderr, $"stderr lists every skipped row ({ctx})");

        var goodRows = Enumerable.Range(0, N).Where(r => !bad.ContainsKey(r + 2)).ToList();
        var mean = new double[D];
        foreach (var r in goodRows)
            for (int i = 0; i < D; i++) mean[i] += sample.Rows[r * D + i];
        for (int i = 0; i < D; i++) mean[i] /= goodRows.Count;
        // Same doubles, another summation order: rounding only (~1e-15 relative).
        Check.Relative(m.Mu, mean, 1e-12, "mu vs the mean of the good rows", ctx);
    }

    /// <summary>Files with no data row at all: with d learned from the file (csv, json) or given (--dim, f64).</summary>
    [Theory]
    [InlineData("empty.csv", "", null, " has no valid data rows")]
    [InlineData("header-only.csv", "x1,x2,x3,x4\n", null, " has no valid data rows")]
    [InlineData("blank-lines.csv", "\n\n", null, ":1: empty row")]
    [InlineData("empty.json", "", null, " has no valid data rows")]
    [InlineData("empty-array.json", "[]", null, ":1: empty row")]
    [InlineData("empty-dim.csv", "", "4", " has no valid data rows")]
    [InlineData("header-only-dim.csv", "x1,x2,x3,x4\n", "4", " has no valid data rows")]
    [InlineData("empty.f64", "", "4", " has no valid data rows")]
    public async Task A_file_without_data_rows_fails_with_exit_3_saying_so(string name, string text, string? dim, string expected)
    {
        var path = _scope.PathOf(name);
        File.WriteAllText(path, text);
        var modelPath = _scope.PathOf("model.json");
        string[] args = dim is null ? ["fit", path, "--out", modelPath] : ["fit", path, "--dim", dim, "--out", modelPath];
        var run = (await _scope.RunAsync(args)).ExpectExit(3);
        Check.Contains(path + expected, run.Stderr, $"stderr of fit on {name} ({text.Length} bytes)");
        Assert.DoesNotContain("Unhandled exception", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.False(File.Exists(modelPath), "no model may be written for a file without rows");
    }

    [Theory]
    [InlineData("0,1,2,", 1, "value 4 '' is not a number")]
    [InlineData("\"0\",\"1\",\"2\"", 2, "value 1 '\"0\"' is not a number")] // the first line reads as a header
    public async Task A_file_whose_every_row_is_bad_fails_on_its_first_bad_row(string row, int firstBadLine, string reason)
    {
        var csv = _scope.PathOf("all-bad.csv");
        File.WriteAllText(csv, string.Concat(Enumerable.Repeat(row + "\n", 5)));
        var run = (await _scope.RunAsync("fit", csv, "--out", _scope.PathOf("model.json"))).ExpectExit(3);
        Check.Contains($"{csv}:{firstBadLine}: {reason}", run.Stderr, "stderr names the first bad row and why");
        Assert.DoesNotContain("empty", run.Stderr);

        int rejected = 6 - firstBadLine;
        run = (await _scope.RunAsync("fit", csv, "--on-bad-row", "skip", "--out", _scope.PathOf("model.json"))).ExpectExit(3);
        Check.Contains($"{csv} has no valid data rows: all {rejected} rows were rejected (the first: {csv}:{firstBadLine}: {reason})", run.Stderr, "stderr under skip");
    }

    [Fact]
    public async Task A_file_whose_every_row_is_skipped_fails_with_exit_3_and_lists_them()
    {
        var csv = _scope.PathOf("all-bad.csv");
        File.WriteAllText(csv, "1,2,3,4\n1,abc,3,4\n");
        // --dim 5 makes every row wrong.
        var run = (await _scope.RunAsync("fit", csv, "--dim", "5", "--on-bad-row", "skip", "--out", _scope.PathOf("model.json"))).ExpectExit(3);
        Check.Contains($"{csv} has no valid data rows", run.Stderr, "stderr of fit on a file of only bad rows");
        Check.Contains($"{csv}:1: expected 5 values, found 4", run.Stderr, "stderr lists the skipped rows");
        Check.Contains($"{csv}:2: ", run.Stderr, "stderr lists the skipped rows");
        Check.Contains("all 2 rows were rejected", run.Stderr, "stderr counts the skipped rows");
    }

    [Fact]
    public async Task A_missing_file_is_a_usage_error()
    {
        var missing = _scope.PathOf("no-such-file.csv");
        var run = (await _scope.RunAsync("fit", missing, "--out", _scope.PathOf("model.json"))).ExpectExit(2);
        Check.Contains(missing, run.Stderr, "stderr names the missing file");
        Check.Contains("does not exist", run.Stderr, "stderr says why");
    }

    [Fact]
    public async Task An_unknown_solver_is_a_usage_error()
    {
        var csv = Sample.WriteCsv(_scope.PathOf("data.csv"));
        var run = (await _scope.RunAsync("fit", csv, "--solver", "newton", "--out", _scope.PathOf("model.json"))).ExpectExit(2);
        Check.Contains("--solver", run.Stderr, "stderr names the option");
        Check.Contains("newton", run.Stderr, "stderr names the bad value");
        Assert.False(File.Exists(_scope.PathOf("model.json")), "no model may be written on a usage error");
    }

    [Theory]
    [InlineData("--learning-rate", "-1")]
    [InlineData("--learning-rate", "0")]
    [InlineData("--learning-rate", "NaN")]
    [InlineData("--rel-tolerance", "-1")]
    [InlineData("--rel-tolerance", "NaN")]
    [InlineData("--tolerance", "NaN")]
    [InlineData("--max-iter", "-1")]
    public async Task An_invalid_numeric_option_is_a_usage_error(string option, string value)
    {
        var csv = Sample.WriteCsv(_scope.PathOf("data.csv"));
        foreach (var workers in new[] { "0", "1" })
        {
            var run = (await _scope.RunAsync("fit", csv, "--solver", "adam", option, value, "--workers", workers, "--out", _scope.PathOf("model.json"))).ExpectExit(2);
            Check.Contains($"{option} '{value}'", run.Stderr, $"stderr names the option and value as written (--workers {workers})");
            Assert.DoesNotContain("Unhandled exception", run.Stderr);
            Assert.False(File.Exists(_scope.PathOf("model.json")), "no model may be written on a usage error");
        }
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
