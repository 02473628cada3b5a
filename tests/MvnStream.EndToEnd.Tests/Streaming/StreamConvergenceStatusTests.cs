using System.Text.Json.Nodes;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary>
/// Issue 8, honest status in the stream: every published snapshot (model topic and --out file) carries "converged" and
/// "stopReason" of the solve that produced it; a stream whose final solve did not converge exits 6 and says so.
/// </summary>
[Collection(StreamLifecycleCollection.Name)]
public sealed class StreamConvergenceStatusTests(StreamingBrokerFixture broker, ITestOutputHelper output) : IClassFixture<StreamingBrokerFixture>, IDisposable
{
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(150);
    private readonly TestScope _scope = new(output, "stream-convergence-status");

    public void Dispose() => _scope.Dispose();

    [Fact]
    public async Task Snapshots_carry_converged_and_stopReason_and_a_final_solve_that_does_not_converge_exits_6()
    {
        var good = MvnSample.Random(8304, 4, 20_000).WriteCsv(_scope.PathOf("good.csv"), header: false);
        var ill = IllConditioned.Write(_scope.PathOf("ill.csv"));
        var goodTopic = StreamingBrokerFixture.NewTopic("conv-good");
        var illTopic = StreamingBrokerFixture.NewTopic("conv-ill");
        await Task.WhenAll(Kcat.ProduceFileAsync(broker.Bootstrap, goodTopic, good), Kcat.ProduceFileAsync(broker.Bootstrap, illTopic, ill));

        string[] Args(string topic, string outFile, params string[] more) =>
            ["stream", "-b", broker.Bootstrap, "-t", topic, "--until-idle", "3s", "--checkpoint", "none", "--json", "--out", _scope.PathOf(outFile), .. more];
        // Well-conditioned data, defaults: online snapshots, then a final solve that converges (exit 0).
        var converging = _scope.RunAsync(Args(goodTopic, "good.json", "--dim", "4"), StreamTimeout, "stream-good");
        // Ill-conditioned data, Adam with its step capped at 0.01 sd (tens of steps to its tolerance), one step per update and at most 3 final
        // iterations: the final solve stops at its limit.
        var limited = _scope.RunAsync(Args(illTopic, "ill.json", "--dim", "5", "--solver", "adam", "--learning-rate", "0.01", "--steps-per-update", "1", "--max-iter", "3"), StreamTimeout, "stream-ill");
        var goodRun = (await converging).ExpectExit(0);
        var illRun = (await limited).ExpectExit(6);

        // The --json summaries and the final model files.
        var goodSummary = StreamOutput.JsonSummary(goodRun);
        Assert.Equal((true, "gradientTolerance"), IllConditioned.StatusOf(goodSummary, "--json summary of the converging stream"));
        Assert.Equal((true, "gradientTolerance"), IllConditioned.StatusOf(ModelFile.Load(_scope.PathOf("good.json")).Json, "model file of the converging stream"));
        var illSummary = StreamOutput.JsonSummary(illRun);
        string illCtx = $"stream --max-iter 3, {IllConditioned.Describe}";
        Assert.Equal((false, "maxIterations"), IllConditioned.StatusOf(illSummary, $"--json summary ({illCtx})"));
        Assert.Equal((false, "maxIterations"), IllConditioned.StatusOf(ModelFile.Load(_scope.PathOf("ill.json")).Json, $"model file ({illCtx})"));
        Check.Contains("NOT converged", illRun.Stderr, $"stderr ({illCtx})");

        // Every snapshot on the model topics carries both fields; the last one of each is the final solve's.
        foreach (var (topic, final) in new[] { (goodTopic, (true, "gradientTolerance")), (illTopic, (false, "maxIterations")) })
        {
            var snapshots = (await Kcat.ConsumeAsync(broker.Bootstrap, topic + ".model", "%s\n"))
                .Where(l => l.Length > 0).Select(l => (JsonObject)JsonNode.Parse(l)!).ToList();
            Assert.True(snapshots.Count >= 2, $"{topic}.model holds {snapshots.Count} snapshots; expected online ones and the final one");
            var statuses = snapshots.Select((s, i) => IllConditioned.StatusOf(s, $"snapshot {i} of {topic}.model")).ToList();
            output.WriteLine($"{topic}: {string.Join(", ", statuses.Select(s => $"{s.StopReason}/{s.Converged}"))}");
            foreach (var (converged, reason) in statuses)
            {
                Assert.True(reason is "gradientTolerance" or "maxIterations" or "noProgress" or "relativeChange",
                    $"{topic}.model: stopReason '{reason}' is not a solver's stop reason");
                Assert.True(converged == (reason is "gradientTolerance" or "relativeChange"), $"{topic}.model: converged {converged} with stopReason {reason}");
            }
            Assert.Equal(final, statuses[^1]);
        }
    }

