using Akka.Actor;

namespace MvnStream.Cluster.Actors;

/// <summary>
/// Which coordinator singleton incarnation a worker or a job's client is talking to, as pure state (docs/ARCHITECTURE.md,
/// "Components"), and whether a Terminated is the loss of it. <see cref="RegisteredWorkerActor"/> drives it for the
/// workers: it registers through the proxy until acknowledged (<see cref="Acknowledged"/>), watches the coordinator that
/// answered, and registers again when that one is gone (a crash, a restart, the singleton handed over to another node).
/// The fit and stream client actors use <see cref="Sighted"/>: the first coordinator that answers their job is watched
/// until it is <see cref="Lost"/>.
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
    /// A job's client heard from <paramref name="sender"/>: true when no coordinator was known and the sender is one (not
    /// the <paramref name="proxy"/> itself, not nobody); it is then <see cref="Coordinator"/>, to be watched. A client keeps
    /// the first coordinator it saw until that one is <see cref="Lost"/>.
    /// </summary>
    public bool Sighted(IActorRef sender, IActorRef proxy)
    {
        if (Coordinator is not null || sender.Equals(proxy) || sender.IsNobody()) return false;
        Coordinator = sender;
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
