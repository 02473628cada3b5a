using Akka.Actor;

namespace MvnStream.Cluster.Actors;

/// <summary>
/// A worker's side of its registration with the coordinator singleton, as pure state (docs/ARCHITECTURE.md, "Cluster"):
/// which coordinator incarnation acknowledged it (<see cref="Protocol.WorkerRegistered"/>), and whether a Terminated
/// is the loss of that coordinator. <see cref="RegisteredWorkerActor"/> drives it: it registers through the proxy until
/// acknowledged, watches the coordinator that answered, and registers again when that one is gone (a crash, a restart,
/// the singleton handed over to another node).
/// </summary>
public sealed class CoordinatorLink
{
    /// <summary>The coordinator that acknowledged the registration; null while (again) registering.</summary>
    public IActorRef? Coordinator { get; private set; }

    /// <summary>
    /// A <see cref="Protocol.WorkerRegistered"/> from <paramref name="coordinator"/>. False when it is the coordinator
    /// already known (a repeated acknowledgement: nothing changes). True when it is a new one: it is now
    /// <see cref="Coordinator"/>, and <paramref name="previous"/> is the one it replaces (to unwatch), if any.
    /// </summary>
    public bool Acknowledged(IActorRef coordinator, out IActorRef? previous)
    {
        ArgumentNullException.ThrowIfNull(coordinator);
        previous = Coordinator;
        if (coordinator.Equals(Coordinator)) return false;
        Coordinator = coordinator;
        return true;
    }

    /// <summary>
    /// A Terminated for <paramref name="actor"/>: true when it is <see cref="Coordinator"/>, which is then forgotten
    /// (the worker registers again); false for any other actor, including a coordinator replaced earlier.
    /// </summary>
    public bool Lost(IActorRef actor)
    {
        if (Coordinator is null || !actor.Equals(Coordinator)) return false;
        Coordinator = null;
        return true;
    }
}