    /// <summary>
    /// Issue 8, the stream meets the fit targets on ill-conditioned data: with the default --steps-per-update every
    /// published snapshot carries its gap, is converged and has gap &lt;= 1e-8 per row (the online model is the MLE of the
    /// rows merged so far), and the final model is within 1e-8 sd of the closed form of the rows (computed here, two-pass).
    /// </summary>
    [Fact]
    public async Task Online_snapshots_and_the_final_model_meet_the_fit_targets_on_ill_conditioned_data()
    {
        var path = IllConditioned.Write(_scope.PathOf("ill.csv"));
        var topic = StreamingBrokerFixture.NewTopic("online-ill");
        await Kcat.ProduceFileAsync(broker.Bootstrap, topic, path);
        var run = (await _scope.RunAsync(["stream", "-b", broker.Bootstrap, "-t", topic, "--until-idle", "3s", "--checkpoint", "none",
            "--json", "--out", _scope.PathOf("model.json")], StreamTimeout, "stream-online")).ExpectExit(0);
        string ctx = $"stream with default steps, {IllConditioned.Describe}";

        var snapshots = (await Kcat.ConsumeAsync(broker.Bootstrap, topic + ".model", "%s\n"))
            .Where(l => l.Length > 0).Select(l => (JsonObject)JsonNode.Parse(l)!).ToList();
        Assert.True(snapshots.Count >= 2, $"{topic}.model holds {snapshots.Count} snapshots ({ctx})");
        foreach (var (snap, i) in snapshots.Select((x, i) => (x, i)))
        {
            Assert.True(snap.ContainsKey("gap"), $"snapshot {i} has no gap ({ctx})");
            double gap = snap["gap"]!.GetValue<double>();
            var (converged, reason) = IllConditioned.StatusOf(snap, $"snapshot {i}");
            output.WriteLine($"snapshot {i}: n {snap["n"]}, gap {gap:E2}, {reason}, {snap["iterations"]} iterations");
            Assert.True(gap <= 1e-8, $"snapshot {i} (n = {snap["n"]}): gap {gap:E2} per row > 1e-8 ({ctx})");
            Assert.True(converged, $"snapshot {i} (n = {snap["n"]}): {reason} ({ctx})");
        }

        // The closed form of the rows, computed independently (two-pass), against the final model.
        var rows = File.ReadAllLines(path).Select(l => l.Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToList();
        int d = IllConditioned.D, n = rows.Count;
        var mean = new double[d];
        foreach (var r in rows) for (int i = 0; i < d; i++) mean[i] += r[i] / n;
        var cov = new double[d * d];
        foreach (var r in rows)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) cov[i * d + j] += (r[i] - mean[i]) * (r[j] - mean[j]) / n;
        var model = ModelFile.Load(_scope.PathOf("model.json"));
        Assert.Equal(n, model.N);
        for (int i = 0; i < d; i++)
        {
            double sdi = Math.Sqrt(cov[i * d + i]);
            Assert.True(Math.Abs(model.Mu[i] - mean[i]) <= 1e-8 * sdi, $"mu[{i}] off by {Math.Abs(model.Mu[i] - mean[i]) / sdi:E2} sd ({ctx})");
            for (int j = 0; j < d; j++)
            {
                double e = Math.Abs(model.Covariance[i * d + j] - cov[i * d + j]) / (sdi * Math.Sqrt(cov[j * d + j]));
                Assert.True(e <= 1e-8, $"S[{i},{j}] off by {e:E2} sd_i sd_j ({ctx})");
            }
        }
        Assert.Equal((true, "gradientTolerance"), IllConditioned.StatusOf(StreamOutput.JsonSummary(run), $"--json summary ({ctx})"));
    }
}
