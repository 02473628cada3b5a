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

    /// <summary>
    /// A file with no valid data row is bad input (exit 3) with the same message on every path. With d known (--dim) the
    /// cluster read every shard, counted nothing and called it degenerate data (exit 4, "no rows were counted"), and
    /// without --dim under skip it put "worker HOST:PORT: cannot read ..." before the message.
    /// </summary>
    [Theory]
    [InlineData("empty", "", "--dim 3")]
    [InlineData("header-only", "x1,x2,x3\n", "--dim 3")]
    [InlineData("all-rejected-dim", "x1,x2,x3\n1,x,3\n4,5,y\n", "--dim 3 --on-bad-row skip")]
    [InlineData("all-rejected", "x1,x2,x3\n1,x,3\n4,5,y\n", "--on-bad-row skip")]
    public async Task A_file_without_valid_rows_is_bad_input_with_the_local_message(string name, string content, string options)
    {
        var csv = _scope.PathOf(name + ".csv");
        await File.WriteAllTextAsync(csv, content);
        string[] args = ["fit", csv, .. options.Split(' '), "--out", _scope.PathOf(name + ".json")];
        static string ErrorLine(CliResult r) => r.StderrLines.LastOrDefault(l => l.StartsWith("mvnstream fit: ", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"no 'mvnstream fit:' error line:\n{r.Description}");
        var local = (await _scope.RunAsync(args)).ExpectExit(3);
        var cluster = (await _scope.RunAsync([.. args, "--workers", "1"], TimeSpan.FromSeconds(120))).ExpectExit(3);
        Check.Contains("has no valid data rows", ErrorLine(local), $"local error ({name})");
        Assert.Equal(ErrorLine(local), ErrorLine(cluster));
        // The error line is the last word: the coordinator's own "job ... failed" warning used to repeat it below.
        Assert.True(cluster.StderrLines[^1] == ErrorLine(cluster) && !cluster.Stderr.Contains("[WARNING]", StringComparison.Ordinal),
            $"the cluster run's stderr should end with its error line, without Akka log lines:\n{cluster.Stderr}");
        Assert.False(File.Exists(_scope.PathOf(name + ".json")), $"no model may be written ({name})");
    }

    /// <summary>
    /// A cluster fit's progress ends with its final round, once: rate-limited round lines were dropped, so a short fit showed
    /// only round 1 or 3 of 30. Statistics summing reports the solver's iterations ("iter N"); gradient summing reports the
    /// cluster round reached at the last iteration (each iteration is at least one round).
    /// </summary>
    [Theory]
    [InlineData("statistics")]
    [InlineData("gradients")]
    public async Task Progress_ends_with_the_final_round_exactly_once(string summing)
    {
        var csv = MvnSample.Random(4602, 5, 20_000).WriteCsv(_scope.PathOf("data.csv"));
        // Adam with its step capped at 1e-3 sd: hundreds of iterations (uncapped, every solver converges in one or two
        // whitened steps).
        var run = (await _scope.RunAsync(["fit", csv, "--workers", "2", "--summing", summing, "--solver", "adam", "--learning-rate", "1e-3", "--json", "--out", _scope.PathOf("model.json")],
            TimeSpan.FromSeconds(120))).ExpectExit(0);
        var summary = JsonSummary.Parse(run, summing);
        int iterations = summary["iterations"]!.GetValue<int>();
        long rounds = summary["rounds"]!.GetValue<long>();
        // Statistics summing runs no cluster rounds: its lines are the coordinator's iterations ("iter N"), as in a local fit.
        string label = summing == "statistics" ? "iter " : "round ";
        var shown = run.StderrLines.Where(l => l.StartsWith(label, StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        string ctx = $"{summing}: {iterations} iterations, {rounds} rounds; round lines [{string.Join(", ", shown)}]\n{run.Description}";
        Assert.True(iterations > 5, $"the fit is too short to test the rate limit ({ctx})");
        Assert.True(shown.Count > 0, $"no round line ({ctx})");
        if (summing == "statistics") Assert.True(shown[^1] == iterations, $"the last round line is not the final iteration ({ctx})");
        else Assert.True(shown[^1] >= iterations && shown[^1] <= rounds, $"the last round line is not the final round ({ctx})");
        Assert.True(shown.Distinct().Count() == shown.Count, $"a round is printed twice ({ctx})");
        // Scientific figures as d.ddde-NN (not .NET's d.dddE-0NN).
        Assert.Matches(@"J-J\* +-?\d\.\d{3}e[+-]\d{2,3}/row  \|grad\| +\d\.\d{3}e[+-]\d{2,3}  ", run.StderrLines.Last(l => l.StartsWith(label, StringComparison.Ordinal)));
    }

    /// <summary>--verbose shows the Akka log that an embedded fit keeps out of sight by default.</summary>
    [Fact]
    public async Task Verbose_shows_the_cluster_log_that_is_hidden_by_default()
    {
        var csv = MvnSample.Random(4603, 3, 2000).WriteCsv(_scope.PathOf("data.csv"));
        var quiet = (await _scope.RunAsync(["fit", csv, "--workers", "1", "--out", _scope.PathOf("quiet.json")], TimeSpan.FromSeconds(120))).ExpectExit(0);
        var verbose = (await _scope.RunAsync(["fit", csv, "--workers", "1", "--verbose", "--out", _scope.PathOf("verbose.json")], TimeSpan.FromSeconds(120))).ExpectExit(0);
        Assert.True(!quiet.Stderr.Contains("[INFO]", StringComparison.Ordinal) && !quiet.Stderr.Contains("[WARNING]", StringComparison.Ordinal),
            $"Akka log lines without --verbose:\n{quiet.Stderr}");
        Check.Contains("registered", verbose.Stderr, "stderr with --verbose (the worker's INFO line)");
        Check.Contains("[INFO]", verbose.Stderr, "stderr with --verbose");
    }
}
