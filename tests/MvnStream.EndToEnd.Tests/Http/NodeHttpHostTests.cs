using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MvnStream.Cli.Http;
using MvnStream.Cluster.Hosting;

namespace MvnStream.EndToEnd.Tests.Http;

/// <summary>
/// The HTTP endpoint is part of the node's one host (docs/ARCHITECTURE.md, "Hosting"): the host that holds the node's
/// ActorSystem also holds Kestrel, serves from the start of the node, and stopping that host stops both HTTP and the
/// ActorSystem (one lifetime, no second web host beside it).
/// </summary>
public sealed class NodeHttpHostTests
{
    [Fact]
    public async Task The_node_host_holds_Kestrel_and_stopping_it_stops_HTTP_and_the_actor_system()
    {
        var spec = HttpEndpointSpec.Parse("127.0.0.1:0", HttpEndpointSpec.CoordinatorDefault)!;
        var node = await ClusterNode.StartAsync(new NodeConfiguration
        {
            Roles = [NodeConfiguration.CoordinatorRole], Seeds = [], Port = 0, Environment = new Dictionary<string, string?>(),
            Settings = NodeSettings.Default with { LeaveTimeout = TimeSpan.FromSeconds(7) },
        }, TimeSpan.FromSeconds(60), seed: null, buildHost: HttpServer.Hosting(_ => (spec, HttpRole.NodeCoordinator), _ => { }));
        await using var scope = node;
        var host = node.Host!;
        Assert.Equal(TimeSpan.FromSeconds(7), node.LeaveTimeout); // the setting Node:LeaveTimeout
        // One container: the web server and the node's ActorSystem are services of the same host.
        Assert.NotNull(host.Services.GetService<IServer>());
        Assert.Same(node.System, host.Services.GetRequiredService<ActorSystem>());
        var url = HttpServer.Url(host);
        Assert.NotNull(url);
        var uri = new Uri(url!);
        Assert.Equal("127.0.0.1", uri.Host);
        Assert.NotEqual(0, uri.Port);

        var (status, body, response) = await HttpSupport.GetAsync(uri, "health/live");
        response.Dispose();
        Assert.True(status == HttpStatusCode.OK, $"/health/live: {(int)status} {body}");

        // The node's lifetime is the server's: stopping the host ends the ActorSystem and closes the port.
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60))) await host.StopAsync(stop.Token);
        Assert.True(node.System.WhenTerminated.IsCompleted, "the ActorSystem still runs after its host stopped");
        using var client = new TcpClient();
        var refused = await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(IPAddress.Loopback, uri.Port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }
}
