using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MvnStream.Cluster.Actors;

namespace MvnStream.Cluster.Hosting;

/// <summary>
/// One ActorSystem of an MvnStream cluster: joins through its configured seeds (a coordinator without
/// seeds founds the cluster), then starts what its roles ask for: the fit coordinator singleton
/// (role coordinator), a worker actor (role worker), and on every node a proxy to the singleton.
/// </summary>
public sealed class ClusterNode : IAsyncDisposable
{
    public const string FitCoordinatorName = "fit-coordinator";

    private ClusterNode(ActorSystem system, IReadOnlyList<string> roles, IActorRef fitCoordinator, Address? seed = null, IHost? host = null)
    {
        Host = host;
        System = system;
        Roles = roles;
        FitCoordinator = fitCoordinator;
        Seed = seed;
    }

    public ActorSystem System { get; }

    /// <summary>
    /// The generic host the node runs on (docs/ARCHITECTURE.md, "Hosting"): its services resolve the
    /// <see cref="ActorSystem"/> and the <see cref="Akka.Hosting.ActorRegistry"/> (<see cref="FitCoordinatorKey"/>,
    /// <see cref="WorkerKey"/>; a client's registry holds neither).
    /// </summary>
    public IHost? Host { get; }
    public IReadOnlyList<string> Roles { get; }

    /// <summary>Proxy to the fit coordinator singleton, wherever it runs.</summary>
    public IActorRef FitCoordinator { get; }

    /// <summary>
    /// For a client (<see cref="StartClientAsync"/>): the cluster node it talks through. Null for cluster members.
    /// </summary>
    public Address? Seed { get; }

    /// <summary>A client talks to the cluster over remoting but is no member of it (see <see cref="StartClientAsync"/>).</summary>
    public bool IsClient => Seed is not null;

    public Address Address => IsClient ? ((ExtendedActorSystem)System).Provider.DefaultAddress : Akka.Cluster.Cluster.Get(System).SelfAddress;

    /// <summary>
    /// An actor on a client that forwards everything to a path on the seed node, keeping the sender: replies and
    /// death watch go straight between the client's actors and the coordinator.
    /// </summary>
    public IActorRef Relay(string path, string name) =>
        System.ActorOf(Props.Create(() => new RelayActor(System.ActorSelection(new RootActorPath(Seed!) / path.TrimStart('/').Split('/')))), name);

    private sealed class RelayActor : ReceiveActor
    {
        public RelayActor(ActorSelection target) => ReceiveAny(m => target.Tell(m, Sender));
    }

