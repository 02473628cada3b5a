using Akka.Actor;

namespace MvnStream.Cluster.Hosting;

/// <summary>
/// A whole cluster in one process for 'fit --workers N' and tests: a coordinator node and N worker nodes,
/// each its own ActorSystem, joined over real TCP on loopback (ports chosen by the OS).
/// </summary>
/// <remarks>
/// Start-up is what makes a small embedded fit slow, so it waits for nothing it does not need
/// (docs/ARCHITECTURE.md, "Fitting a file"): every ActorSystem is created at once (the workers' while the coordinator's is
/// still being created; they join it as soon as its address is known), the cluster's gossip and leader intervals are
/// the short ones of config/mvnstream.hocon, and the whole cluster is stopped at once, without each node leaving
/// (nobody is left to tell). A single node disposed on its own (<see cref="ClusterNode.DisposeAsync"/>) still leaves
/// the cluster gracefully.
/// </remarks>
public sealed class EmbeddedCluster : IAsyncDisposable
{
    /// <summary>
    /// Settings of every embedded node, below the caller's: <c>ActorSystem.Terminate()</c> stops a node without the
    /// cluster-leaving phases, which <see cref="DisposeAsync"/> relies on; <see cref="ClusterNode.DisposeAsync"/> runs
    /// them explicitly.
    /// </summary>
    public const string Defaults = "akka.coordinated-shutdown.run-by-actor-system-terminate = off";

    /// <summary>Threads each of <paramref name="workers"/> embedded workers reads with by default: this machine's cores shared out, at least 1.</summary>
    public static int DefaultThreadsPerWorker(int workers) => Math.Max(1, Environment.ProcessorCount / Math.Max(1, workers));

    private EmbeddedCluster(ClusterNode coordinator, IReadOnlyList<ClusterNode> workers)
    {
        Coordinator = coordinator;
        Workers = workers;
    }

    public ClusterNode Coordinator { get; }
    public IReadOnlyList<ClusterNode> Workers { get; }

    /// <param name="settings">The nodes' own settings; null: the defaults, with this machine's cores shared among the workers
    /// (<see cref="DefaultThreadsPerWorker"/>) unless <paramref name="settings"/> names a thread count.</param>
    /// <param name="coordinatorHost">Builds the coordinator node's host (the CLI's serves HTTP from it); null: <see cref="NodeHost.Build"/>.</param>
    public static async Task<EmbeddedCluster> StartAsync(int workers, string? extraHocon = null, CancellationToken cancellationToken = default,
        NodeSettings? settings = null, NodeHostFactory? coordinatorHost = null)
    {
        if (workers <= 0) throw new ArgumentOutOfRangeException(nameof(workers), workers, "at least one worker");
        var timeout = TimeSpan.FromSeconds(30);
        // The node's cores shared among its workers, unless the caller's settings say otherwise.
        var own = settings ?? NodeSettings.Default;
        if (own.WorkerThreads == 0) own = own with { WorkerThreads = DefaultThreadsPerWorker(workers) };
        string hocon = extraHocon is null ? Defaults : Defaults + "\n" + extraHocon;
        var coordinatorTask = OnOwnThread(() => ClusterNode.StartAsync(new NodeConfiguration
        {
            Roles = [NodeConfiguration.CoordinatorRole],
            Seeds = [],
            Hostname = "127.0.0.1",
            Port = 0,
            ExtraHocon = hocon,
            Settings = own,
        }, timeout, seed: null, cancellationToken, buildHost: coordinatorHost));
        var seed = coordinatorTask.ContinueWith(t => t.GetAwaiter().GetResult().Address, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var workerTasks = Enumerable.Range(0, workers).Select(_ => OnOwnThread(() => ClusterNode.StartAsync(new NodeConfiguration
        {
            Roles = [NodeConfiguration.WorkerRole],
            Seeds = [],
            Hostname = "127.0.0.1",
            Port = 0,
            ExtraHocon = hocon,
            Settings = own,
        }, timeout, seed, cancellationToken))).ToList();
        try
        {
            var coordinator = await coordinatorTask.ConfigureAwait(false);
            var nodes = await Task.WhenAll(workerTasks).ConfigureAwait(false);
            return new EmbeddedCluster(coordinator, nodes);
        }
        catch
        {
            // Whatever started is stopped again: no ActorSystem outlives a failed start.
            try { await Task.WhenAll(workerTasks.Prepend(coordinatorTask)).ConfigureAwait(false); }
            catch (Exception) { /* the first failure is rethrown below */ }
            var started = workerTasks.Prepend(coordinatorTask).Where(t => t.IsCompletedSuccessfully).Select(t => t.Result).ToList();
            await Task.WhenAll(started.Select(n => n.System.Terminate())).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Runs a node's start on a thread of its own. ActorSystem.Create is synchronous and blocks until remoting listens,
    /// which needs thread-pool threads: several such starts on pool threads starved the pool, which grows by about one
    /// thread per 0.5 s, and the nodes started one after the other, half a second apart.
    /// </summary>
    private static Task<ClusterNode> OnOwnThread(Func<Task<ClusterNode>> start) =>
        Task.Factory.StartNew(start, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    /// <summary>
    /// Stops every node at once. The nodes do not leave the cluster one by one first (that waits for the leader's gossip
    /// rounds, seconds per node): the whole cluster goes away together, and a job it ran has already ended.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        var all = Workers.Prepend(Coordinator).Select(n => n.System).ToList();
        try { await Task.WhenAll(all.Select(s => s.Terminate())).WaitAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false); }
        catch (TimeoutException) { /* the process ends or the test moves on; nothing waits for these systems */ }
        // Then their hosts, and with them whatever else a host serves (the coordinator's HTTP endpoint).
        await Task.WhenAll(Workers.Prepend(Coordinator).Where(n => n.Host is not null).Select(n => ClusterNode.DisposeHostAsync(n.Host!))).ConfigureAwait(false);
    }
}
