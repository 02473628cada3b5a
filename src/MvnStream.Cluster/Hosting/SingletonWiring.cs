using Akka.Actor;
using Akka.Cluster.Tools.Singleton;

namespace MvnStream.Cluster.Hosting;

/// <summary>
/// How a coordinator singleton is wired on a node, the same for the fit and the stream coordinator (docs/ARCHITECTURE.md,
/// "Components"): on a node with the coordinator role a singleton manager named <c>name</c> runs the coordinator (the oldest
/// such node hosts it; it moves when that node leaves), and every member has a proxy <c>name-proxy</c> that finds it. A
/// client, no cluster member, reaches it through the proxy on its seed node (<see cref="ProxyPath"/>, via
/// <see cref="ClusterNode.Relay"/>).
/// </summary>
public static class SingletonWiring
{
    /// <summary>The name of the proxy to the singleton <paramref name="name"/>.</summary>
    public static string ProxyName(string name) => name + "-proxy";

    /// <summary>The path of that proxy on every member (<c>/user/name-proxy</c>).</summary>
    public static string ProxyPath(string name) => "/user/" + ProxyName(name);

    /// <summary>
    /// Starts the singleton manager of <paramref name="coordinator"/> when <paramref name="roles"/> include the coordinator
    /// role, and the proxy to it always; returns the proxy.
    /// </summary>
    public static IActorRef Start(ActorSystem system, IReadOnlyCollection<string> roles, string name, Props coordinator)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(roles);
        if (roles.Contains(NodeConfiguration.CoordinatorRole))
        {
            system.ActorOf(ClusterSingletonManager.Props(coordinator, PoisonPill.Instance,
                ClusterSingletonManagerSettings.Create(system).WithRole(NodeConfiguration.CoordinatorRole)), name);
        }
        return system.ActorOf(ClusterSingletonProxy.Props("/user/" + name,
            ClusterSingletonProxySettings.Create(system).WithRole(NodeConfiguration.CoordinatorRole)), ProxyName(name));
    }
}
