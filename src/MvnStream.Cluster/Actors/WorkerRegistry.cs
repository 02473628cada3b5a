using Akka.Actor;

namespace MvnStream.Cluster.Actors;

/// <summary>
/// A coordinator's live workers: registered through <see cref="Protocol.RegisterWorker"/>, watched, and
/// forgotten when they terminate or their node becomes unreachable or is removed. Owned by one actor.
/// </summary>
public sealed class WorkerRegistry(IActorContext context)
{
    private readonly Dictionary<IActorRef, string> _workers = [];

    public int Count => _workers.Count;

    public IEnumerable<IActorRef> Refs => _workers.Keys;

    public IEnumerable<string> Ids => _workers.Values;

    public string this[IActorRef worker] => _workers[worker];

    /// <summary>Adds and watches the worker; false when it was already registered.</summary>
    public bool Register(IActorRef worker, string id)
    {
        if (_workers.ContainsKey(worker)) return false;
        _workers[worker] = id;
        context.Watch(worker);
        return true;
    }

    /// <summary>Removes and unwatches the worker; returns its id, or null when it was not registered.</summary>
    public string? Remove(IActorRef worker)
    {
        if (!_workers.Remove(worker, out var id)) return null;
        context.Unwatch(worker);
        return id;
    }

    /// <summary>The workers living on the node at <paramref name="address"/> (unreachable or removed).</summary>
    public IReadOnlyList<IActorRef> At(Address address) => _workers.Keys.Where(w => w.Path.Address.Equals(address)).ToList();
}
