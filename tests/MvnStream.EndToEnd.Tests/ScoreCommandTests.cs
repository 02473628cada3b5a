using System.Globalization;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>Test 5: <c>mvnstream score</c> prints row,log_density,mahalanobis2 for every row, checked against an independent computation.</summary>
public sealed class ScoreCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "score");

    public void Dispose() => _scope.Dispose();

    [Theory]
    [InlineData("tril")]
    [InlineData("full")]
    public async Task Score_prints_log_density_and_mahalanobis2_of_every_row(string param)
    {
        const int seed = 4501, d = 5, n = 20_000, scored = 3000;
        var sample = MvnSample.Random(seed, d, n);
        var train = sample.WriteCsv(_scope.PathOf("train.csv"));
        // Score rows from another draw of the same kind of data (a different seed), so the model is not fitted to them.
        var other = MvnSample.Random(seed + 1, d, scored);
        var data = other.WriteCsv(_scope.PathOf("data.csv"));
        var modelPath = _scope.PathOf("model.json");
        (await _scope.RunAsync("fit", train, "--param", param, "--out", modelPath)).ExpectExit(0);
        var m = ModelFile.Load(modelPath);
        string ctx = $"--param {param}, model from {sample.Describe}, scored rows from {other.Describe}";

        var run = (await _scope.RunAsync("score", "--model", modelPath, data)).ExpectExit(0);
        var lines = run.StdoutLines.Where(l => l.Length > 0).ToList();
        Assert.True(lines.Count == scored + 1, $"expected a header and {scored} lines on stdout, got {lines.Count} lines ({ctx})");
        Assert.Equal("row,log_density,mahalanobis2", lines[0]);

        // Independent: Cholesky L of the model's covariance (plain loops), m2 = |L^-1 (x - mu)|^2,
        // log density = -1/2 (d log 2 pi + log|S| + m2).
        var l = Linalg.Cholesky(m.Covariance, d);
        double logDet = 0;
        for (int i = 0; i < d; i++) logDet += 2 * Math.Log(l[i * d + i]);
        var diff = new double[d];
        double worst = 0;
        for (int r = 0; r < scored; r++)
        {
            var fields = lines[r + 1].Split(',');
            Assert.True(fields.Length == 3, $"line {r + 2} '{lines[r + 1]}' does not have 3 fields ({ctx})");
            Assert.True(fields[0] == (r + 1).ToString(CultureInfo.InvariantCulture), $"line {r + 2} '{lines[r + 1]}': row should be {r + 1} ({ctx})");
            double logDensity = double.Parse(fields[1], CultureInfo.InvariantCulture);
            double m2 = double.Parse(fields[2], CultureInfo.InvariantCulture);

            var x = other.Row(r);
            for (int i = 0; i < d; i++) diff[i] = x[i] - m.Mu[i];
            var z = Linalg.ForwardSolve(l, d, diff);
            double m2Own = z.Sum(v => v * v);
            double ldOwn = -0.5 * (d * Math.Log(2 * Math.PI) + logDet + m2Own);

            // The product scores with its lambda, the test with a fresh Cholesky of lambda lambda^T (rounded to
            // JSON doubles): equal up to rounding amplified by the condition number, ~1e-13. 1e-9 relative (of
            // max(1, |value|)) is far above that and far below any formula error (a wrong constant is O(1)).
            double e1 = Math.Abs(m2 - m2Own) / Math.Max(1, Math.Abs(m2Own));
            double e2 = Math.Abs(logDensity - ldOwn) / Math.Max(1, Math.Abs(ldOwn));
            worst = Math.Max(worst, Math.Max(e1, e2));
            Assert.True(e1 <= 1e-9, Inv($"row {r + 1}: mahalanobis2 {m2:R}, expected {m2Own:R} (rel {e1:E2} > 1e-9) ({ctx})"));
            Assert.True(e2 <= 1e-9, Inv($"row {r + 1}: log_density {logDensity:R}, expected {ldOwn:R} (rel {e2:E2} > 1e-9) ({ctx})"));
        }
        output.WriteLine(Inv($"worst relative difference {worst:E2}"));
    }

    /// <summary>
    /// With --on-bad-row skip, each line's row number is still the data row it scores (bad rows keep their
    /// numbers and get no line), so scores can be joined back to the input; checked on csv (header, bad lines
    /// in one block and at the ends), JSON Lines and f64 (NaN rows).
    /// </summary>
    [Theory]
    [InlineData("csv")]
    [InlineData("json")]
    [InlineData("f64")]
    public async Task Skipped_rows_keep_their_row_numbers_in_the_scores(string format)
    {
        const int seed = 4502, d = 3, n = 40;
        var sample = MvnSample.Random(seed, d, n);
        var train = sample.WriteCsv(_scope.PathOf("train.csv"));
        var modelPath = _scope.PathOf("model.json");
        (await _scope.RunAsync("fit", train, "--solver", "closed-form", "--out", modelPath)).ExpectExit(0);

        int[] badRows = [1, 5, 6, 23, 40]; // 1-based data rows
        string path;
        string[] extra = [];
        if (format == "f64")
        {
            var copy = MvnSample.Random(seed, d, n);
            foreach (var b in badRows) copy.Rows[(b - 1) * d + 1] = double.NaN;
            path = copy.WriteF64(_scope.PathOf("data.f64"));
            extra = ["--dim", "3"];
        }
        else
        {
            var lines = Enumerable.Range(0, n).Select(i => format == "csv" ? sample.CsvRow(i) : "[" + sample.CsvRow(i) + "]").ToList();
            foreach (var b in badRows) lines[b - 1] = format == "csv" ? "1,abc,2" : "[1, \"abc\", 2]";
            if (format == "csv") lines.Insert(0, "x1,x2,x3");
            path = _scope.PathOf("data." + format);
            MvnSample.WriteLines(path, lines);
        }
        string ctx = $"{format}, bad data rows {string.Join(",", badRows)} of {n}, {sample.Describe}";

        var clean = (await _scope.RunAsync("score", "--model", modelPath, train)).ExpectExit(0);
        var expected = clean.StdoutLines.Skip(1).Where(l => l.Length > 0).ToDictionary(l => l.Split(',')[0], l => l);
        var run = (await _scope.RunAsync(["score", "--model", modelPath, path, "--on-bad-row", "skip", .. extra])).ExpectExit(0);
        var got = run.StdoutLines.Skip(1).Where(l => l.Length > 0).ToList();
        var wantRows = Enumerable.Range(1, n).Where(r => !badRows.Contains(r)).Select(r => r.ToString(CultureInfo.InvariantCulture)).ToList();
        Assert.True(got.Select(l => l.Split(',')[0]).SequenceEqual(wantRows),
            $"row numbers {string.Join(",", got.Select(l => l.Split(',')[0]))}, expected {string.Join(",", wantRows)} ({ctx})");
        foreach (var line in got)
            Assert.True(line == expected[line.Split(',')[0]], $"'{line}' differs from the clean file's '{expected[line.Split(',')[0]]}' ({ctx})");
        Check.Contains($"{badRows.Length} bad rows skipped", run.Stderr, ctx);
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
