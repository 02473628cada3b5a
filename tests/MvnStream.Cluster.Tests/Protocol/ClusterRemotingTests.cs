using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using ClusterExtension = Akka.Cluster.Cluster;
using ClusterEvent = Akka.Cluster.ClusterEvent;

namespace MvnStream.Cluster.Tests.Protocol;

/// <summary>
/// Three ActorSystems (coordinator, worker, client) on real TCP over 127.0.0.1, configured only from
/// NodeConfiguration's defaults and built by Akka.Hosting with the serializer registered through its builder (the HOCON
/// binds none): d = 512 messages go to a cluster singleton through its proxy and back, through MvnStreamSerializer.
/// </summary>
public sealed class ClusterRemotingTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly List<ActorSystem> systems = [];
    private readonly List<HostedSystem> hosts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Task.WhenAll(hosts.Select(h => h.StopAsync(Timeout)));
    }

    private ActorSystem StartNode(string role)
    {
        var config = new NodeConfiguration { Roles = [role], Seeds = [], Port = 0 }.Build(new Dictionary<string, string?>());
        var hosted = new HostedSystem(NodeConfiguration.SystemName, config);
        hosts.Add(hosted);
        systems.Add(hosted.System);
        return hosted.System;
    }

    [Fact]
    public async Task D512_statistics_and_a_full_gradient_cross_the_cluster_to_a_singleton_and_back_bit_identical()
    {
        var coordinator = StartNode(NodeConfiguration.CoordinatorRole);
        var worker = StartNode(NodeConfiguration.WorkerRole);
        var client = StartNode(NodeConfiguration.ClientRole);

        var allUp = systems.Select(s => MembersUp(s, systems.Count)).ToArray();
        var seed = ClusterExtension.Get(coordinator).SelfAddress;
        Assert.Equal("127.0.0.1", seed.Host);
        Assert.NotEqual(0, seed.Port);
        foreach (var s in systems) ClusterExtension.Get(s).Join(seed);
        await Task.WhenAll(allUp).WaitAsync(Timeout);

        coordinator.ActorOf(ClusterSingletonManager.Props(
                Props.Create(() => new Echo()),
                PoisonPill.Instance,
                ClusterSingletonManagerSettings.Create(coordinator).WithRole(NodeConfiguration.CoordinatorRole)),
            "echo");
        var workerProxy = worker.ActorOf(ClusterSingletonProxy.Props("/user/echo",
            ClusterSingletonProxySettings.Create(worker).WithRole(NodeConfiguration.CoordinatorRole)), "echo-proxy");
        var clientProxy = client.ActorOf(ClusterSingletonProxy.Props("/user/echo",
            ClusterSingletonProxySettings.Create(client).WithRole(NodeConfiguration.CoordinatorRole)), "echo-proxy");

        var statistics = MessageGenerators.LargeShardLoaded();
        var gradient = MessageGenerators.LargeFullGradient();
        Assert.Equal(512 * 513 / 2, statistics.Statistics!.ScatterLower.Length);
        Assert.Equal(512 * 512, gradient.GradLambdaPacked.Length);

        foreach (var (system, proxy) in new[] { (worker, workerProxy), (client, clientProxy) })
        {
            foreach (IMvnMessage message in new IMvnMessage[] { statistics, gradient, new FitJobNotice("j", "ünïcödé ✓") })
            {
                Assert.IsType<MvnStreamSerializer>(system.Serialization.FindSerializerFor(message));
                var reply = await proxy.Ask<object>(message, Timeout);
                // A different instance: it was serialized, sent over TCP twice and deserialized.
                Assert.NotSame(message, reply);
                Assert.IsType(message.GetType(), reply);
                WireEquality.AssertBitIdentical(message, reply);
            }
        }
        Assert.IsType<MvnStreamSerializer>(coordinator.Serialization.FindSerializerFor(gradient));
    }

    /// <summary>Completes when <paramref name="system"/> has seen <paramref name="expected"/> members Up.</summary>
    private static Task MembersUp(ActorSystem system, int expected)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        system.ActorOf(Props.Create(() => new UpCounter(expected, done)));
        return done.Task;
    }

    private sealed class UpCounter : ReceiveActor
    {
        public UpCounter(int expected, TaskCompletionSource done)
        {
            var up = new HashSet<Address>();
            Receive<ClusterEvent.MemberUp>(m =>
            {
                up.Add(m.Member.Address);
                if (up.Count >= expected)
                {
                    done.TrySetResult();
                    Context.Stop(Self);
                }
            });
            ReceiveAny(_ => { });
        }

        protected override void PreStart() =>
            ClusterExtension.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberUp));

        protected override void PostStop() => ClusterExtension.Get(Context.System).Unsubscribe(Self);
    }

    private sealed class Echo : ReceiveActor
    {
        public Echo() => ReceiveAny(m => Sender.Tell(m));
    }
}
