using Akka.Configuration;
using MvnStream.Cluster.Hosting;

namespace MvnStream.Cli;

/// <summary>
/// The cluster a command's job runs on: an embedded local cluster (--workers N: a coordinator and N worker
/// ActorSystems over TCP on loopback) or a running cluster joined as a client node (--cluster SEED).
/// </summary>
internal sealed class ClusterSession : IAsyncDisposable
{
    private readonly EmbeddedCluster? _embedded;

    private ClusterSession(ClusterNode node, EmbeddedCluster? embedded)
    {
        Node = node;
        _embedded = embedded;
    }

    /// <summary>The node jobs are submitted from (the embedded coordinator, or the client node).</summary>
    public ClusterNode Node { get; }

    /// <summary>The embedded worker nodes (empty for --cluster).</summary>
    public IReadOnlyList<ClusterNode> EmbeddedWorkers => _embedded?.Workers ?? [];

    /// <exception cref="UsageException">A bad seed address, an unusable --workers count or configuration.</exception>
    /// <exception cref="TimeoutException">The cluster could not be joined in time.</exception>
    public static async Task<ClusterSession> StartAsync(int workers, string? seed, string? configFile, ConsoleProgress progress, CancellationToken ct)
    {
        try
        {
            if (seed is not null)
            {
                try { NodeConfiguration.ValidateSeed(seed); }
                catch (ConfigurationException e) { throw new UsageException("--cluster: " + e.Message); }
                var configuration = new NodeConfiguration { ConfigFile = configFile, Roles = [NodeConfiguration.ClientRole], Seeds = [seed], Port = 0 };
                var timeout = configuration.Build().GetTimeSpan("mvnstream.client.connect-timeout", TimeSpan.FromSeconds(20));
                progress.Line($"joining the cluster at {seed} ...");
                return new ClusterSession(await ClusterNode.StartAsync(configuration, timeout, ct), null);
            }
            if (workers <= 0) throw new UsageException($"--workers {workers}: must be positive");
            progress.Line($"starting a local cluster: 1 coordinator + {workers} worker nodes on 127.0.0.1 ...");
            var embedded = await EmbeddedCluster.StartAsync(workers, null, ct);
            progress.Line($"cluster up: coordinator {embedded.Coordinator.Address}, workers on ports {string.Join(", ", embedded.Workers.Select(w => w.Address.Port))}");
            return new ClusterSession(embedded.Coordinator, embedded);
        }
        catch (ConfigurationException e)
        {
            throw new UsageException(e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_embedded is not null) await _embedded.DisposeAsync();
        else await Node.DisposeAsync();
    }
}
