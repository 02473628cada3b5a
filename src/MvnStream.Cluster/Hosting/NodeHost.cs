using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MvnStream.Cluster.Actors;
using MvnStream.Cluster.Logging;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Cluster.Hosting;

/// <summary><see cref="ActorRegistry"/> key of the proxy to the fit coordinator singleton (every node has one).</summary>
public sealed class FitCoordinatorKey;

/// <summary><see cref="ActorRegistry"/> key of a worker node's worker actor.</summary>
public sealed class WorkerKey;

/// <summary>
/// Builds the one host a node runs on (docs/ARCHITECTURE.md, "Hosting"): a host builder with <see cref="NodeHost.ApplyDefaults"/>,
/// <paramref name="addNode"/> applied (the node's ActorSystem through Akka.Hosting), and whatever else the process serves from
/// the same host (the CLI adds Kestrel for <paramref name="roles"/>); <see cref="NodeHost.Build"/> is the plain one.
/// </summary>
public delegate IHost NodeHostFactory(bool ownsProcess, IReadOnlyList<string> roles, Action<IHostApplicationBuilder> addNode);

/// <summary>
/// The one way a cluster node is built (docs/ARCHITECTURE.md, "Hosting"): a .NET generic host (Microsoft.Extensions.Hosting)
/// whose ActorSystem Akka.Hosting's builder makes: remoting, clustering, the MvnStream serializer, the fit coordinator
/// singleton (role coordinator) or its proxy, and the worker actor (role worker). The node's HOCON
/// (<see cref="NodeConfiguration.Build"/>) stays underneath for Akka's low-level knobs (TLS, failure detector, downing).
/// </summary>
public static class NodeHost
{
    /// <summary>How long the host waits for its services (the node leaving the cluster) to stop.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Turns off DotNetty's buffer-leak detector, unless the environment asks for it (io.netty.leakDetection.level): it is a
    /// debugging aid of the transport under Akka.Remote that, at its default level, records the stack trace of one pooled
    /// buffer in 128, with file and line numbers read from the assemblies' symbol files, on every node's hot remoting path
    /// (docs/ARCHITECTURE.md, "Fitting a file": seen in a start-up profile of 'fit --workers 2'). Process-wide, like the
    /// detector itself.
    /// </summary>
    static NodeHost()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("io.netty.leakDetection.level")))
            DotNetty.Common.ResourceLeakDetector.Level = DotNetty.Common.ResourceLeakDetector.DetectionLevel.Disabled;
    }

    /// <summary>
    /// A host builder with the process's logging factory (<see cref="MvnLogging.Factory"/>) and no default providers or
    /// configuration sources (the CLI's typed settings are already read). <paramref name="ownsProcess"/>: the host's
    /// console lifetime (<c>ConsoleLifetime</c>) handles Ctrl-C and SIGTERM (a <c>node</c> process); else the host never reacts to
    /// signals (the embedded nodes of 'fit --workers' and tests, whose command handles them).
    /// </summary>
    public static HostApplicationBuilder CreateBuilder(bool ownsProcess)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, Args = [] });
        ApplyDefaults(builder, ownsProcess);
        return builder;
    }

    /// <summary>
    /// What <see cref="CreateBuilder"/> sets, on any host builder: the CLI's builder of a node host that also serves HTTP
    /// (an ASP.NET Core <c>WebApplicationBuilder</c>, docs/ARCHITECTURE.md, "Hosting") starts from the same defaults.
    /// </summary>
    public static void ApplyDefaults(IHostApplicationBuilder builder, bool ownsProcess)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(MvnLogging.Factory);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        if (ownsProcess) builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        else builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
    }

    /// <summary>The plain node host (<see cref="NodeHostFactory"/>): <see cref="CreateBuilder"/>, the node added, built.</summary>
    public static IHost Build(bool ownsProcess, IReadOnlyList<string> roles, Action<IHostApplicationBuilder> addNode)
    {
        ArgumentNullException.ThrowIfNull(addNode);
        var builder = CreateBuilder(ownsProcess);
        addNode(builder);
        return builder.Build();
    }

    /// <summary>
    /// Adds the node's ActorSystem to <paramref name="services"/> through Akka.Hosting: <paramref name="config"/> (the
    /// node's effective HOCON) as the fallback of everything the builder sets.
    /// </summary>
    public static void AddNode(IServiceCollection services, Config config, IReadOnlyList<string> roles, NodeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(config);
        services.AddAkka(NodeConfiguration.SystemName, (akka, _) =>
        {
            AddTransport(akka, config);
            akka.WithClustering(new ClusterOptions
            {
                Roles = roles.ToArray(),
                SeedNodes = config.GetStringList("akka.cluster.seed-nodes", []).ToArray(),
            });
            var singleton = new ClusterSingletonOptions { Role = NodeConfiguration.CoordinatorRole, TerminationMessage = PoisonPill.Instance };
            if (roles.Contains(NodeConfiguration.CoordinatorRole))
                akka.WithSingleton<FitCoordinatorKey>(ClusterNode.FitCoordinatorName,
                    FitCoordinatorActor.Props(settings.NoWorkerTimeout, settings.WorkerWait, settings.DataPlane), singleton, createProxyToo: true);
            else
                akka.WithSingletonProxy<FitCoordinatorKey>(ClusterNode.FitCoordinatorName, singleton);
            if (roles.Contains(NodeConfiguration.WorkerRole))
            {
                akka.WithActors((system, registry) =>
                {
                    var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
                    var worker = system.ActorOf(WorkerActor.Props(registry.Get<FitCoordinatorKey>(), $"{self.Host}:{self.Port}",
                        settings.WorkerThreads, settings.ReadChunkBytes, settings.DataPort), WorkerActor.Name);
                    registry.Register<WorkerKey>(worker);
                });
            }
        });
    }

    /// <summary>
    /// Adds a client's ActorSystem (plain remoting, no cluster membership: <see cref="ClusterNode.StartClientAsync"/>) to
    /// <paramref name="services"/> through Akka.Hosting: remoting and the serializer from the builder, over
    /// <paramref name="config"/>.
    /// </summary>
    public static void AddClient(IServiceCollection services, Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        services.AddAkka(NodeConfiguration.SystemName, (akka, _) =>
        {
            AddTransport(akka, config);
        });
    }

    /// <summary>What every node and client shares: <paramref name="config"/> under the builder, remoting at its address, the serializer.</summary>
    private static void AddTransport(AkkaConfigurationBuilder akka, Config config)
    {
        akka.AddHocon(config, HoconAddMode.Append);
        akka.WithRemoting(new RemoteOptions
        {
            HostName = config.GetString("akka.remote.dot-netty.tcp.hostname", "127.0.0.1"),
            Port = config.GetInt("akka.remote.dot-netty.tcp.port", 0),
            PublicHostName = config.GetString("akka.remote.dot-netty.tcp.public-hostname", null) is { Length: > 0 } pub ? pub : null,
        });
        AddSerializer(akka);
    }

    /// <summary>
    /// Registers <see cref="MvnStreamSerializer"/> for every <see cref="IMvnMessage"/>: the one place it is bound
    /// (docs/ARCHITECTURE.md, "Hosting"); the embedded HOCON has no serializer binding.
    /// </summary>
    public static AkkaConfigurationBuilder AddSerializer(AkkaConfigurationBuilder akka) =>
        akka.WithCustomSerializer("mvnstream", [typeof(IMvnMessage)], system => new MvnStreamSerializer(system));

    /// <summary>A lifetime that leaves signals to the command: the host stops when its owner stops it.</summary>
    private sealed class NoSignalLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
