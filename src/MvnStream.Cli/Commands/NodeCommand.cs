using System.CommandLine;
using Akka.Configuration;
using MvnStream.Cli.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MvnStream.Cluster.Hosting;

namespace MvnStream.Cli.Commands;

/// <summary>
/// <c>mvnstream node</c>: one long-running cluster node (coordinator and/or worker). Prints
/// "node up at ADDRESS roles [...]" as its first stdout line, runs until Ctrl-C / SIGTERM, then leaves
/// the cluster gracefully.
/// </summary>
internal static class NodeCommand
{
    public static Command Create()
    {
        var role = new Option<string[]>("--role") { Description = "coordinator and/or worker (repeat, or comma-separate). Default: akka.cluster.roles of the HOCON file.", HelpName = "coordinator|worker", AllowMultipleArgumentsPerToken = true };
        var seed = new Option<string[]>("--seed-node") { Description = "Seed node address(es) to join, e.g. akka.tcp://mvnstream@10.0.0.5:4053. A coordinator without seeds founds the cluster.", HelpName = "ADDRESS", AllowMultipleArgumentsPerToken = true };
        // --seed was this option's name; 'generate', 'produce' and 'demo' use --seed for the random seed.
        var seedDeprecated = CommonOptions.Deprecated<string[]>("--seed", "--seed-node");
        seedDeprecated.AllowMultipleArgumentsPerToken = true;
        var config = new Option<string?>("--config") { Description = "HOCON file of Akka's low-level knobs for this process's cluster node: this node (TLS, failure detector); see config/tls.example.hocon.", HelpName = "FILE" };
        var hostname = new Option<string?>("--hostname") { Description = "Address to bind (default 127.0.0.1).", HelpName = "HOST" };
        var publicHostname = new Option<string?>("--public-hostname") { Description = "Address other nodes use to reach this one (NAT, containers).", HelpName = "HOST" };
        var port = new Option<int?>("--port") { Description = "TCP port (0 = any free port; default from the HOCON file, else 0).", HelpName = "PORT" };
        var joinTimeout = Durations.Option("--join-timeout", "How long to wait for joining the cluster before failing.", "60s");
        var http = HttpEndpointSpec.Option();
        var cmd = new Command("node", "Run a cluster node (coordinator and/or worker) until Ctrl-C.")
        {
            role, seed, seedDeprecated, config, hostname, publicHostname, port, joinTimeout, http,
        };
        // Hostname, port, seeds, roles, the HOCON file, the join timeout and --http are settings (section Node, Http; README
        // "Configuration"): the flags given override MVNSTREAM__Node__* variables and the settings files.
        cmd.SetAction((pr, ct) => Configuration.AppSettings.Run(pr, "node", s => RunAsync(s, ct),
            pr.GetResult(seedDeprecated) is { Implicit: false } && pr.GetResult(seed) is not { Implicit: false }
                ? new Dictionary<string, (string, string)> { ["Node:Seeds"] = (string.Join(",", CommonOptions.Renamed(pr, seed, seedDeprecated, "node") ?? []), "--seed") }
                : null));
        return cmd;
    }

    private static async Task<int> RunAsync(Configuration.AppSettings settings, CancellationToken ct)
    {
        var o = settings.Node;
        static List<string>? List(string? text) => string.IsNullOrWhiteSpace(text) ? null
            : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        var roleList = List(o.Roles);
        var seedList = List(o.Seeds);
        double joinTimeout = Configuration.AppSettings.Seconds(o.JoinTimeout);
        HttpEndpointSpec? httpSpec;
        bool coordinatorRole = roleList is null || roleList.Contains(NodeConfiguration.CoordinatorRole);
        try { httpSpec = HttpEndpointSpec.Parse(settings.HttpGiven(coordinatorRole), coordinatorRole ? HttpEndpointSpec.CoordinatorDefault : HttpEndpointSpec.WorkerDefault); }
        catch (UsageException e) { Console.Error.WriteLine("mvnstream node: " + e.Message); return ExitCodes.Usage; }
        // The HTTP endpoint is part of the node's own host (docs/ARCHITECTURE.md, "Hosting"): Kestrel starts and stops with the
        // node, through one lifetime. Which endpoint depends on the node's roles, known once its configuration is read.
        var hosting = HttpServer.Hosting(roles =>
        {
            if (httpSpec is null) return null;
            bool coordinator = roles.Contains(NodeConfiguration.CoordinatorRole);
            var spec = httpSpec;
            // The default port belongs to the coordinator; a worker-only node (roles from the config) takes any free one.
            if (!coordinator && coordinatorRole)
            {
                var worker = HttpEndpointSpec.Parse(settings.HttpGiven(false), HttpEndpointSpec.WorkerDefault);
                if (worker is null) return null;
                if (settings.HttpGiven(true) is null) spec = worker;
            }
            return (spec, coordinator ? HttpRole.NodeCoordinator : HttpRole.Worker);
        }, n => Console.Error.WriteLine("mvnstream node: note: " + n));
        ClusterNode node;
        try
        {
            if (roleList is not null && roleList.Contains(NodeConfiguration.ClientRole))
                throw new ConfigurationException("role 'client' is taken by 'fit --cluster' itself; a node is a coordinator and/or a worker");
            node = await ClusterNode.StartAsync(new NodeConfiguration
            {
                ConfigFile = o.Hocon,
                Roles = roleList,
                Seeds = seedList,
                Hostname = o.Hostname,
                PublicHostname = o.PublicHostname,
                Port = o.Port,
                Settings = settings.NodeSettings(),
            }, TimeSpan.FromSeconds(joinTimeout), seed: null, ct, ownsProcess: true, buildHost: hosting);
        }
        catch (Exception e) when (e is ConfigurationException or UsageException) { Console.Error.WriteLine("mvnstream node: " + e.Message); return ExitCodes.Usage; }
        catch (TimeoutException e) { Console.Error.WriteLine("mvnstream node: " + e.Message); return ExitCodes.Failure; }
        catch (OperationCanceledException) { return ExitCodes.Cancelled; }

        MvnStream.Kafka.Streaming.StreamingNode.Attach(node);
        MvnStream.Cluster.Logging.MvnLogging.Process = new(string.Join(",", node.Roles), node.Address.ToString());
        Console.Out.WriteLine($"node up at {node.Address} roles [{string.Join(",", node.Roles)}]");
        if (HttpServer.Url(node.Host) is { } url) Console.Out.WriteLine($"http at {url}");
        Console.Out.Flush();
        // Ctrl-C and SIGTERM reach the node through its host's console lifetime (docs/ARCHITECTURE.md, "Hosting"): it
        // stops the application, and the node leaves the cluster. Removal by the cluster (downed) ends it with a failure.
        var down = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(node.System).RegisterOnMemberRemoved(() => down.TrySetResult());
        var stopRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStop = node.Host!.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => stopRequested.TrySetResult());
        bool removed;
        try
        {
            removed = await Task.WhenAny(down.Task, stopRequested.Task, Task.Delay(Timeout.Infinite, ct)) == down.Task;
        }
        finally
        {
            Console.Error.WriteLine(down.Task.IsCompleted ? "mvnstream node: removed from the cluster; stopping" : "mvnstream node: leaving the cluster");
            await node.DisposeAsync();
        }
        return removed ? ExitCodes.Failure : ExitCodes.Ok;
    }
}
