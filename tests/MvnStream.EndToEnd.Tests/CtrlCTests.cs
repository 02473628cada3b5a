using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>Ctrl-C during a local fit's solve stops it cleanly: the best model so far is written, exit 130.</summary>
public sealed class CtrlCTests(ITestOutputHelper output) : IDisposable
{
    private const int Seed = 6011, D = 60, N = 5000;
    private readonly TestScope _scope = new(output, "ctrl-c");

    public void Dispose() => _scope.Dispose();

    /// <summary>
    /// Rows of N(0, L L^T) with L a random lower-triangular factor whose off-diagonal entries are not scaled
    /// by 1/sqrt(d): a badly conditioned covariance, on which plain gradient descent needs far more iterations
    /// than the test waits, so the fit is certainly still solving when the signal arrives.
    /// </summary>
    private string WriteIllConditionedCsv()
    {
        var r = new Random(Seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
        var l = new double[D, D];
        for (int i = 0; i < D; i++)
        {
            for (int j = 0; j < i; j++) l[i, j] = 0.5 * Normal();
            l[i, i] = 0.5 + r.NextDouble();
        }
        var text = new StringBuilder();
        var z = new double[D];
        for (int a = 0; a < N; a++)
        {
            for (int j = 0; j < D; j++) z[j] = Normal();
            for (int i = 0; i < D; i++)
            {
                double x = 0;
                for (int k = 0; k <= i; k++) x += l[i, k] * z[k];
                text.Append(x.ToString("R", CultureInfo.InvariantCulture)).Append(i + 1 < D ? ',' : '\n');
            }
        }
        var path = _scope.PathOf("ill.csv");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    [Fact]
    public async Task Ctrl_C_while_solving_writes_the_best_model_so_far_and_exits_130()
    {
        var csv = WriteIllConditionedCsv();
        var modelPath = _scope.PathOf("model.json");
        // Adam with steps of at most 1e-6 (in whitened units) and a tolerance it cannot reach runs until stopped: it keeps
        // making progress, so no stall rule ends it (gd and L-BFGS reach the closed form in one or two whitened steps).
        var fit = _scope.Start("fit", "fit", csv, "--solver", "adam", "--learning-rate", "1e-6", "--tolerance", "0", "--max-iter", "100000000", "--out", modelPath);
        await fit.WaitForLineAsync(OutputStream.Stderr, l => l.StartsWith("iter ", StringComparison.Ordinal) && IterationOf(l) >= 100,
            TimeSpan.FromSeconds(90), "a progress line with iteration >= 100");
        using (var kill = Process.Start("/bin/kill", ["-INT", fit.Id.ToString(CultureInfo.InvariantCulture)])!)
            await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        int exit = await fit.WaitForExitAsync(TimeSpan.FromSeconds(60));
        string ctx = $"seed {Seed}, d = {D}, n = {N}";
        Assert.True(exit == 130, $"exit {exit}, expected 130 after Ctrl-C ({ctx})\n{fit.Describe()}");
        Check.Contains("stopped by Ctrl-C", fit.Stderr, $"stderr ({ctx})");
        Assert.True(File.Exists(modelPath), $"no model written after Ctrl-C ({ctx})\n{fit.Describe()}");
        using var model = JsonDocument.Parse(File.ReadAllText(modelPath));
        int iterations = model.RootElement.GetProperty("iterations").GetInt32();
        double gap = model.RootElement.GetProperty("gap").GetDouble();
        Assert.True(iterations >= 100, $"model says {iterations} iterations, the progress lines showed >= 100 ({ctx})");
        // J - J* of a nearly converged fit is rounding-level and may have either sign (J* comes from a factor of M/n).
        Assert.True(double.IsFinite(gap), $"gap {gap} ({ctx})");
        Assert.Equal(N, model.RootElement.GetProperty("n").GetInt64());
        // Ctrl-C keeps exit 130, and the model it leaves says it is not converged, and why.
        Assert.False(model.RootElement.GetProperty("converged").GetBoolean(), $"an interrupted fit's model says converged ({ctx})");
        Assert.Equal("cancelled", model.RootElement.GetProperty("stopReason").GetString());
    }

    private static int IterationOf(string line)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length > 1 && int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int i) ? i : -1;
    }
}
