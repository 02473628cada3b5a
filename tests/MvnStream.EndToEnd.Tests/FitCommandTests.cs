using System.Globalization;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>Test 1: <c>mvnstream fit</c> on generated files with known mu*, S*.</summary>
public sealed class FitCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "fit");

    public void Dispose() => _scope.Dispose();

    private static readonly string[] DocumentedKeys =
        ["dimension", "n", "mu", "lambda", "covariance", "parameterization", "solver", "iterations", "nllPerRow", "gap", "converged", "stopReason", "rejectedRows", "createdUtc"];

    [Fact]
    public async Task Fit_csv_writes_the_documented_model_and_recovers_mu_and_S_within_sampling_error()
    {
        const int seed = 4101, d = 4, n = 200_000;
        var sample = MvnSample.Random(seed, d, n);
        string ctx = sample.Describe;
        var csv = sample.WriteCsv(_scope.PathOf("data.csv"), header: true);
        var modelPath = _scope.PathOf("model.json");

        (await _scope.RunAsync("fit", csv, "--out", modelPath)).ExpectExit(0);
        var m = ModelFile.Load(modelPath);

        Assert.True(DocumentedKeys.Order().SequenceEqual(m.Keys.Order()),
            $"model keys [{string.Join(", ", m.Keys)}] are not exactly the documented [{string.Join(", ", DocumentedKeys)}]");
        Assert.Equal(d, m.Dimension);
        Assert.Equal(n, m.N);
        Assert.Equal(0, m.RejectedRows);
        Assert.Equal("tril", m.Parameterization);
        Assert.True(DateTime.TryParse(m.Json["createdUtc"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _),
            $"createdUtc is not a timestamp: {m.Json["createdUtc"]}");
        Check.Finite(m, ctx);

        // Sampling error: the fitted mu and S estimate mu*, S* from n rows. sd(xbar_i) = sqrt(S*_ii / n) and
        // sd(S_ij) = sqrt((S*_ii S*_jj + S*_ij^2) / n) for Gaussian data; 5 standard deviations (a two-sided 5.7e-7
        // chance per entry, 14 entries, and the seed is fixed) only fails for a real error. The 1e-6 rounding of the
        // written values and the 1/n bias of the MLE are 3 orders of magnitude below these bounds.
        for (int i = 0; i < d; i++)
        {
            double tol = 5 * Math.Sqrt(sample.Sigma[i * d + i] / n);
            double err = Math.Abs(m.Mu[i] - sample.Mu[i]);
            Assert.True(err < tol, Inv($"mu[{i}] = {m.Mu[i]:R}, mu* = {sample.Mu[i]:R}: |diff| {err:E3} >= 5 sd = {tol:E3} ({ctx})"));
        }
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double sij = sample.Sigma[i * d + j];
                double tol = 5 * Math.Sqrt((sample.Sigma[i * d + i] * sample.Sigma[j * d + j] + sij * sij) / n);
                double err = Math.Abs(m.Covariance[i * d + j] - sij);
                Assert.True(err < tol, Inv($"S[{i},{j}] = {m.Covariance[i * d + j]:R}, S* = {sij:R}: |diff| {err:E3} >= 5 sd = {tol:E3} ({ctx})"));
            }

        // The default solver (L-BFGS, gradient tolerance 1e-10) ends at J - J* ~ |grad|^2, far below 1e-10 per row.
        Assert.True(Math.Abs(m.Gap!.Value) < 1e-10, Inv($"gap {m.Gap:E3} per row: expected |gap| < 1e-10 ({ctx})"));

        // covariance is written as lambda lambda^T. Recomputing the product here may sum in another order:
        // a few ulps, so 1e-14 of the largest entry.
        var llt = Linalg.MulTransposed(m.Lambda, m.Lambda, d);
        double scale = m.Covariance.Max(Math.Abs);
        for (int k = 0; k < d * d; k++)
            Assert.True(Math.Abs(llt[k] - m.Covariance[k]) <= 1e-14 * scale,
                Inv($"covariance[{k / d},{k % d}] = {m.Covariance[k]:R} but (lambda lambda^T) = {llt[k]:R} ({ctx})"));
        // tril: lambda is lower-triangular.
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++)
                Assert.True(m.Lambda[i * d + j] == 0, Inv($"lambda[{i},{j}] = {m.Lambda[i * d + j]:R}: a tril model must be lower-triangular"));
    }

    [Fact]
    public async Task Csv_f64_and_json_files_with_the_same_rows_give_the_same_model()
    {
        const int seed = 4102, d = 4, n = 50_000;
        var sample = MvnSample.Random(seed, d, n);
        string ctx = sample.Describe;
        var csv = sample.WriteCsv(_scope.PathOf("data.csv"));
        var f64 = sample.WriteF64(_scope.PathOf("data.f64"));
        var json = sample.WriteJsonLines(_scope.PathOf("data.json"));

        // The closed form (mu = xbar, S = M/n) isolates the readers from where an iterative solver stops: the three files
        // hold bit-identical doubles, so only the order of summation may differ (shards fall on different bytes), a
        // relative effect of ~1e-15; 1e-12 catches any misread value (one changed digit in 200,000 is ~1e-6).
        var csvRun = (await _scope.RunAsync("fit", csv, "--solver", "closed-form", "--out", _scope.PathOf("csv.json"))).ExpectExit(0);
        var f64Run = (await _scope.RunAsync("fit", f64, "--dim", "4", "--solver", "closed-form", "--out", _scope.PathOf("f64.json"))).ExpectExit(0);
        var jsonRun = (await _scope.RunAsync("fit", json, "--solver", "closed-form", "--out", _scope.PathOf("json.json"))).ExpectExit(0);
        var mc = ModelFile.Load(_scope.PathOf("csv.json"));
        var mf = ModelFile.Load(_scope.PathOf("f64.json"));
        var mj = ModelFile.Load(_scope.PathOf("json.json"));

        foreach (var (name, m) in new[] { ("f64", mf), ("json", mj) })
        {
            Assert.True(m.N == n, $"{name}: n = {m.N}, expected {n} ({ctx})");
            Check.Relative(m.Mu, mc.Mu, 1e-12, $"{name} mu vs csv mu", ctx);
            Check.Relative(m.Covariance, mc.Covariance, 1e-12, $"{name} S vs csv S", ctx);
        }
        Assert.Equal(n, mc.N);

        // And the closed form is the sample mean and biased covariance, computed here by two plain passes.
        var (mean, cov) = sample.SampleMoments();
        Check.Relative(mc.Mu, mean, 1e-12, "closed-form mu vs the sample mean", ctx);
        Check.Relative(mc.Covariance, cov, 1e-12, "closed-form S vs M/n", ctx);
        _ = (csvRun, f64Run, jsonRun);
    }

    [Fact]
    public async Task An_out_path_that_is_a_directory_is_a_usage_error_before_reading()
    {
        var csv = MvnSample.Random(4601, 3, 200).WriteCsv(_scope.PathOf("data.csv"));
        var outDir = Directory.CreateDirectory(_scope.PathOf("models")).FullName;
        var run = (await _scope.RunAsync("fit", csv, "--out", outDir)).ExpectExit(2);
        Check.Contains($"--out {outDir}", run.Stderr, "stderr names the option and path");
        Check.Contains("is a directory", run.Stderr, "stderr says why");
        Assert.DoesNotContain(run.StderrLines, l => l.StartsWith("read ", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFileSystemEntries(_scope.Directory, ".*.tmp"));
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Progress ends with the final iteration, printed once: with --max-iter 1 the line 'iter 1' came twice (the rate-limited
    /// first line and the forced final one were the same iteration).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(5000)]
    public async Task Progress_ends_with_the_final_iteration_exactly_once(int maxIter)
    {
        var csv = MvnSample.Random(4105, 5, 20_000).WriteCsv(_scope.PathOf("data.csv"));
        var run = (await _scope.RunAsync("fit", csv, "--solver", "adam", "--learning-rate", "0.01", "--max-iter", maxIter.ToString(CultureInfo.InvariantCulture), "--json", "--out", _scope.PathOf("model.json"))).ExpectExit(maxIter == 1 ? 6 : 0);
        int iterations = JsonSummary.Parse(run, $"--max-iter {maxIter}")["iterations"]!.GetValue<int>();
        var iters = run.StderrLines.Where(l => l.StartsWith("iter ", StringComparison.Ordinal))
            .Select(l => int.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture)).ToList();
        string shown = string.Join(", ", iters);
        Assert.True(iters.Count > 0 && iters[^1] == iterations, $"the last 'iter' line is not iteration {iterations}: [{shown}]\n{run.Description}");
        Assert.True(iters.Distinct().Count() == iters.Count, $"an iteration is printed twice: [{shown}]\n{run.Description}");
    }

    /// <summary>
    /// J - J* and |grad| print in the conventional scientific form (6.209e-15), as every other tool and parser writes it; .NET's
    /// "E3" wrote 6.209E-015. The JSON summary keeps its numbers.
    /// </summary>
    [Fact]
    public async Task Progress_and_summary_print_scientific_figures_the_conventional_way()
    {
        var csv = MvnSample.Random(4106, 4, 5000).WriteCsv(_scope.PathOf("data.csv"));
        var run = (await _scope.RunAsync("fit", csv, "--out", _scope.PathOf("model.json"))).ExpectExit(0);
        const string Sci = @"-?\d\.\d{3}e[+-]\d{2,3}";
        var iter = run.StderrLines.Last(l => l.StartsWith("iter ", StringComparison.Ordinal));
        Assert.Matches($@"J-J\* +{Sci}/row  \|grad\| +{Sci}  evals", iter);
        var summary = run.StdoutLines.Single(l => l.StartsWith("J/n = ", StringComparison.Ordinal));
        var m = System.Text.RegularExpressions.Regex.Match(summary, $@"J - J\* = ({Sci}) per row  \|grad\| = ({Sci})$");
        Assert.True(m.Success, $"summary line '{summary}' does not print J - J* and |grad| as d.ddde-NN");
        double gap = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        var model = ModelFile.Load(_scope.PathOf("model.json"));
        Assert.True(Math.Abs(gap - model.Gap!.Value) <= 5e-4 * Math.Abs(model.Gap.Value) + 1e-300,
            Inv($"summary gap {gap:R} is not the model's {model.Gap.Value:R} to 4 digits"));
    }
}
