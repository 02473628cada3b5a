using Akka.Actor;
using MvnStream.Cluster.Hosting;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// Adds streaming to a cluster node: the stream coordinator singleton on coordinator nodes, a stream
/// worker (Kafka consumer-group member) on worker nodes, and a proxy to the singleton everywhere.
/// </summary>
public sealed class StreamingNode
{
    public const string CoordinatorName = "stream-coordinator";

    private StreamingNode(ClusterNode node, IActorRef coordinator)
    {
        Node = node;
        Coordinator = coordinator;
    }

    public ClusterNode Node { get; }

    /// <summary>Proxy to the stream coordinator singleton.</summary>
    public IActorRef Coordinator { get; }

    /// <param name="options">How the coordinator singleton (on a coordinator node) runs its jobs; null: <see cref="StreamCoordinatorOptions.Default"/>.</param>
    public static StreamingNode Attach(ClusterNode node, StreamCoordinatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        var system = node.System;
        // A client is no cluster member: it reaches the singleton through the proxy on its seed node.
        if (node.IsClient) return new StreamingNode(node, node.Relay(SingletonWiring.ProxyPath(CoordinatorName), CoordinatorName + "-relay"));
        var proxy = SingletonWiring.Start(system, node.Roles, CoordinatorName, StreamCoordinatorActor.Props(options));
        if (node.Roles.Contains(NodeConfiguration.WorkerRole))
        {
            var self = node.Address;
            system.ActorOf(StreamWorkerActor.Props(proxy, $"{self.Host}:{self.Port}"), "stream-worker");
        }
        return new StreamingNode(node, proxy);
    }
}
