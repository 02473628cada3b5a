using Akka.Actor;
using Akka.TestKit.Xunit2;
using MvnStream.Cluster.Actors;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Cluster.Tests.Actors;

/// <summary>
/// Registration driven by events (docs/ARCHITECTURE.md, "Fitting a file"): a fit coordinator tells the worker of every worker
/// node it sees join or come Up that it is there (<see cref="CoordinatorAvailable"/>), and a worker so told registers with
/// it directly, not through its proxy (which finds a singleton only at its next identification attempt). A one-node cluster
/// over loopback TCP, the coordinator actor started directly.
/// </summary>
public sealed class CoordinatorAnnouncementTests : TestKit
{
    private static readonly string Hocon = $$"""
        akka.loglevel = WARNING
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.cluster.roles = [{{NodeConfiguration.CoordinatorRole}}, {{NodeConfiguration.WorkerRole}}]
        akka.cluster.periodic-tasks-initial-delay = 100ms
        akka.cluster.leader-actions-interval = 200ms
        """;

    public CoordinatorAnnouncementTests()
        : base(Hocon)
    {
    }

    /// <summary>Stands at /user/worker for a test probe, keeping the sender.</summary>
    private sealed class Forwarder : ReceiveActor
    {
        public Forwarder(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }

    [Fact]
    public void A_worker_told_that_a_coordinator_is_there_registers_with_it_directly()
    {
        var proxy = CreateTestProbe("proxy");
        var coordinator = CreateTestProbe("coordinator");
        var worker = Sys.ActorOf(WorkerActor.Props(proxy.Ref, "w1", threads: 1), WorkerActor.Name);
        // Its first registration goes to the proxy, which holds it until it finds a coordinator (here: never).
        proxy.ExpectMsg<RegisterWorker>(r => r.WorkerId == "w1");

        worker.Tell(new CoordinatorAvailable("c1"), coordinator.Ref);

        var registration = coordinator.ExpectMsg<RegisterWorker>(TimeSpan.FromSeconds(10));
        Assert.Equal("w1", registration.WorkerId);
        Assert.Equal(1, registration.Threads);
    }

    [Fact]
    public void A_coordinator_tells_the_worker_of_a_worker_node_that_comes_up_and_registers_it()
    {
        var worker = CreateTestProbe("worker");
        Sys.ActorOf(Props.Create(() => new Forwarder(worker.Ref)), WorkerActor.Name);
        var coordinator = Sys.ActorOf(FitCoordinatorActor.Props(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30)), "coordinator");
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);

        // Joining, then Up: told at least once, by the coordinator itself.
        worker.ExpectMsg<CoordinatorAvailable>(TimeSpan.FromSeconds(20));
        Assert.Equal(coordinator, worker.LastSender);

        worker.Reply(new RegisterWorker("w1", 1));
        worker.FishForMessage(m => m is WorkerRegistered, TimeSpan.FromSeconds(10));
        Assert.Equal(coordinator, worker.LastSender);
    }
}
