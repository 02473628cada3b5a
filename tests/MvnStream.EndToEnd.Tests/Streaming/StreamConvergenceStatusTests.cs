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
        // Ill-conditioned data, one step per update and at most 3 final iterations: the final solve stops at its limit.
        var limited = _scope.RunAsync(Args(illTopic, "ill.json", "--dim", "5", "--steps-per-update", "1", "--max-iter", "3"), StreamTimeout, "stream-ill");
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
}
