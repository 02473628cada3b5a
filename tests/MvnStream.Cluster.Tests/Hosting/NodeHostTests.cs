using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Cluster.Tests.Hosting;

/// <summary>
/// A node runs on the .NET generic host with its ActorSystem built by Akka.Hosting (docs/ARCHITECTURE.md, "Hosting"):
/// the host's services resolve the node's ActorSystem, the ActorRegistry holds the coordinator proxy and the worker the
/// builder started, the serializer is the one the builder registered, and disposing the node stops the host.
/// </summary>
public sealed class NodeHostTests
{
    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_node_is_built_by_Akka_Hosting_and_its_registry_holds_the_coordinator_and_the_worker()
    {
        var node = await ClusterNode.StartAsync(new NodeConfiguration
        {
            Roles = [NodeConfiguration.CoordinatorRole, NodeConfiguration.WorkerRole], Seeds = [], Port = 0,
            Environment = new Dictionary<string, string?>(),
        }, JoinTimeout);
        IHost host;
        try
        {
            Assert.NotNull(node.Host);
            host = node.Host!;
            Assert.Same(node.System, host.Services.GetRequiredService<ActorSystem>());
            var registry = host.Services.GetRequiredService<ActorRegistry>();
            Assert.Equal(node.FitCoordinator, registry.Get<FitCoordinatorKey>());
            Assert.Equal($"/user/{ClusterNode.FitCoordinatorName}-proxy", node.FitCoordinator.Path.ToStringWithoutAddress());
            Assert.Equal("/user/worker", registry.Get<WorkerKey>().Path.ToStringWithoutAddress());
            // The singleton manager the builder started on the coordinator node.
            var manager = await node.System.ActorSelection($"/user/{ClusterNode.FitCoordinatorName}").ResolveOne(TimeSpan.FromSeconds(10));
            Assert.NotNull(manager);
            var serializer = node.System.Serialization.FindSerializerForType(typeof(SubmitFitJob));
            Assert.IsType<MvnStreamSerializer>(serializer);
        }
        finally
        {
            await node.DisposeAsync();
        }
        // Disposing the node stopped its host: the ActorSystem is terminated and the host's services are gone.
        Assert.True(node.System.WhenTerminated.IsCompleted);
        Assert.Throws<ObjectDisposedException>(() => host.Services.GetRequiredService<ActorSystem>());
    }

    [Fact]
    public async Task A_worker_only_node_has_the_proxy_but_no_singleton_manager()
    {
        var coordinator = await ClusterNode.StartAsync(new NodeConfiguration
        {
            Roles = [NodeConfiguration.CoordinatorRole], Seeds = [], Port = 0, Environment = new Dictionary<string, string?>(),
        }, JoinTimeout);
        await using var coordinatorScope = coordinator;
        var worker = await ClusterNode.StartAsync(new NodeConfiguration
        {
            Roles = [NodeConfiguration.WorkerRole], Seeds = [coordinator.Address.ToString()], Port = 0, Environment = new Dictionary<string, string?>(),
        }, JoinTimeout);
        await using var workerScope = worker;
        var registry = worker.Host!.Services.GetRequiredService<ActorRegistry>();
        Assert.Equal(worker.FitCoordinator, registry.Get<FitCoordinatorKey>());
        Assert.True(registry.TryGet<WorkerKey>(out _));
        Assert.False(coordinator.Host!.Services.GetRequiredService<ActorRegistry>().TryGet<WorkerKey>(out _));
        await Assert.ThrowsAsync<ActorNotFoundException>(() =>
            worker.System.ActorSelection($"/user/{ClusterNode.FitCoordinatorName}").ResolveOne(TimeSpan.FromSeconds(3)));
    }
}
