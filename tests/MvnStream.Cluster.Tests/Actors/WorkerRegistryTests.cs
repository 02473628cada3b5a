using Akka.Actor;
using MvnStream.Cluster.Actors;

namespace MvnStream.Cluster.Tests.Actors;

/// <summary>The coordinators' shared worker bookkeeping as pure state: registration, suspension, removal, and its death watch.</summary>
public sealed class WorkerRegistryTests
{
    private readonly List<string> _watch = [];
    private readonly WorkerRegistry _registry;
    private readonly Address _nodeA = FakeRefs.Node(2551), _nodeB = FakeRefs.Node(2552);
    private readonly IActorRef _a, _b;

    public WorkerRegistryTests()
    {
        _registry = new WorkerRegistry(w => _watch.Add("watch " + w.Path.Name), w => _watch.Add("unwatch " + w.Path.Name));
        _a = FakeRefs.At(_nodeA, "a");
        _b = FakeRefs.At(_nodeB, "b");
    }

    [Fact]
    public void A_worker_is_watched_once_however_often_it_registers()
    {
        Assert.True(_registry.Register(_a, "A"));
        Assert.False(_registry.Register(_a, "A"));
        Assert.True(_registry.IsLive(_a));
        Assert.Equal(1, _registry.Count);
        Assert.Equal("A", _registry[_a]);
        Assert.Equal(["watch a"], _watch);
    }

    [Fact]
    public void An_unreachable_node_suspends_only_its_workers_which_stay_watched()
    {
        _registry.Register(_a, "A");
        _registry.Register(_b, "B");

        var suspended = _registry.SuspendAt(_nodeA);

        Assert.Equal([(_a, "A")], suspended);
        Assert.False(_registry.IsLive(_a));
        Assert.Equal([_b], _registry.Refs);
        Assert.Equal([_a], _registry.Suspended);
        Assert.Equal(["A"], _registry.SuspendedIds);
        Assert.Empty(_registry.SuspendAt(_nodeA)); // already suspended: nothing more to do
        Assert.Equal(["watch a", "watch b"], _watch);
    }

    [Fact]
    public void A_reachable_node_makes_its_suspended_workers_live_again()
    {
        _registry.Register(_a, "A");
        _registry.Register(_b, "B");
        _registry.SuspendAt(_nodeA);
        _registry.SuspendAt(_nodeB);

        Assert.Equal([_a], _registry.Resume(_nodeA));

        Assert.True(_registry.IsLive(_a));
        Assert.False(_registry.IsLive(_b));
        Assert.Equal("A", _registry[_a]);
        Assert.Empty(_registry.Resume(_nodeA));
    }

    [Fact]
    public void A_suspended_worker_that_registers_again_is_live_without_a_second_watch()
    {
        _registry.Register(_a, "A");
        _registry.SuspendAt(_nodeA);

        Assert.True(_registry.Register(_a, "A"));

        Assert.True(_registry.IsLive(_a));
        Assert.Empty(_registry.Suspended);
        Assert.Equal(["watch a"], _watch);
    }

    [Fact]
    public void Removing_forgets_live_and_suspended_workers_and_unwatches_them_once()
    {
        _registry.Register(_a, "A");
        _registry.Register(_b, "B");
        _registry.SuspendAt(_nodeB);

        Assert.Equal("A", _registry.Remove(_a));
        Assert.Equal("B", _registry.Remove(_b));
        Assert.Null(_registry.Remove(_b));

        Assert.Equal(0, _registry.Count);
        Assert.Empty(_registry.Suspended);
        Assert.Equal(["watch a", "watch b", "unwatch a", "unwatch b"], _watch);
    }

    [Fact]
    public void A_removed_node_names_its_live_and_suspended_workers()
    {
        var a2 = FakeRefs.At(_nodeA, "a2");
        _registry.Register(_a, "A");
        _registry.Register(a2, "A2");
        _registry.Register(_b, "B");
        _registry.Suspend(_a);

        Assert.Equal([a2], _registry.At(_nodeA));
        Assert.Equal(new HashSet<IActorRef> { _a, a2 }, _registry.AllAt(_nodeA).ToHashSet());
        Assert.Empty(_registry.AllAt(FakeRefs.Node(2553)));
    }

    [Fact]
    public void Suspending_a_worker_that_is_not_live_does_nothing()
    {
        Assert.Null(_registry.Suspend(_a));
        _registry.Register(_a, "A");
        _registry.Suspend(_a);
        Assert.Null(_registry.Suspend(_a));
        Assert.Equal(["A"], _registry.SuspendedIds);
    }
}
