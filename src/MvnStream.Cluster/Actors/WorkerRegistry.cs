using Akka.Actor;
using Akka.Cluster;

namespace MvnStream.Cluster.Actors;

/// <summary>
/// A coordinator's live workers, shared by the fit and the stream coordinator (docs/ARCHITECTURE.md, "Components"):
/// registered through <see cref="Protocol.RegisterWorker"/>, watched, and forgotten when they terminate or their node is
/// removed. A worker whose node is unreachable may be <see cref="Suspend"/>ed instead of removed: it stays watched
/// (Terminated still arrives if the node is downed) and <see cref="Resume"/> makes it live again when the node is
/// reachable once more, since such a worker does not register again by itself. Pure state: death watch goes through the
/// two callbacks it is given (an actor's <c>Context.Watch</c>/<c>Unwatch</c>), so it is tested without an ActorSystem.
/// Owned by one actor.
/// </summary>
public sealed class WorkerRegistry
{
    /// <summary>The cluster events a coordinator subscribes to for its workers: see <see cref="SubscribeToMembership"/>.</summary>
    public static readonly Type[] MembershipEvents =
        [typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.ReachableMember), typeof(ClusterEvent.MemberRemoved)];

    private readonly Dictionary<IActorRef, string> _workers = [];
    private readonly Dictionary<IActorRef, string> _suspended = [];
    private readonly Action<IActorRef> _watch;
    private readonly Action<IActorRef> _unwatch;

    /// <summary>A registry whose death watch is the owning actor's.</summary>
    public WorkerRegistry(IActorContext context)
        : this(w => context.Watch(w), w => context.Unwatch(w))
    {
    }

    /// <param name="watch">Called once when a worker is first registered (not when a suspended one comes back).</param>
    /// <param name="unwatch">Called once when a registered worker, live or suspended, is removed.</param>
    public WorkerRegistry(Action<IActorRef> watch, Action<IActorRef> unwatch)
    {
        _watch = watch;
        _unwatch = unwatch;
    }

    /// <summary>
    /// Subscribes <paramref name="self"/> to the <see cref="MembershipEvents"/>, current state as events: the coordinator
    /// answers UnreachableMember with <see cref="SuspendAt"/>, ReachableMember with <see cref="Resume"/> and
    /// MemberRemoved by removing <see cref="AllAt"/> the address.
    /// </summary>
    public static void SubscribeToMembership(Akka.Cluster.Cluster cluster, IActorRef self) =>
        cluster.Subscribe(self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, MembershipEvents);

    /// <summary>Live workers (not the suspended ones).</summary>
    public int Count => _workers.Count;

    public IEnumerable<IActorRef> Refs => _workers.Keys;

    public IEnumerable<string> Ids => _workers.Values;

    public string this[IActorRef worker] => _workers[worker];

    /// <summary>Suspended workers: registered, watched, their node unreachable.</summary>
    public IEnumerable<IActorRef> Suspended => _suspended.Keys;

    public IEnumerable<string> SuspendedIds => _suspended.Values;

    /// <summary>True when the worker is registered and not suspended.</summary>
    public bool IsLive(IActorRef worker) => _workers.ContainsKey(worker);

    /// <summary>Adds and watches the worker (a suspended one becomes live); false when it was already live.</summary>
    public bool Register(IActorRef worker, string id)
    {
        if (_workers.ContainsKey(worker)) return false;
        if (!_suspended.Remove(worker)) _watch(worker);
        _workers[worker] = id;
        return true;
    }

    /// <summary>Removes and unwatches the worker, live or suspended; returns its id, or null when it was not registered.</summary>
    public string? Remove(IActorRef worker)
    {
        if (!_workers.Remove(worker, out var id) && !_suspended.Remove(worker, out id)) return null;
        _unwatch(worker);
        return id;
    }

    /// <summary>Takes a live worker out of <see cref="Refs"/> but keeps it watched; returns its id, or null when it was not live.</summary>
    public string? Suspend(IActorRef worker)
    {
        if (!_workers.Remove(worker, out var id)) return null;
        _suspended[worker] = id;
        return id;
    }

    /// <summary>Suspends the live workers on the node at <paramref name="address"/> (it is unreachable); returns them with their ids.</summary>
    public IReadOnlyList<(IActorRef Worker, string Id)> SuspendAt(Address address)
    {
        var suspended = new List<(IActorRef, string)>();
        foreach (var w in At(address))
            if (Suspend(w) is { } id) suspended.Add((w, id));
        return suspended;
    }

    /// <summary>Makes the suspended workers on the node at <paramref name="address"/> live again; returns them.</summary>
    public IReadOnlyList<IActorRef> Resume(Address address)
    {
        var back = _suspended.Keys.Where(w => w.Path.Address.Equals(address)).ToList();
        foreach (var w in back)
        {
            _workers[w] = _suspended[w];
            _suspended.Remove(w);
        }
        return back;
    }

    /// <summary>The live workers on the node at <paramref name="address"/> (unreachable or removed).</summary>
    public IReadOnlyList<IActorRef> At(Address address) => _workers.Keys.Where(w => w.Path.Address.Equals(address)).ToList();

    /// <summary>The live and suspended workers on the node at <paramref name="address"/>.</summary>
    public IReadOnlyList<IActorRef> AllAt(Address address) =>
        _workers.Keys.Concat(_suspended.Keys).Where(w => w.Path.Address.Equals(address)).ToList();
}
