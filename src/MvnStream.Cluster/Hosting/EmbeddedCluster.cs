namespace MvnStream.Cluster.Hosting;

/// <summary>
/// A whole cluster in one process for 'fit --workers N' and tests: a coordinator node and N worker nodes,
/// each its own ActorSystem, joined over real TCP on loopback (ports chosen by the OS).
/// </summary>
public sealed class EmbeddedCluster : IAsyncDisposable
{
    private EmbeddedCluster(ClusterNode coordinator, IReadOnlyList<ClusterNode> workers)
    {
        Coordinator = coordinator;
        Workers = workers;
    }

    public ClusterNode Coordinator { get; }
    public IReadOnlyList<ClusterNode> Workers { get; }

    public static async Task<EmbeddedCluster> StartAsync(int workers, string? extraHocon = null, CancellationToken cancellationToken = default)
    {
        if (workers <= 0) throw new ArgumentOutOfRangeException(nameof(workers), workers, "at least one worker");
        var timeout = TimeSpan.FromSeconds(30);
        var coordinator = await ClusterNode.StartAsync(new NodeConfiguration
        {
            Roles = [NodeConfiguration.CoordinatorRole],
            Seeds = [],
            Hostname = "127.0.0.1",
            Port = 0,
            ExtraHocon = extraHocon,
        }, timeout, cancellationToken).ConfigureAwait(false);
        var seed = coordinator.Address.ToString();
        try
        {
            var nodes = await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => ClusterNode.StartAsync(new NodeConfiguration
            {
                Roles = [NodeConfiguration.WorkerRole],
                Seeds = [seed],
                Hostname = "127.0.0.1",
                Port = 0,
                ExtraHocon = extraHocon,
            }, timeout, cancellationToken))).ConfigureAwait(false);
            return new EmbeddedCluster(coordinator, nodes);
        }
        catch
        {
            await coordinator.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Workers.Select(w => w.DisposeAsync().AsTask())).ConfigureAwait(false);
        await Coordinator.DisposeAsync().ConfigureAwait(false);
    }
}
