using System.Globalization;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>Test 4: a constant column fails clearly (exit 4) unless the user asks for regularisation.</summary>
public sealed class DegenerateDataTests(ITestOutputHelper output) : IDisposable
{
    private const int Seed = 4401, D = 4, N = 5000;
    private const double Constant = 2.5;
    private readonly TestScope _scope = new(output, "degenerate");

    public void Dispose() => _scope.Dispose();

    /// <summary>Column 3 (1-based) of every row set to 2.5.</summary>
    private string WriteConstantColumnCsv()
    {
        var sample = MvnSample.Random(Seed, D, N);
        for (int r = 0; r < N; r++) sample.Rows[r * D + 2] = Constant;
        return sample.WriteCsv(_scope.PathOf("constant.csv"));
    }

    private static string Ctx => $"column 3 constant = 2.5, random-covariance sample seed {Seed}, d = {D}, n = {N}";

    [Fact]
    public async Task A_constant_column_fails_with_exit_4_naming_the_column_and_suggesting_ridge()
    {
        var csv = WriteConstantColumnCsv();
        var run = (await _scope.RunAsync("fit", csv, "--out", _scope.PathOf("model.json"))).ExpectExit(4);
        Check.Contains("column 3 is constant", run.Stderr, $"stderr ({Ctx})");
        Check.Contains("--ridge", run.Stderr, $"stderr suggests the remedy ({Ctx})");
        Assert.False(File.Exists(_scope.PathOf("model.json")), "no model may be written for degenerate data");
    }

    [Fact]
    public async Task With_ridge_the_constant_column_fits_without_NaN()
    {
        var csv = WriteConstantColumnCsv();
        var modelPath = _scope.PathOf("model.json");
        (await _scope.RunAsync("fit", csv, "--ridge", "1e-6", "--out", modelPath)).ExpectExit(0);
        var m = ModelFile.Load(modelPath);
        Check.Finite(m, Ctx);
        Assert.Equal(N, m.N);
        // The ridge fits S + eps I: the constant column's variance is 0 + 1e-6 and its mean is the constant.
        // The solver's relative accuracy on a variance 6 orders below the others is ~1e-6 or better; 1% is ample.
        double s33 = m.Covariance[2 * D + 2];
        Assert.True(Math.Abs(s33 - 1e-6) <= 1e-8, Inv($"S[2,2] = {s33:E6}, expected 1e-6 (the ridge) ({Ctx})"));
        Assert.True(Math.Abs(m.Mu[2] - Constant) <= 1e-9, Inv($"mu[2] = {m.Mu[2]:R}, expected the constant 2.5 ({Ctx})"));
        Linalg.Cholesky(m.Covariance, D); // positive definite, or throws
    }

    /// <summary>
    /// With a regularisation two J/n exist: the objective minimised (data + regularisation term, what the
    /// progress lines show) and the data's NLL under the model (nllPerRow). The summary must label both.
    /// </summary>
    [Fact]
    public async Task With_ridge_the_summary_labels_the_data_NLL_and_the_regularised_objective()
    {
        var csv = WriteConstantColumnCsv();
        var modelPath = _scope.PathOf("model.json");
        var run = (await _scope.RunAsync("fit", csv, "--ridge", "1e-6", "--out", modelPath)).ExpectExit(0);
        var m = ModelFile.Load(modelPath);
        var lastIter = run.StderrLines.Last(l => l.StartsWith("iter ", StringComparison.Ordinal));
        double progressJ = double.Parse(lastIter.Split("J/n", StringSplitOptions.None)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        var summary = run.StdoutLines.Single(l => l.StartsWith("J/n = ", StringComparison.Ordinal));
        Check.Contains(Inv($"J/n = {m.NllPerRow!.Value:F12} (data)"), summary, $"summary states the data NLL of the model file ({Ctx})");
        Check.Contains(Inv($"regularised J/n = {progressJ:F12}"), summary, $"summary states the objective the progress lines showed ({Ctx})");
        // The ridge term 1/2 eps tr(S^-1) is about 1/2 per constant column here: the two must differ.
        Assert.True(Math.Abs(progressJ - m.NllPerRow.Value) > 0.1, Inv($"objective {progressJ} vs data NLL {m.NllPerRow} ({Ctx})"));
    }

    [Fact]
    public async Task With_shrinkage_auto_the_constant_column_fits_without_NaN()
    {
        var csv = WriteConstantColumnCsv();
        var modelPath = _scope.PathOf("model.json");
        (await _scope.RunAsync("fit", csv, "--shrinkage", "auto", "--out", modelPath)).ExpectExit(0);
        var m = ModelFile.Load(modelPath);
        Check.Finite(m, Ctx);
        Assert.Equal(N, m.N);
        Assert.True(m.Covariance[2 * D + 2] > 0, Inv($"S[2,2] = {m.Covariance[2 * D + 2]:R}: shrinkage towards (tr S / d) I must make it positive ({Ctx})"));
        Linalg.Cholesky(m.Covariance, D);
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
