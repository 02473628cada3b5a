using Akka.Actor;
using Akka.Cluster;
using Akka.Remote;
using Akka.Remote.Transport;
using MvnStream.Cluster.Hosting;
using Xunit;
using Xunit.Abstractions;

namespace MvnStream.Tests.Shared;

/// <summary>
/// Cuts one worker's link to the coordinator of an <see cref="EmbeddedCluster"/> for a while and restores it, with
/// Akka.Remote's own throttler transport (as Akka's multi-node tests do) over real TCP. The cluster must be started with
/// <see cref="Hocon"/> (the throttler adapter, and a stable-after long enough that the blip is never downed).
/// Compiled into the Cluster and Kafka test projects (linked source, tests/Shared).
/// </summary>
internal sealed class LinkBlip
{
    public const string Hocon = """
        akka.remote.dot-netty.tcp.applied-adapters = [trttl]
        akka.cluster.split-brain-resolver.stable-after = 60s
        """;

    private readonly EmbeddedCluster _cluster;
    private readonly ITestOutputHelper _output;
    private readonly TaskCompletionSource _unreachable = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _reachable = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly RemoteTransport _transport;

    /// <summary>Starts watching the coordinator node's view of <paramref name="victim"/> (a worker of the cluster).</summary>
    public LinkBlip(EmbeddedCluster cluster, ClusterNode victim, ITestOutputHelper output)
    {
        _cluster = cluster;
        _output = output;
        Victim = victim;
        var address = victim.Address;
        TaskCompletionSource unreachable = _unreachable, reachable = _reachable;
        cluster.Coordinator.System.ActorOf(Props.Create(() => new ReachabilityWatcher(address, unreachable, reachable)), "reachability-watcher");
        _transport = ((IRemoteActorRefProvider)((ExtendedActorSystem)cluster.Coordinator.System).Provider).Transport;
    }

    public ClusterNode Victim { get; }

    public string VictimId => $"{Victim.Address.Host}:{Victim.Address.Port}";

    /// <summary>Blackholes the link both ways; returns once the coordinator's node sees the worker unreachable.</summary>
    public async Task CutAsync()
    {
        Assert.True(await _transport.ManagementCommand(new SetThrottle(Victim.Address, ThrottleTransportAdapter.Direction.Both, Blackhole.Instance)),
            "the throttler did not take the blackhole command");
        await _unreachable.Task.WaitAsync(TimeSpan.FromSeconds(30));
        _output.WriteLine($"worker {VictimId} unreachable from the coordinator");
    }

    /// <summary>Restores the link; returns once the coordinator's node sees the worker reachable again (still a member: never downed).</summary>
    public async Task RestoreAsync()
    {
        Assert.True(await _transport.ManagementCommand(new SetThrottle(Victim.Address, ThrottleTransportAdapter.Direction.Both, Unthrottled.Instance)),
            "the throttler did not take the unthrottle command");
        await _reachable.Task.WaitAsync(TimeSpan.FromSeconds(30));
        _output.WriteLine($"worker {VictimId} reachable again");
        int members = 1 + _cluster.Workers.Count;
        Assert.Equal(members, Akka.Cluster.Cluster.Get(_cluster.Coordinator.System).State.Members.Count(m => m.Status == MemberStatus.Up));
    }

    /// <summary>Completes when the coordinator node's own view reports the member at the address (un)reachable.</summary>
    private sealed class ReachabilityWatcher : ReceiveActor
    {
        public ReachabilityWatcher(Address address, TaskCompletionSource unreachable, TaskCompletionSource reachable)
        {
            Receive<ClusterEvent.UnreachableMember>(e => { if (e.Member.Address.Equals(address)) unreachable.TrySetResult(); });
            Receive<ClusterEvent.ReachableMember>(e => { if (e.Member.Address.Equals(address)) reachable.TrySetResult(); });
            Receive<ClusterEvent.CurrentClusterState>(_ => { });
        }

        protected override void PreStart() =>
            Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
                typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.ReachableMember));
    }
}