    /// <summary>
    /// Starts a client of the cluster (the side of 'fit --cluster' and 'stream --cluster' that submits a job): an
    /// ActorSystem with plain remoting, not a cluster member (docs/ARCHITECTURE.md, deployment). It takes no part in
    /// membership, failure detection or downing, so it can never remove a coordinator or a worker, and its own crash or
    /// exit changes nothing in the cluster but the end of its job (the coordinator watches it). Jobs go to the
    /// coordinator singleton through the proxies on the <paramref name="seed"/> node, which must answer within
    /// <paramref name="connectTimeout"/>.
    /// </summary>
    /// <exception cref="ConfigurationException">Invalid configuration.</exception>
    /// <exception cref="TimeoutException">The seed node did not answer in time.</exception>
    public static async Task<ClusterNode> StartClientAsync(NodeConfiguration configuration, string seed, TimeSpan connectTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        NodeConfiguration.ValidateSeed(seed);
        var seedAddress = Akka.Actor.Address.Parse(seed);
        var config = Logging.MvnLogging.WithAkkaLogLevel(
            ConfigurationFactory.ParseString("akka.actor.provider = remote\nakka.cluster.seed-nodes = []").WithFallback(configuration.Build()));
        var builder = NodeHost.CreateBuilder(ownsProcess: false);
        NodeHost.AddClient(builder.Services, config);
        var clientHost = builder.Build();
        ActorSystem system;
        try { system = clientHost.Services.GetRequiredService<ActorSystem>(); }
        catch (Exception e)
        {
            clientHost.Dispose();
            throw new ConfigurationException($"cannot start the client with this configuration: {Innermost(e).Message}");
        }
        await clientHost.StartAsync(CancellationToken.None).ConfigureAwait(false);
        var node = new ClusterNode(system, [NodeConfiguration.ClientRole], ActorRefs.Nobody, seedAddress, clientHost);
        var fit = node.Relay(SingletonWiring.ProxyPath(FitCoordinatorName), FitCoordinatorName + "-relay");
        var deadline = DateTime.UtcNow + connectTimeout;
        var probe = system.ActorSelection(new RootActorPath(seedAddress) / "user" / SingletonWiring.ProxyName(FitCoordinatorName));
        while (true)
        {
            try
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) throw new TimeoutException();
                var id = await probe.Ask<ActorIdentity>(new Identify(null), left < TimeSpan.FromSeconds(2) ? left : TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                if (id.Subject is not null) break;
            }
            catch (Exception e) when (e is AskTimeoutException or TimeoutException or TaskCanceledException or OperationCanceledException)
            {
                if (cancellationToken.IsCancellationRequested || DateTime.UtcNow >= deadline)
                {
                    await StopHostAsync(clientHost, system).ConfigureAwait(false);
                    cancellationToken.ThrowIfCancellationRequested();
                    throw new TimeoutException($"could not join the cluster through {seed} within {connectTimeout.TotalSeconds:F0} s: is a coordinator or worker node running there, and reachable from this host?");
                }
                await Task.Delay(TimeSpan.FromMilliseconds(250), CancellationToken.None).ConfigureAwait(false);
            }
        }
        return new ClusterNode(system, node.Roles, fit, seedAddress, clientHost);
    }

    /// <summary>Starts the node and waits until it is Up in the cluster (or fails after <paramref name="joinTimeout"/>).</summary>
    /// <exception cref="ConfigurationException">Invalid configuration: unknown role, no seeds for a worker or client, port in use.</exception>
    /// <exception cref="TimeoutException">The cluster could not be joined in time.</exception>
    public static Task<ClusterNode> StartAsync(NodeConfiguration configuration, TimeSpan joinTimeout, CancellationToken cancellationToken = default) =>
        StartAsync(configuration, joinTimeout, seed: null, cancellationToken);

    /// <summary>
    /// Starts the node like <see cref="StartAsync(NodeConfiguration, TimeSpan, CancellationToken)"/>, but joins through
    /// <paramref name="seed"/> once that task gives its address: the ActorSystem (most of a node's start-up time) is
    /// created meanwhile. An embedded cluster starts its workers this way while its coordinator is still starting
    /// (docs/ARCHITECTURE.md, "Fitting a file"). Null: join through the configured seeds.
    /// </summary>
    /// <param name="ownsProcess">The node's host handles Ctrl-C and SIGTERM (the <c>node</c> command; see <see cref="NodeHost.CreateBuilder"/>).</param>
    /// <param name="buildHost">Builds the node's host (the CLI's adds its HTTP endpoint to it); null: <see cref="NodeHost.Build"/>.</param>
    public static async Task<ClusterNode> StartAsync(NodeConfiguration configuration, TimeSpan joinTimeout, Task<Address>? seed,
        CancellationToken cancellationToken = default, bool ownsProcess = false, NodeHostFactory? buildHost = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var config = Logging.MvnLogging.WithAkkaLogLevel(configuration.Build());
        var roles = config.GetStringList("akka.cluster.roles", []).ToList();
        var seeds = config.GetStringList("akka.cluster.seed-nodes", []).ToList();
        if (roles.Count == 0) throw new ConfigurationException("the node has no role: give --role coordinator and/or --role worker (or MVNSTREAM__Node__Roles)");
        if (seed is not null && seeds.Count > 0) throw new ConfigurationException("a node joins either through its configured seeds or through the seed it is given, not both");
        if (seeds.Count == 0 && seed is null && !roles.Contains(NodeConfiguration.CoordinatorRole))
            throw new ConfigurationException($"a {string.Join("+", roles)} node needs a seed node to join: --seed-node akka.tcp://{NodeConfiguration.SystemName}@HOST:PORT (or MVNSTREAM__Node__Seeds)");

        {
            // .NET maps SO_REUSEADDR to SO_REUSEPORT on Linux, so a second node could silently share a port:
            // refuse when something already accepts connections there.
            string host = config.GetString("akka.remote.dot-netty.tcp.hostname", "127.0.0.1");
            int port = config.GetInt("akka.remote.dot-netty.tcp.port", 0);
            if (port > 0 && await IsListeningAsync(host, port).ConfigureAwait(false))
                throw new ConfigurationException($"cannot listen on {host}:{port}: the address is already in use (another node or program is listening there)");
        }

        // The ActorSystem is built by Akka.Hosting (NodeHost); it is resolved here, before the host starts, so that a
        // configuration Akka refuses or a port it cannot bind is reported as such (the hosted service would print a stack trace).
        var nodeHost = (buildHost ?? NodeHost.Build)(ownsProcess, roles, b => NodeHost.AddNode(b.Services, config, roles, configuration.Settings));
        ActorSystem system;
        try
        {
            system = nodeHost.Services.GetRequiredService<ActorSystem>();
        }
        catch (Exception e)
        {
            nodeHost.Dispose();
            string listenHost = config.GetString("akka.remote.dot-netty.tcp.hostname", "?");
            int port = config.GetInt("akka.remote.dot-netty.tcp.port", 0);
            var socket = Inner<SocketException>(e);
            if (socket is null && Inner<Akka.Remote.RemoteTransportException>(e) is null)
                throw new ConfigurationException($"cannot start the node with this configuration: {Innermost(e).Message}");
            string why = socket?.SocketErrorCode == SocketError.AddressAlreadyInUse ? "the address is already in use"
                : socket?.Message ?? Innermost(e).Message;
            throw new ConfigurationException($"cannot listen on {listenHost}:{port}: {why}");
        }
        // Runs the builder's actor starters (the coordinator singleton or its proxy, and the worker), then anything else the
        // host serves (Kestrel, when the CLI's host has it): one host, one lifetime.
        try { await nodeHost.StartAsync(CancellationToken.None).ConfigureAwait(false); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await StopHostAsync(nodeHost, system).ConfigureAwait(false);
            throw new ConfigurationException($"cannot start the node: {Innermost(e).Message}", e);
        }

        // Ctrl-C or SIGTERM while joining (a host that owns the process) cancels the join like the caller's token.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken,
            nodeHost.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        cancellationToken = stopping.Token;
        var cluster = Akka.Cluster.Cluster.Get(system);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        try
        {
            if (seed is not null)
            {
                Address address;
                try { address = await seed.WaitAsync(cancellationToken).ConfigureAwait(false); }
                catch
                {
                    await StopHostAsync(nodeHost, system).ConfigureAwait(false);
                    throw;
                }
                seeds.Add(address.ToString());
                cluster.JoinSeedNodes([address]);
            }
            else if (seeds.Count == 0) cluster.Join(cluster.SelfAddress);
            await up.Task.WaitAsync(joinTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            await StopHostAsync(nodeHost, system).ConfigureAwait(false);
            if (e is OperationCanceledException) throw;
            throw new TimeoutException($"could not join the cluster through {string.Join(", ", seeds)} within {joinTimeout.TotalSeconds:F0} s: is a coordinator node running there, and reachable from this host?");
        }

        var proxy = ActorRegistry.For(system).Get<FitCoordinatorKey>();
        return new ClusterNode(system, roles, proxy, host: nodeHost) { LeaveTimeout = configuration.Settings.LeaveTimeout };
    }

    /// <summary>Stops a node that never came up: its ActorSystem goes without leaving (it never joined), then its host.</summary>
    private static async Task StopHostAsync(IHost host, ActorSystem system)
    {
        await system.Terminate().ConfigureAwait(false);
        await DisposeHostAsync(host).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops <paramref name="host"/> (bounded by <see cref="NodeHost.ShutdownTimeout"/>: what it serves besides Akka, such as
    /// Kestrel, stops with it) and disposes it.
    /// </summary>
    internal static async Task DisposeHostAsync(IHost host)
    {
        using (var stop = new CancellationTokenSource(NodeHost.ShutdownTimeout))
        {
            try { await host.StopAsync(stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { /* bounded: the caller terminated the system */ }
        }
        if (host is IAsyncDisposable async) await async.DisposeAsync().ConfigureAwait(false);
        else host.Dispose();
    }

    /// <summary>How long <see cref="DisposeAsync"/> waits for the node to leave the cluster (setting Node:LeaveTimeout).</summary>
    public TimeSpan LeaveTimeout { get; private init; } = NodeSettings.Default.LeaveTimeout;

    /// <summary>Leaves the cluster gracefully (so others do not wait for the failure detector), then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        if (IsClient)
        {
            try { await System.Terminate().WaitAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false); }
            finally { if (Host is not null) await DisposeHostAsync(Host).ConfigureAwait(false); }
            return;
        }
        try
        {
            // The host stops its Akka service, which runs the ActorSystem's coordinated shutdown: the node leaves the
            // cluster (cluster-leave and exiting phases), then terminates.
            await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance)
                .WaitAsync(LeaveTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await System.Terminate().ConfigureAwait(false);
        }
        if (Host is not null) await DisposeHostAsync(Host).ConfigureAwait(false);
    }

    private static async Task<bool> IsListeningAsync(string host, int port)
    {
        try
        {
            using var client = new TcpClient();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(host == "0.0.0.0" ? "127.0.0.1" : host, port, cts.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    private static T? Inner<T>(Exception e) where T : Exception
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is T t) return t;
            if (x is AggregateException a)
                foreach (var i in a.InnerExceptions)
                    if (Inner<T>(i) is { } found) return found;
        }
        return null;
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
