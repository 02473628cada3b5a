using Akka.Actor;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Cluster.Actors;

/// <summary>How a submitted job ended: exactly one of the two is set.</summary>
public sealed record FitJobOutcome(FitJobCompleted? Completed, FitJobFailed? Failed);

/// <summary>
/// The submitting side of a fit job: sends it to the coordinator singleton (through the proxy), relays
/// progress to a callback and completes a task with the outcome. Fails the job, instead of waiting forever,
/// when the coordinator does not answer in time or is lost during the job.
/// </summary>
public sealed class FitClientActor : ReceiveActor, IWithTimers
{
    /// <summary>Ask the coordinator to stop the job and return its best model so far.</summary>
    public sealed record Cancel
    {
        public static Cancel Instance { get; } = new();
    }

    private sealed record AnswerTimeout
    {
        public static AnswerTimeout Instance { get; } = new();
    }

    private readonly IActorRef _proxy;
    private readonly SubmitFitJob _job;
    private readonly Action<IMvnMessage> _onEvent;
    private readonly TaskCompletionSource<FitJobOutcome> _done;
    private readonly TimeSpan _answerTimeout;
    private readonly CoordinatorLink _coordinator = new();

    public FitClientActor(IActorRef proxy, SubmitFitJob job, Action<IMvnMessage> onEvent, TaskCompletionSource<FitJobOutcome> done, TimeSpan answerTimeout)
    {
        _proxy = proxy;
        _job = job;
        _onEvent = onEvent;
        _done = done;
        _answerTimeout = answerTimeout;

        Receive<FitJobCompleted>(m => Finish(new FitJobOutcome(m, null)));
        Receive<FitJobFailed>(m => Finish(new FitJobOutcome(null, m)));
        Receive<IMvnMessage>(m =>
        {
            Heard();
            _onEvent(m);
        });
        Receive<Cancel>(_ => _proxy.Tell(new CancelFitJob(_job.JobId)));
        Receive<AnswerTimeout>(_ => Finish(new FitJobOutcome(null, new FitJobFailed(_job.JobId, JobErrorKind.Failure,
            $"the coordinator did not answer within {_answerTimeout.TotalSeconds:F0} s: is a node with role 'coordinator' in the cluster?"))));
        Receive<Terminated>(t =>
        {
            if (_coordinator.Lost(t.ActorRef))
                Finish(new FitJobOutcome(null, new FitJobFailed(_job.JobId, JobErrorKind.Failure, "the coordinator was lost during the job; submit it again")));
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef proxy, SubmitFitJob job, Action<IMvnMessage> onEvent, TaskCompletionSource<FitJobOutcome> done, TimeSpan answerTimeout) =>
        Akka.Actor.Props.Create(() => new FitClientActor(proxy, job, onEvent, done, answerTimeout));

    protected override void PreStart()
    {
        _proxy.Tell(_job);
        Timers.StartSingleTimer("answer", AnswerTimeout.Instance, _answerTimeout);
    }

    private void Heard()
    {
        Timers.Cancel("answer");
        if (_coordinator.Sighted(Sender, _proxy)) Context.Watch(Sender);
    }

    private void Finish(FitJobOutcome outcome)
    {
        _done.TrySetResult(outcome);
        Context.Stop(Self);
    }
}
