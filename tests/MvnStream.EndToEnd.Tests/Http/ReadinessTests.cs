using System.Net;
using System.Text.Json.Nodes;
using MvnStream.EndToEnd.Tests.Streaming;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Http;

/// <summary>
/// /health/ready of a coordinator node across the loss and return of its only worker, with separate OS processes
/// (<c>node --role coordinator</c>, <c>node --role worker</c>) and SIGKILL. In the non-parallel collection: failure
/// detection must not be distorted by a busy machine.
/// </summary>
[Collection(StreamFaultCollection.Name)]
public sealed class ReadinessTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "http-readiness");

    public void Dispose() => _scope.Dispose();

    private static int LiveWorkers(string body) =>
        JsonNode.Parse(body)?["ready"]?["workers"]?.AsArray().Count(w => w!["live"]!.GetValue<bool>()) ?? -1;

    /// <summary>
    /// 200 with the worker live; SIGKILL of the worker: 503, the body saying why; a new worker joins: 200 again. The worker node
    /// serves /health/live and strictly valid /metrics on a port of its own.
    /// </summary>
    [Fact]
    public async Task Ready_is_503_when_the_coordinator_lost_every_worker_and_200_when_one_returns()
    {
        var coordinator = _scope.Start("coordinator", "node", "--role", "coordinator", "--port", "0", "--http", "127.0.0.1:0");
        var address = await NodeCluster.WaitForNodeUpAsync(coordinator, "coordinator");
        var url = await HttpSupport.WaitForUrlAsync(coordinator, OutputStream.Stdout);

        var (noWorker, noWorkerBody) = await HttpSupport.PollAsync(url, "health/ready", (s, _) => s != 0, "an answer of /health/ready", coordinator);
        Assert.True(noWorker == HttpStatusCode.ServiceUnavailable, $"ready without any worker: {(int)noWorker} {noWorkerBody}");

        var worker = _scope.Start("worker1", "node", "--role", "worker", "--seed-node", address, "--port", "0", "--http", "127.0.0.1:0");
        await NodeCluster.WaitForNodeUpAsync(worker, "worker");
        var workerUrl = await HttpSupport.WaitForUrlAsync(worker, OutputStream.Stdout);
        var (up, upBody) = await HttpSupport.PollAsync(url, "health/ready", (s, _) => s == HttpStatusCode.OK, "/health/ready 200 with one worker", coordinator);
        Assert.Equal(1, LiveWorkers(upBody));
        Assert.Equal(2, JsonNode.Parse(upBody)!["ready"]!["members"]!.AsArray().Count);

        var (wl, _, wr) = await HttpSupport.GetAsync(workerUrl, "health/live");
        wr.Dispose();
        Assert.Equal(HttpStatusCode.OK, wl);
        var (wm, workerMetrics, wmr) = await HttpSupport.GetAsync(workerUrl, "metrics");
        wmr.Dispose();
        Assert.Equal(HttpStatusCode.OK, wm);
        PrometheusText.Parse(workerMetrics);

        worker.Kill();
        var (down, downBody) = await HttpSupport.PollAsync(url, "health/ready", (s, _) => s == HttpStatusCode.ServiceUnavailable,
            "/health/ready 503 after the only worker was killed", coordinator);
        Assert.Equal(0, LiveWorkers(downBody));
        Assert.Contains("worker", JsonNode.Parse(downBody)!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        var (live, _, lr) = await HttpSupport.GetAsync(url, "health/live");
        lr.Dispose();
        Assert.Equal(HttpStatusCode.OK, live); // the coordinator process itself is fine

        var worker2 = _scope.Start("worker2", "node", "--role", "worker", "--seed-node", address, "--port", "0", "--http", "127.0.0.1:0");
        await NodeCluster.WaitForNodeUpAsync(worker2, "worker");
        var (back, backBody) = await HttpSupport.PollAsync(url, "health/ready", (s, _) => s == HttpStatusCode.OK, "/health/ready 200 after a new worker joined", coordinator);
        Assert.Equal(1, LiveWorkers(backBody));
        output.WriteLine($"ready {(int)up} -> {(int)down} -> {(int)back}");
    }
}
