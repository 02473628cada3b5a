using MvnStream.Cluster.Actors;

namespace MvnStream.Cluster.Tests.Actors;

/// <summary>A worker's registration with the coordinator singleton as pure state: acknowledgements, moves and losses.</summary>
public sealed class CoordinatorLinkTests
{
    private readonly CoordinatorLink _link = new();
    private readonly Akka.Actor.IActorRef _first = FakeRefs.At(FakeRefs.Node(2551), "coordinator");
    private readonly Akka.Actor.IActorRef _second = FakeRefs.At(FakeRefs.Node(2552), "coordinator");

    [Fact]
    public void Unregistered_until_a_coordinator_acknowledges()
    {
        Assert.Null(_link.Coordinator);
        Assert.True(_link.Acknowledged(_first, out var previous));
        Assert.Null(previous);
        Assert.Same(_first, _link.Coordinator);
    }

    [Fact]
    public void A_repeated_acknowledgement_changes_nothing()
    {
        _link.Acknowledged(_first, out _);
        Assert.False(_link.Acknowledged(FakeRefs.At(FakeRefs.Node(2551), "coordinator"), out _));
        Assert.Equal(_first, _link.Coordinator);
    }

    [Fact]
    public void A_coordinator_that_moved_replaces_the_old_one_which_is_named_to_unwatch()
    {
        _link.Acknowledged(_first, out _);
        Assert.True(_link.Acknowledged(_second, out var previous));
        Assert.Same(_first, previous);
        Assert.Same(_second, _link.Coordinator);
        Assert.False(_link.Lost(_first)); // the replaced one's Terminated is not a loss
        Assert.Same(_second, _link.Coordinator);
    }

    [Fact]
    public void Losing_the_coordinator_forgets_it_so_the_worker_registers_again()
    {
        _link.Acknowledged(_first, out _);
        Assert.False(_link.Lost(FakeRefs.At(FakeRefs.Node(2551), "some-job-client")));
        Assert.True(_link.Lost(_first));
        Assert.Null(_link.Coordinator);
        Assert.False(_link.Lost(_first)); // a second Terminated for it changes nothing
        Assert.True(_link.Acknowledged(_second, out var previous));
        Assert.Null(previous);
    }

    [Fact]
    public void Nothing_is_lost_before_registering()
    {
        Assert.False(_link.Lost(_first));
    }
}

/// <summary>A job's client: the first coordinator that answers (not the proxy, not nobody) is kept until it is lost.</summary>
public sealed class CoordinatorSightingTests
{
    private readonly CoordinatorLink _link = new();
    private readonly Akka.Actor.IActorRef _proxy = FakeRefs.At(FakeRefs.Node(2560), "fit-coordinator-proxy");
    private readonly Akka.Actor.IActorRef _first = FakeRefs.At(FakeRefs.Node(2551), "coordinator");
    private readonly Akka.Actor.IActorRef _second = FakeRefs.At(FakeRefs.Node(2552), "coordinator");

    [Fact]
    public void The_proxy_and_nobody_are_no_coordinator()
    {
        Assert.False(_link.Sighted(_proxy, _proxy));
        Assert.False(_link.Sighted(Akka.Actor.ActorRefs.Nobody, _proxy));
        Assert.Null(_link.Coordinator);
    }

    [Fact]
    public void The_first_coordinator_heard_is_kept_until_lost()
    {
        Assert.True(_link.Sighted(_first, _proxy));
        Assert.False(_link.Sighted(_first, _proxy));
        Assert.False(_link.Sighted(_second, _proxy));
        Assert.Same(_first, _link.Coordinator);

        Assert.True(_link.Lost(_first));
        Assert.True(_link.Sighted(_second, _proxy));
        Assert.Same(_second, _link.Coordinator);
    }
}
