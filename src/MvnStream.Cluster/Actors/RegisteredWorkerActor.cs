using Akka.Actor;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Cluster.Actors;

/// <summary>
/// The registration behaviour the fit <see cref="WorkerActor"/> and the stream worker share (docs/ARCHITECTURE.md,
/// "Components"): from its start, and again whenever the coordinator it registered with is gone, it sends
/// <see cref="RegisterWorker"/> to the coordinator singleton's proxy (which holds it until it has found the singleton), and
/// again every <see cref="RetryInterval"/> until a <see cref="WorkerRegistered"/> arrives; it watches the coordinator that
/// answered (<see cref="CoordinatorLink"/> holds which one). A coordinator that announces itself
/// (<see cref="CoordinatorAvailable"/>: it has just started, or has seen this node join) is registered with at once, directly:
/// registration is driven by those events, the proxy and the retry are the fallback (docs/ARCHITECTURE.md, "Fitting a file"). A subclass reacts
/// in <see cref="OnCoordinatorRegistered"/> and <see cref="OnCoordinatorLost"/>, and must not handle
/// <see cref="WorkerRegistered"/> or <see cref="Terminated"/> itself.
/// </summary>
public abstract class RegisteredWorkerActor : ReceiveActor, IWithTimers
{
    private const string RegisterTimer = "register-with-coordinator";

    /// <summary>How often registering through the proxy is repeated until a coordinator acknowledges it.</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    private sealed record RegisterTick
    {
        public static RegisterTick Instance { get; } = new();
    }

    private readonly CoordinatorLink _link = new();

    /// <param name="coordinatorProxy">The proxy to the coordinator singleton.</param>
    /// <param name="registration">What the worker registers with (its id, its threads).</param>
    protected RegisteredWorkerActor(IActorRef coordinatorProxy, RegisterWorker registration)
    {
        ArgumentNullException.ThrowIfNull(coordinatorProxy);
        ArgumentNullException.ThrowIfNull(registration);
        Receive<RegisterTick>(_ => coordinatorProxy.Tell(registration));
        Receive<CoordinatorAvailable>(_ =>
        {
            if (!Sender.Equals(_link.Coordinator)) Sender.Tell(registration);
        });
        Receive<WorkerRegistered>(_ =>
        {
            if (!_link.Acknowledged(Sender, out var previous)) return;
            if (previous is not null) Context.Unwatch(previous);
            Context.Watch(Sender);
            Timers.Cancel(RegisterTimer);
            OnCoordinatorRegistered(Sender);
        });
        Receive<Terminated>(t =>
        {
            if (!_link.Lost(t.ActorRef)) return;
            OnCoordinatorLost(t.ActorRef);
            StartRegistering();
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The coordinator this worker is registered with; null while registering.</summary>
    protected IActorRef? Coordinator => _link.Coordinator;

    /// <summary>A (new) coordinator acknowledged the registration and is watched.</summary>
    protected virtual void OnCoordinatorRegistered(IActorRef coordinator)
    {
    }

    /// <summary>The coordinator registered with is gone; registering again starts right after this returns.</summary>
    protected virtual void OnCoordinatorLost(IActorRef coordinator)
    {
    }

    /// <summary>Starts registering; a subclass that overrides this calls the base.</summary>
    protected override void PreStart() => StartRegistering();

    private void StartRegistering() =>
        Timers.StartPeriodicTimer(RegisterTimer, RegisterTick.Instance, TimeSpan.Zero, RetryInterval);
}
