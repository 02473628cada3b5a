using Akka.Actor;

namespace MvnStream.Cluster.Hosting;

/// <summary>
/// A whole cluster in one process for 'fit --workers N' and tests: a coordinator node and N worker nodes,
/// each its own ActorSystem, joined over real TCP on loopback (ports chosen by the OS).
/// </summary>
/// <remarks>
/// Start-up is what makes a small embedded fit slow, so it waits for nothing it does not need
/// (docs/ARCHITECTURE.md, "Fitting a file"): every ActorSystem is created at once (the workers' while the coordinator's is
/// still being created; they join it as soon as it is Up), the cluster's gossip and leader intervals are the short ones of
/// config/mvnstream.hocon, a fit may start while the workers are still joining (<see cref="StartJoiningAsync"/>), and the
/// whole cluster is stopped at once, without each node leaving (nobody is left to tell). A single node disposed on its own (<see cref="ClusterNode.DisposeAsync"/>) still leaves
/// the cluster gracefully.
/// </remarks>
public sealed class EmbeddedCluster : IAsyncDisposable
{
    /// <summary>
    /// Settings of every embedded node, below the caller's: <c>ActorSystem.Terminate()</c> stops a node without the
    /// cluster-leaving phases, which <see cref="DisposeAsync"/> relies on; <see cref="ClusterNode.DisposeAsync"/> runs
    /// them explicitly. Remoting waits at most 200 ms (Akka: 2 s) for its last writes to flush when a node stops: the nodes
    /// stop together, so a write to a node already gone cannot flush (stopping took 2 s, this wait, in about one run of ten).
    /// Membership moves at 100 ms gossip and leader ticks (a separate node's: 200 ms), and a singleton proxy that asked too
    /// early asks again after 50 ms (a separate node's: 250 ms): the job of 'fit --workers N' goes through the coordinator
    /// node's own proxy, which asks when the node is Up, just before the singleton starts, and waited a whole retry
    /// interval in every traced run (docs/ARCHITECTURE.md, "Fitting a file"). All of this is messages inside one process;
    /// the failure detector's settings are not touched.
    /// </summary>
    public const string Defaults = "akka.coordinated-shutdown.run-by-actor-system-terminate = off\nakka.remote.flush-wait-on-shutdown = 200ms\n"
        + "akka.cluster.periodic-tasks-initial-delay = 20ms\nakka.cluster.gossip-interval = 100ms\nakka.cluster.leader-actions-interval = 100ms\n"
        + "akka.cluster.singleton-proxy.singleton-identification-interval = 50ms";

    /// <summary>Threads each of <paramref name="workers"/> embedded workers reads with by default: this machine's cores shared out, at least 1.</summary>
    public static int DefaultThreadsPerWorker(int workers) => Math.Max(1, Environment.ProcessorCount / Math.Max(1, workers));

    private readonly Task<ClusterNode[]> _workers;
    private readonly CancellationTokenSource _stopJoining;

    private EmbeddedCluster(ClusterNode coordinator, Task<ClusterNode[]> workers, CancellationTokenSource stopJoining)
    {
        Coordinator = coordinator;
        _workers = workers;
        _stopJoining = stopJoining;
    }

    public ClusterNode Coordinator { get; }

    /// <summary>The worker nodes, once they are all Up (<see cref="WorkersUp"/>; always after <see cref="StartAsync"/>).</summary>
    /// <exception cref="InvalidOperationException">A worker is still joining (<see cref="StartJoiningAsync"/>).</exception>
    public IReadOnlyList<ClusterNode> Workers => _workers.IsCompletedSuccessfully ? _workers.Result
        : throw new InvalidOperationException("the embedded workers are still joining the cluster: await WorkersUp first");

    /// <summary>
    /// Completes when every worker node is Up; faults as a node's start does (a <see cref="TimeoutException"/> when one
    /// could not join within the join timeout, a <see cref="ConfigurationException"/>), after stopping every node that started.
    /// </summary>
    public Task WorkersUp => _workers;

