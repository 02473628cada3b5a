using System.Buffers.Binary;
using System.Globalization;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary><c>mvnstream generate</c>: synthetic files that <c>fit</c> reads, checked against the truth it writes.</summary>
public sealed class GenerateCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "generate");

    public void Dispose() => _scope.Dispose();

    [Fact]
    public async Task Csv_json_and_f64_files_of_one_seed_hold_the_same_doubles()
    {
        const int d = 3, n = 5000;
        var csv = _scope.PathOf("rows.csv");
        var json = _scope.PathOf("rows.jsonl");
        var f64 = _scope.PathOf("rows.f64");
        (await _scope.RunAsync("generate", "--dim", "3", "--rows", "5000", "--seed", "7", "--out", csv, "--header")).ExpectExit(0);
        (await _scope.RunAsync("generate", "--dim", "3", "--rows", "5000", "--seed", "7", "--out", json)).ExpectExit(0);
        (await _scope.RunAsync("generate", "--dim", "3", "--rows", "5000", "--seed", "7", "--out", f64)).ExpectExit(0);

        // The f64 file is the reference: raw little-endian doubles, read here without the product's readers.
        var bytes = File.ReadAllBytes(f64);
        Assert.Equal(8L * d * n, bytes.Length);
        var expected = new double[d * n];
        for (int i = 0; i < expected.Length; i++) expected[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(8 * i));

        var csvLines = File.ReadAllLines(csv);
        Assert.Equal("x1,x2,x3", csvLines[0]);
        Assert.Equal(n + 1, csvLines.Length);
        var jsonLines = File.ReadAllLines(json);
        Assert.Equal(n, jsonLines.Length);
        for (int r = 0; r < n; r++)
        {
            var c = csvLines[r + 1].Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            var j = System.Text.Json.JsonSerializer.Deserialize<double[]>(jsonLines[r])!;
            for (int k = 0; k < d; k++)
            {
                // Shortest round-trip text: the same double, bit for bit.
                Assert.True(c[k].Equals(expected[r * d + k]), $"csv row {r + 1} value {k + 1}: {c[k]:R} != f64 {expected[r * d + k]:R}");
                Assert.True(j[k].Equals(expected[r * d + k]), $"json row {r + 1} value {k + 1}: {j[k]:R} != f64 {expected[r * d + k]:R}");
            }
        }
    }

    [Fact]
    public async Task Fit_of_a_generated_file_recovers_the_truth_it_wrote_within_sampling_error()
    {
        const int d = 4, n = 200_000;
        var data = _scope.PathOf("rows.f64");
        var truthPath = _scope.PathOf("truth.json");
        var model = _scope.PathOf("model.json");
        (await _scope.RunAsync("generate", "--dim", "4", "--rows", "200000", "--seed", "11", "--out", data, "--truth-out", truthPath)).ExpectExit(0);
        (await _scope.RunAsync("fit", data, "--dim", "4", "--out", model)).ExpectExit(0);
        var truth = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(truthPath))!.AsObject();
        var truthMu = truth["mu"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
        var m = ModelFile.Load(model);
        Assert.Equal(n, m.N);

        // sd(xbar_i) = sqrt(S*_ii / n), sd(S_ij) = sqrt((S*_ii S*_jj + S*_ij^2) / n) for Gaussian rows; 5 sd per entry.
        var s = truth["covariance"]!.AsArray().SelectMany(r => r!.AsArray().Select(v => v!.GetValue<double>())).ToArray();
        for (int i = 0; i < d; i++)
        {
            double tol = 5 * Math.Sqrt(s[i * d + i] / n);
            Assert.True(Math.Abs(m.Mu[i] - truthMu[i]) < tol, $"mu[{i}] = {m.Mu[i]:R}, mu* = {truthMu[i]:R}, 5 sd = {tol:E3}");
            for (int j = 0; j < d; j++)
            {
                double tolS = 5 * Math.Sqrt((s[i * d + i] * s[j * d + j] + s[i * d + j] * s[i * d + j]) / n);
                Assert.True(Math.Abs(m.Covariance[i * d + j] - s[i * d + j]) < tolS,
                    $"S[{i},{j}] = {m.Covariance[i * d + j]:R}, S* = {s[i * d + j]:R}, 5 sd = {tolS:E3}");
            }
        }
    }

    /// <summary>
    /// The truth file cannot be mistaken for a fitted model: it says it is the truth ("kind": "truth"), has none of a model
    /// file's n, lambda, parameterization or solver, and 'score --model' refuses it saying what it is (it used to be a
    /// model file with solver "synthetic-truth", which score accepted).
    /// </summary>
    [Fact]
    public async Task The_truth_file_is_not_a_model_and_score_refuses_it()
    {
        var data = _scope.PathOf("rows.csv");
        var truthPath = _scope.PathOf("truth.json");
        (await _scope.RunAsync("generate", "--dim", "3", "--rows", "100", "--seed", "5", "--out", data, "--truth-out", truthPath)).ExpectExit(0);
        var truth = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(truthPath))!.AsObject();
        Assert.Equal("truth", truth["kind"]?.GetValue<string>());
        Assert.Equal(5, truth["seed"]!.GetValue<long>());
        Assert.Equal(3, truth["mu"]!.AsArray().Count);
        Assert.Equal(3, truth["covariance"]!.AsArray().Count);
        foreach (var key in new[] { "n", "lambda", "parameterization", "solver", "gap", "nllPerRow" })
            Assert.False(truth.ContainsKey(key), $"the truth file has the model key '{key}':\n{truth}");

        var score = await _scope.RunAsync("score", "--model", truthPath, data);
        score.ExpectExit(3);
        Assert.Contains("is a truth file", score.Stderr, StringComparison.Ordinal);
        Assert.Contains("not a fitted model", score.Stderr, StringComparison.Ordinal);
        Assert.Equal("", score.Stdout);
    }

    [Theory]
    [InlineData("--dim 0 --rows 5 --out x.csv", "--dim 0")]
    [InlineData("--dim 3 --rows -1 --out x.csv", "--rows -1")]
    [InlineData("--dim 3 --rows 5 --out x.xyz", "extension '.xyz'")]
    [InlineData("--dim 3 --rows 5 --out x.f64 --header", "--header is for csv")]
    [InlineData("--dim 3 --rows 5 --out missing-dir/x.csv", "does not exist")]
    public async Task Bad_arguments_exit_2_with_the_reason_and_write_nothing(string args, string reason)
    {
        var r = await _scope.RunAsync(["generate", .. args.Split(' ')]);
        r.ExpectExit(2);
        Assert.Contains(reason, r.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_scope.Directory));
    }
}
