using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary>
/// The <c>stream --cluster</c> client against separate node processes: it is no cluster member, so its death never
/// removes a node, and a stop (SIGTERM) while no coordinator runs its job ends at once with exit 130 and one clear line,
/// never a stack trace.
/// </summary>
[Collection(StreamFaultCollection.Name)]
public sealed class StreamClientTests(StreamingBrokerFixture broker, ITestOutputHelper output) : IClassFixture<StreamingBrokerFixture>, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private readonly TestScope _scope = new(output, "stream-client");

    public void Dispose() => _scope.Dispose();

    /// <summary>A coordinator and one worker node, both logging at INFO (job ends are INFO lines).</summary>
    private async Task<(CliProcess Coordinator, string Address, CliProcess Worker)> ClusterAsync(string tag)
    {
        var info = _scope.PathOf("info-log.hocon");
        File.WriteAllText(info, "akka.loglevel = INFO\n");
        var coordinator = _scope.Start($"{tag}-coordinator", "node", "--role", "coordinator", "--port", "0", "--config", info);
        var address = await NodeCluster.WaitForNodeUpAsync(coordinator, "coordinator");
        var worker = _scope.Start($"{tag}-worker", "node", "--role", "worker", "--seed", address, "--config", info);
        await NodeCluster.WaitForNodeUpAsync(worker, "worker");
        await worker.WaitForLineAsync(OutputStream.Stderr, l => l.Contains("registered with coordinator", StringComparison.Ordinal), Timeout,
            "the worker's log line 'registered with coordinator'");
        return (coordinator, address, worker);
    }

    private static async Task SignalAsync(CliProcess p, string signal)
    {
        using var kill = Process.Start("/bin/kill", [signal, p.Id.ToString(CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// A stream client whose job runs is SIGKILLed: the coordinator notices (remote death watch), ends that job, and the
    /// coordinator and the worker stay up (neither prints 'removed from the cluster'); a second client then runs a job to
    /// the end on the same cluster (exit 0, every row counted).
    /// </summary>
    [Fact]
    public async Task A_SIGKILLed_client_never_removes_a_node_and_the_coordinator_serves_the_next_job()
    {
        var (coordinator, address, worker) = await ClusterAsync("kill");
        var first = StreamingBrokerFixture.NewTopic("client-a");
        var second = StreamingBrokerFixture.NewTopic("client-b");
        (await _scope.RunAsync(["produce", "-b", broker.Bootstrap, "-t", second, "--synthetic", "--dim", "4", "--rows", "20000"], Timeout, "produce-b")).ExpectExit(0);
        var producer = _scope.Start("produce-a", "produce", "-b", broker.Bootstrap, "-t", first, "--synthetic", "--dim", "4", "--rows", "1000000", "--rate", "5000");
        var client = _scope.Start("stream-a", "stream", "--cluster", address, "-b", broker.Bootstrap, "-t", first, "--dim", "4", "--checkpoint", "none",
            "--model-topic", "none", "--out", _scope.PathOf("a.json"));
        await client.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.RowsOf(l) > 0, Timeout, "a status line with rows counted");
        client.KillAndWait(TimeSpan.FromSeconds(10));
        await coordinator.WaitForLineAsync(OutputStream.Stderr, l => Regex.IsMatch(l, @"stream job \w+ finished"), Timeout,
            "the coordinator ending the job of the killed client ('stream job ... finished')");
        producer.Kill();

        var run = await _scope.RunAsync(["stream", "--cluster", address, "-b", broker.Bootstrap, "-t", second, "--dim", "4", "--until-idle", "3s",
            "--checkpoint", "none", "--model-topic", "none", "--json", "--out", _scope.PathOf("b.json")], Timeout, "stream-b");
        run.ExpectExit(0);
        Assert.True(StreamOutput.Long(StreamOutput.JsonSummary(run), "n") == 20_000, run.Description);
        foreach (var node in new[] { coordinator, worker })
        {
            Assert.False(node.HasExited, $"{node.Name} exited\n{node.Describe()}");
            Assert.DoesNotContain(node.StderrLines, l => l.Contains("removed from the cluster", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// The coordinator is SIGKILLed under a running job; while the client says it is submitting the job again (no
    /// coordinator to answer), it gets SIGTERM: it must end within 20 s with exit 130, say why on one line, and print no
    /// stack trace (no '   at ' line).
    /// </summary>
    [Fact]
    public async Task SIGTERM_while_no_coordinator_answers_exits_130_at_once_without_a_stack_trace()
    {
        var (coordinator, address, _) = await ClusterAsync("term");
        var topic = StreamingBrokerFixture.NewTopic("client-t");
        var producer = _scope.Start("produce", "produce", "-b", broker.Bootstrap, "-t", topic, "--synthetic", "--dim", "4", "--rows", "1000000", "--rate", "5000");
        var client = _scope.Start("stream", "stream", "--cluster", address, "-b", broker.Bootstrap, "-t", topic, "--dim", "4", "--checkpoint", "none",
            "--model-topic", "none", "--out", _scope.PathOf("t.json"));
        await client.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.RowsOf(l) > 0, Timeout, "a status line with rows counted");
        coordinator.KillAndWait(TimeSpan.FromSeconds(10));
        await client.WaitForLineAsync(OutputStream.Stderr, l => l.Contains("submitting the job again", StringComparison.Ordinal), Timeout,
            "the client noticing that the coordinator is lost");
        await SignalAsync(client, "-TERM");
        int code = await client.WaitForExitAsync(TimeSpan.FromSeconds(20));
        producer.Kill();
        Assert.True(code == 130, $"exit code {code} after SIGTERM, expected 130\n{client.Describe()}");
        Assert.DoesNotContain(client.StderrLines, l => l.StartsWith("   at ", StringComparison.Ordinal));
        Assert.Contains(client.StderrLines, l => l.Contains("stopped while no stream coordinator was running the job", StringComparison.Ordinal));
    }
}
