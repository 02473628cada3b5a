using System.CommandLine;
using Akka.Configuration;
using MvnStream.Cli.Http;
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
        var role = new Option<string[]>("--role") { Description = "coordinator and/or worker (repeat, or comma-separate). Default: MVNSTREAM_ROLES or akka.cluster.roles of the config file.", HelpName = "coordinator|worker", AllowMultipleArgumentsPerToken = true };
        var seed = new Option<string[]>("--seed-node") { Description = "Seed node address(es) to join, e.g. akka.tcp://mvnstream@10.0.0.5:4053. A coordinator without seeds founds the cluster. Default: MVNSTREAM_SEEDS or the config file.", HelpName = "ADDRESS", AllowMultipleArgumentsPerToken = true };
        // --seed was this option's name; 'generate', 'produce' and 'demo' use --seed for the random seed.
        var seedDeprecated = CommonOptions.Deprecated<string[]>("--seed", "--seed-node");
        seedDeprecated.AllowMultipleArgumentsPerToken = true;
        var config = new Option<string?>("--config") { Description = "HOCON file of this process's cluster node: see config/coordinator.hocon, config/worker.hocon.", HelpName = "FILE" };
        var hostname = new Option<string?>("--hostname") { Description = "Address to bind (default 127.0.0.1, or MVNSTREAM_HOSTNAME).", HelpName = "HOST" };
        var publicHostname = new Option<string?>("--public-hostname") { Description = "Address other nodes use to reach this one (NAT, containers), or MVNSTREAM_PUBLIC_HOSTNAME.", HelpName = "HOST" };
        var port = new Option<int?>("--port") { Description = "TCP port (0 = any free port; default from config, or MVNSTREAM_PORT).", HelpName = "PORT" };
        var joinTimeout = Durations.Option("--join-timeout", "How long to wait for joining the cluster before failing.", "60s");
        var http = HttpEndpointSpec.Option();
        var cmd = new Command("node", "Run a cluster node (coordinator and/or worker) until Ctrl-C.")
        {
            role, seed, seedDeprecated, config, hostname, publicHostname, port, joinTimeout, http,
        };
        cmd.SetAction((pr, ct) => RunAsync(pr.GetValue(role), CommonOptions.Renamed(pr, seed, seedDeprecated, "node"), pr.GetValue(config), pr.GetValue(hostname),
            pr.GetValue(publicHostname), pr.GetValue(port), Durations.ParseSeconds(pr.GetValue(joinTimeout)!, "--join-timeout"), pr.GetValue(http), ct));
        return cmd;
    }

    private static async Task<int> RunAsync(string[]? roles, string[]? seeds, string? config, string? hostname, string? publicHostname,
        int? port, double joinTimeout, string? http, CancellationToken ct)
    {
        HttpEndpointSpec? httpSpec;
        bool coordinatorRole = roles is null || roles.Any(r => r.Contains(NodeConfiguration.CoordinatorRole, StringComparison.Ordinal));
        try { httpSpec = HttpEndpointSpec.Parse(http, coordinatorRole ? HttpEndpointSpec.CoordinatorDefault : HttpEndpointSpec.WorkerDefault); }
        catch (UsageException e) { Console.Error.WriteLine("mvnstream node: " + e.Message); return ExitCodes.Usage; }
        var roleList = roles is { Length: > 0 } ? roles.SelectMany(r => r.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList() : null;
        var seedList = seeds is { Length: > 0 } ? seeds.SelectMany(r => r.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList() : null;
        ClusterNode node;
        try
        {
            if (roleList is not null && roleList.Contains(NodeConfiguration.ClientRole))
                throw new ConfigurationException("role 'client' is taken by 'fit --cluster' itself; a node is a coordinator and/or a worker");
            node = await ClusterNode.StartAsync(new NodeConfiguration
            {
                ConfigFile = config,
                Roles = roleList,
                Seeds = seedList,
                Hostname = hostname,
                PublicHostname = publicHostname,
                Port = port,
            }, TimeSpan.FromSeconds(joinTimeout), ct);
        }
        catch (ConfigurationException e) { Console.Error.WriteLine("mvnstream node: " + e.Message); return ExitCodes.Usage; }
        catch (TimeoutException e) { Console.Error.WriteLine("mvnstream node: " + e.Message); return ExitCodes.Failure; }
        catch (OperationCanceledException) { return ExitCodes.Cancelled; }

        MvnStream.Kafka.Streaming.StreamingNode.Attach(node);
        MvnStream.Cluster.Logging.MvnLogging.Process = new(string.Join(",", node.Roles), node.Address.ToString());
        Console.Out.WriteLine($"node up at {node.Address} roles [{string.Join(",", node.Roles)}]");
        Console.Out.Flush();
        HttpServer? server = null;
        if (httpSpec is not null)
        {
            bool coordinator = node.Roles.Contains(NodeConfiguration.CoordinatorRole);
            // The default port belongs to the coordinator; a worker-only node (roles from the config) takes any free one.
            if (!coordinator && http is null) httpSpec = HttpEndpointSpec.Parse(null, HttpEndpointSpec.WorkerDefault)!;
            try { server = await HttpServer.StartAsync(httpSpec, coordinator ? HttpRole.NodeCoordinator : HttpRole.Worker, node.System, n => Console.Error.WriteLine("mvnstream node: note: " + n)); }
            catch (UsageException e)
            {
                Console.Error.WriteLine("mvnstream node: " + e.Message);
                await node.DisposeAsync();
                return ExitCodes.Usage;
            }
            Console.Out.WriteLine($"http at {server.Url}");
            Console.Out.Flush();
        }
        await using var httpScope = server;
        var down = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(node.System).RegisterOnMemberRemoved(() => down.TrySetResult());
        try
        {
            await Task.WhenAny(down.Task, Task.Delay(Timeout.Infinite, ct));
        }
        finally
        {
            Console.Error.WriteLine(down.Task.IsCompleted ? "mvnstream node: removed from the cluster; stopping" : "mvnstream node: leaving the cluster");
            await node.DisposeAsync();
        }
        return down.Task.IsCompleted && !ct.IsCancellationRequested ? ExitCodes.Failure : ExitCodes.Ok;
    }
}
