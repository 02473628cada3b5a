using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>Test 6: <c>fit --workers 3</c> (an embedded Akka cluster over loopback TCP in one process) equals the plain fit.</summary>
[Collection(ClusterCollection.Name)]
public sealed class EmbeddedClusterTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "embedded-cluster");

    public void Dispose() => _scope.Dispose();

    [Fact]
    public async Task Workers_3_with_statistics_or_gradient_summing_equals_the_single_process_fit()
    {
        const int seed = 4601, d = 5, n = 30_000;
        var sample = MvnSample.Random(seed, d, n);
        var csv = sample.WriteCsv(_scope.PathOf("data.csv"));
        // L-BFGS stops at |grad J/n| <= tolerance; the parameters are then within ~tolerance x cond of the optimum.
        // With the default 1e-10 two runs that sum in different orders may stop at points ~1e-10 apart, the size of
        // the comparison itself; at 1e-12 the stopping points are ~1e-12 apart and 1e-10 is a real check.
        string[] common = ["--tolerance", "1e-12", "--json"];
        var singleRun = (await _scope.RunAsync(["fit", csv, "--out", _scope.PathOf("single.json"), .. common])).ExpectExit(0);
        JsonSummary.Parse(singleRun, "single process");
        var single = ModelFile.Load(_scope.PathOf("single.json"));

        foreach (var summing in new[] { "statistics", "gradients" })
        {
            string ctx = $"--workers 3 --summing {summing} vs single process, {sample.Describe}";
            var outPath = _scope.PathOf($"cluster-{summing}.json");
            var run = (await _scope.RunAsync(["fit", csv, "--workers", "3", "--summing", summing, "--out", outPath, .. common],
                TimeSpan.FromSeconds(120))).ExpectExit(0);
            var summary = JsonSummary.Parse(run, ctx);
            Assert.True(summary["workers"]?.GetValue<int>() == 3, $"expected 3 workers in the summary ({ctx}):\n{run.Stdout}");
            Assert.True(summary["summing"]?.GetValue<string>() == summing, $"summing mode in the summary ({ctx}):\n{run.Stdout}");
            if (summing == "gradients")
                Assert.True(summary["rounds"]?.GetValue<long>() > 0, $"gradient summing must run rounds ({ctx}):\n{run.Stdout}");

            var m = ModelFile.Load(outPath);
            Assert.True(m.N == n, $"n = {m.N}, expected {n} ({ctx})");
            Check.Relative(m.Mu, single.Mu, 1e-10, "mu", ctx);
            Check.Relative(m.Covariance, single.Covariance, 1e-10, "covariance", ctx);
        }
    }
}
