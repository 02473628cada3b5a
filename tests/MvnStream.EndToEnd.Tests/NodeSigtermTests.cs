using System.Diagnostics;
using System.Globalization;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>
/// SIGTERM to a <c>mvnstream node</c> process stops it through its generic host's console lifetime (docs/ARCHITECTURE.md,
/// "Hosting"): the worker leaves the cluster gracefully and exits 0 (README, exit codes), with no stack trace, and the
/// coordinator stays up and is not told it was removed.
/// </summary>
public sealed class NodeSigtermTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "node-sigterm");

    public void Dispose() => _scope.Dispose();

    [Fact]
    public async Task Sigterm_to_a_worker_node_leaves_the_cluster_and_exits_0()
    {
        var cluster = await NodeCluster.StartAsync(_scope, "sigterm", workers: 1);
        var (worker, workerAddress) = cluster.Workers[0];
        using (var kill = Process.Start("/bin/kill", ["-TERM", worker.Id.ToString(CultureInfo.InvariantCulture)])!)
            await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        int exit = await worker.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, $"exit {exit}, expected 0 after SIGTERM\n{worker.Describe()}");
        Assert.Contains(worker.StderrLines, l => l == "mvnstream node: leaving the cluster");
        Assert.DoesNotContain(worker.StderrLines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        Assert.DoesNotContain(worker.StderrLines.Concat(worker.StdoutLines), l => l.Contains("Exception", StringComparison.Ordinal));
        // A graceful leave: the worker went through Leaving/Exiting, so the coordinator saw it removed (its INFO cluster log
        // is off, so this is asked of the process itself): the coordinator is still running and was not removed itself.
        Assert.False(cluster.Coordinator.HasExited, $"the coordinator stopped when a worker got SIGTERM\n{cluster.Coordinator.Describe()}");
        Assert.DoesNotContain(cluster.Coordinator.StderrLines, l => l.Contains("removed from the cluster", StringComparison.Ordinal));
        _scope.Log($"worker {workerAddress} left after SIGTERM in {worker.Elapsed}");
        using (var kill = Process.Start("/bin/kill", ["-TERM", cluster.Coordinator.Id.ToString(CultureInfo.InvariantCulture)])!)
            await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await cluster.Coordinator.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains(cluster.Coordinator.StderrLines, l => l == "mvnstream node: leaving the cluster");
    }
}