    /// <summary>Starts the coordinator and the workers and returns when every node is Up in the cluster.</summary>
    /// <param name="settings">The nodes' own settings; null: the defaults, with this machine's cores shared among the workers
    /// (<see cref="DefaultThreadsPerWorker"/>) unless <paramref name="settings"/> names a thread count.</param>
    /// <param name="coordinatorHost">Builds the coordinator node's host (the CLI's serves HTTP from it); null: <see cref="NodeHost.Build"/>.</param>
    public static async Task<EmbeddedCluster> StartAsync(int workers, string? extraHocon = null, CancellationToken cancellationToken = default,
        NodeSettings? settings = null, NodeHostFactory? coordinatorHost = null)
    {
        var cluster = await StartJoiningAsync(workers, extraHocon, cancellationToken, settings, coordinatorHost).ConfigureAwait(false);
        await cluster.WorkersUp.ConfigureAwait(false);
        return cluster;
    }

    /// <summary>
    /// Starts the coordinator and the workers like <see cref="StartAsync"/>, but returns as soon as the coordinator is Up
    /// (its fit coordinator singleton starting), the workers still joining (docs/ARCHITECTURE.md, "Fitting a file"): a job
    /// submitted now waits for its workers' registrations, which come before their nodes are Up (the registration needs only
    /// the coordinator, not the workers' own membership). <see cref="WorkersUp"/> reports a worker that cannot join, as
    /// <see cref="StartAsync"/> would have.
    /// </summary>
    public static async Task<EmbeddedCluster> StartJoiningAsync(int workers, string? extraHocon = null, CancellationToken cancellationToken = default,
        NodeSettings? settings = null, NodeHostFactory? coordinatorHost = null)
    {
        if (workers <= 0) throw new ArgumentOutOfRangeException(nameof(workers), workers, "at least one worker");
        var timeout = TimeSpan.FromSeconds(30);
        // The node's cores shared among its workers, unless the caller's settings say otherwise.
        var own = settings ?? NodeSettings.Default;
        if (own.WorkerThreads == 0) own = own with { WorkerThreads = DefaultThreadsPerWorker(workers) };
        string hocon = extraHocon is null ? Defaults : Defaults + "\n" + extraHocon;
        // Disposing the cluster while workers still join stops their joining (see DisposeAsync).
        var stopJoining = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
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
        }, timeout, seed, stopJoining.Token))).ToList();
        ClusterNode coordinator;
        try
        {
            coordinator = await coordinatorTask.ConfigureAwait(false);
        }
        catch
        {
            await StopAllAsync(coordinatorTask, workerTasks).ConfigureAwait(false);
            throw;
        }
        var all = AllOrStopAsync(coordinatorTask, workerTasks);
        return new EmbeddedCluster(coordinator, all, stopJoining);
    }

    /// <summary>The workers once all are Up; when one fails, every node that started is stopped and its failure rethrown.</summary>
    private static async Task<ClusterNode[]> AllOrStopAsync(Task<ClusterNode> coordinator, List<Task<ClusterNode>> workers)
    {
        try
        {
            return await Task.WhenAll(workers).ConfigureAwait(false);
        }
        catch
        {
            await StopAllAsync(coordinator, workers).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Whatever started is stopped again: no ActorSystem outlives a failed start.</summary>
    private static async Task StopAllAsync(Task<ClusterNode> coordinator, List<Task<ClusterNode>> workers)
    {
        var tasks = workers.Prepend(coordinator).ToList();
        try { await Task.WhenAll(tasks).ConfigureAwait(false); }
        catch (Exception) { /* the first failure is rethrown by the caller */ }
        var started = tasks.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result).ToList();
        await Task.WhenAll(started.Select(n => n.System.Terminate())).ConfigureAwait(false);
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
        if (!_workers.IsCompleted)
        {
            // Workers still joining stop joining; a failed start has stopped every node already.
            await _stopJoining.CancelAsync().ConfigureAwait(false);
            try { await _workers.ConfigureAwait(false); }
            catch (Exception) { return; }
        }
        _stopJoining.Dispose();
        if (!_workers.IsCompletedSuccessfully) return;
        var all = _workers.Result.Prepend(Coordinator).Select(n => n.System).ToList();
        try { await Task.WhenAll(all.Select(s => s.Terminate())).WaitAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false); }
        catch (TimeoutException) { /* the process ends or the test moves on; nothing waits for these systems */ }
        // Then their hosts, and with them whatever else a host serves (the coordinator's HTTP endpoint).
        await Task.WhenAll(Workers.Prepend(Coordinator).Where(n => n.Host is not null).Select(n => ClusterNode.DisposeHostAsync(n.Host!))).ConfigureAwait(false);
    }
}
