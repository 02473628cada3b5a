using Akka.Configuration;
using MvnStream.Cluster.Hosting;

namespace MvnStream.Cli;

/// <summary>
/// The cluster a command's job runs on: an embedded local cluster (--workers N: a coordinator and N worker
/// ActorSystems over TCP on loopback) or a running cluster reached from a client (--cluster SEED): plain remoting
/// through the seed node, never a cluster member, so the client takes no part in membership or downing decisions.
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

    /// <summary>The embedded worker nodes (empty for --cluster), once they are Up (<see cref="WorkersUp"/>).</summary>
    public IReadOnlyList<ClusterNode> EmbeddedWorkers => _embedded?.Workers ?? [];

    /// <summary>
    /// Completes when every embedded worker is Up (at once for --cluster, or when the session waited for them); faults with a
    /// <see cref="TimeoutException"/> when one could not join (see <see cref="StartAsync"/>, <c>joinInBackground</c>).
    /// </summary>
    public Task WorkersUp => _embedded?.WorkersUp ?? Task.CompletedTask;

    private MvnStream.Kafka.Streaming.StreamingNode? _streaming;

    /// <summary>
    /// Streaming on the session's nodes, attached on the first call: from then on the embedded workers register with the
    /// stream coordinator, so they all start consuming together when the job starts (one consumer-group join round).
    /// </summary>
    public MvnStream.Kafka.Streaming.StreamingNode Streaming()
    {
        if (_streaming is not null) return _streaming;
        foreach (var w in EmbeddedWorkers) MvnStream.Kafka.Streaming.StreamingNode.Attach(w);
        return _streaming = MvnStream.Kafka.Streaming.StreamingNode.Attach(Node);
    }

    /// <param name="quietAkka">
    /// Run the client node (or the embedded nodes) at the setting Node:ClientLogLevel (ERROR by default), or at INFO when
    /// <paramref name="verbose"/>: the command's own lines and notes say what happens (a worker lost, a shard reassigned,
    /// the job's failure), so Akka's membership and remoting warnings would only repeat them. False: the nodes' akka.loglevel.
    /// </param>
    /// <param name="coordinatorHost">Builds the embedded coordinator's host (with the HTTP endpoint: <see cref="Http.HttpServer.Hosting"/>).</param>
    /// <param name="joinInBackground">
    /// Embedded: return once the coordinator is Up, the workers still joining (<see cref="EmbeddedCluster.StartJoiningAsync"/>):
    /// a fit job waits for its workers' registrations, which come before their nodes are Up
    /// (docs/ARCHITECTURE.md, "Fitting a file"); the caller watches <see cref="WorkersUp"/> for a worker that cannot join.
    /// </param>
    /// <exception cref="UsageException">A bad seed address, an unusable --workers count or configuration.</exception>
    /// <exception cref="TimeoutException">The cluster could not be joined in time.</exception>
    public static async Task<ClusterSession> StartAsync(int workers, string? seed, string? configFile, ConsoleProgress progress, CancellationToken ct,
        bool quietAkka = false, bool verbose = false, Configuration.AppSettings? settings = null, NodeHostFactory? coordinatorHost = null,
        bool joinInBackground = false)
    {
        settings ??= Configuration.AppSettings.Defaults();
        try
        {
            if (seed is not null)
            {
                try { NodeConfiguration.ValidateSeed(seed); }
                catch (ConfigurationException e) { throw new UsageException("--cluster: " + e.Message); }
                // The client's own address (a container binds 0.0.0.0 and advertises its public hostname) comes from section Node.
                var configuration = new NodeConfiguration
                {
                    ConfigFile = configFile, Roles = [NodeConfiguration.ClientRole], Seeds = [seed], Port = 0,
                    Hostname = settings.Node.Hostname, PublicHostname = settings.Node.PublicHostname,
                };
                configuration.Build(); // a bad HOCON file fails here, before any connection
                var timeout = Configuration.AppSettings.Time(settings.Node.ConnectTimeout);
                if (quietAkka) configuration = configuration with { ExtraHocon = LogLevel(settings, verbose) };
                progress.Line($"connecting to the cluster at {seed} ...");
                var client = await ClusterNode.StartClientAsync(configuration, seed, timeout, ct);
                MvnStream.Cluster.Logging.MvnLogging.Process = new(NodeConfiguration.ClientRole, client.Address.ToString());
                return new ClusterSession(client, null);
            }
            if (workers <= 0) throw new UsageException($"--workers {workers}: must be positive");
            progress.Line($"starting a local cluster: 1 coordinator + {workers} worker nodes on 127.0.0.1 ...");
            var nodeSettings = settings.NodeSettings() is { } own && own.WorkerThreads == 0
                ? own with { WorkerThreads = EmbeddedCluster.DefaultThreadsPerWorker(workers) } : settings.NodeSettings();
            string? hocon = quietAkka ? LogLevel(settings, verbose) : null;
            if (joinInBackground)
            {
                var joining = await EmbeddedCluster.StartJoiningAsync(workers, hocon, ct, nodeSettings, coordinatorHost);
                progress.Line($"coordinator up at {joining.Coordinator.Address}; {workers} worker node{(workers == 1 ? "" : "s")} joining");
                return new ClusterSession(joining.Coordinator, joining);
            }
            var embedded = await EmbeddedCluster.StartAsync(workers, hocon, ct, nodeSettings, coordinatorHost);
            progress.Line($"cluster up: coordinator {embedded.Coordinator.Address}, workers on ports {string.Join(", ", embedded.Workers.Select(w => w.Address.Port))}");
            return new ClusterSession(embedded.Coordinator, embedded);
        }
        catch (ConfigurationException e)
        {
            throw new UsageException(e.Message);
        }
    }

    private static string LogLevel(Configuration.AppSettings settings, bool verbose)
    {
        var level = verbose ? "INFO" : settings.Node.ClientLogLevel.ToUpperInvariant();
        return $"akka.loglevel = {level}";
    }

    public async ValueTask DisposeAsync()
    {
        if (_embedded is not null) await _embedded.DisposeAsync();
        else await Node.DisposeAsync();
    }
}
