using System.Globalization;
using System.Text.RegularExpressions;

namespace MvnStream.EndToEnd.Tests.Support;

/// <summary>A cluster of separate OS processes: <c>mvnstream node --role coordinator --port 0</c> plus worker nodes.</summary>
public sealed partial class NodeCluster
{
    public static readonly TimeSpan NodeUpTimeout = TimeSpan.FromSeconds(60);

    private NodeCluster(CliProcess coordinator, string address, IReadOnlyList<(CliProcess Process, string Address)> workers)
    {
        Coordinator = coordinator;
        Address = address;
        Workers = workers;
    }

    public CliProcess Coordinator { get; }

    /// <summary>The coordinator's address as it printed it, e.g. akka.tcp://mvnstream@127.0.0.1:41234.</summary>
    public string Address { get; }

    public IReadOnlyList<(CliProcess Process, string Address)> Workers { get; }

    [GeneratedRegex(@"^node up at (akka\.tcp://mvnstream@\S+:\d+) roles \[([a-z,]*)\]$")]
    private static partial Regex NodeUpLine();

    /// <summary>Waits for the node's first stdout line "node up at ADDRESS roles [...]" and returns ADDRESS.</summary>
    public static async Task<string> WaitForNodeUpAsync(CliProcess node, string expectedRoles)
    {
        var line = await node.WaitForLineAsync(OutputStream.Stdout, l => NodeUpLine().IsMatch(l), NodeUpTimeout, "the line 'node up at ADDRESS roles [...]'");
        var match = NodeUpLine().Match(line);
        if (match.Groups[2].Value != expectedRoles) throw node.Failure($"expected roles [{expectedRoles}] in '{line}'");
        if (node.StdoutLines[0] != line) throw node.Failure($"'node up at ...' must be the first stdout line, but the first was '{node.StdoutLines[0]}'");
        return match.Groups[1].Value;
    }

    public static int PortOf(string address) => int.Parse(address[(address.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);

    /// <summary>
    /// Starts a coordinator on a free port and <paramref name="workers"/> workers seeded with its address. Workers run
    /// with akka.loglevel = INFO (a --config file), so that each logs "registered with coordinator" once its
    /// registration is acknowledged: the cluster is ready when every worker has said so (no sleeping).
    /// </summary>
    public static async Task<NodeCluster> StartAsync(TestScope scope, string tag, int workers)
    {
        var infoConfig = scope.PathOf("worker-info-log.hocon");
        if (!File.Exists(infoConfig)) File.WriteAllText(infoConfig, "akka.loglevel = INFO\n");

        var coordinator = scope.Start($"{tag}-coordinator", "node", "--role", "coordinator", "--port", "0");
        var address = await WaitForNodeUpAsync(coordinator, "coordinator");
        var started = Enumerable.Range(1, workers)
            .Select(i => scope.Start($"{tag}-worker{i}", "node", "--role", "worker", "--seed-node", address, "--config", infoConfig))
            .ToList();
        var addresses = await Task.WhenAll(started.Select(w => WaitForNodeUpAsync(w, "worker")));
        await Task.WhenAll(started.Select(w => w.WaitForLineAsync(OutputStream.Stderr, l => l.Contains("registered with coordinator", StringComparison.Ordinal),
            NodeUpTimeout, "the worker's log line 'registered with coordinator'")));
        scope.Log($"cluster {tag}: coordinator {address}, workers {string.Join(", ", addresses)}");
        return new NodeCluster(coordinator, address, started.Zip(addresses).ToList());
    }

    /// <summary>Kills every node of the cluster (SIGKILL).</summary>
    public void KillAll()
    {
        foreach (var (w, _) in Workers) w.Kill();
        Coordinator.Kill();
    }
}
