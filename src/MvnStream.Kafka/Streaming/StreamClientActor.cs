using Akka.Actor;
using MvnStream.Cluster.Actors;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Kafka.Streaming;

/// <summary>How a stream job ended: exactly one of the two is set.</summary>
public sealed record StreamJobOutcome(StreamJobFinished? Finished, StreamJobFailed? Failed);

/// <summary>The stream client's timings (README "Configuration", section Stream; the client's own, not sent to the cluster).</summary>
/// <param name="AnswerTimeout">How long the client waits for a stream coordinator to answer the job (at start, and after one was lost).</param>
/// <param name="ResubmitDelay">After the coordinator was lost, how long before the job is first submitted again.</param>
/// <param name="ResubmitInterval">Then how often it is submitted again until a coordinator answers.</param>
/// <param name="StopWait">
/// How long a stop (Ctrl-C, SIGTERM) waits for the coordinator to finish the job before the client gives up: less than the
/// command line's process-termination timeout (30 s), so the command always ends with its own message and exit code.
/// </param>
public sealed record StreamClientOptions(TimeSpan AnswerTimeout, TimeSpan ResubmitDelay, TimeSpan ResubmitInterval, TimeSpan StopWait)
{
    /// <summary>The documented defaults (Stream:AnswerTimeout, Stream:ResubmitDelay, Stream:ResubmitInterval, Stream:ClientStopWait).</summary>
    public static StreamClientOptions Default { get; } = new(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(25));
}

/// <summary>
/// The owner of a stream job: submits it, relays status to a callback, asks for a clean stop (Ctrl-C),
/// and when the coordinator is lost (crash, restart, handover) submits the same job again, so the next
/// coordinator resumes it from the checkpoint.
/// </summary>
public sealed class StreamClientActor : ReceiveActor, IWithTimers
{
    public sealed record Stop
    {
        public static Stop Instance { get; } = new();
    }

    private sealed record Resubmit
    {
        public static Resubmit Instance { get; } = new();
    }

    private sealed record AnswerTimeout
    {
        public static AnswerTimeout Instance { get; } = new();
    }

    private sealed record StopTimeout
    {
        public static StopTimeout Instance { get; } = new();
    }

    private readonly IActorRef _proxy;
    private readonly StartStreamJob _job;
    private readonly Action<IMvnMessage> _onEvent;
    private readonly TaskCompletionSource<StreamJobOutcome> _done;
    private readonly StreamClientOptions _options;
    private readonly CoordinatorLink _coordinator = new();
    private bool _stopping;

    public StreamClientActor(IActorRef proxy, StartStreamJob job, Action<IMvnMessage> onEvent, TaskCompletionSource<StreamJobOutcome> done, StreamClientOptions options)
    {
        _proxy = proxy;
        _job = job;
        _onEvent = onEvent;
        _done = done;
        _options = options;

        Receive<StreamJobFinished>(m => Finish(new StreamJobOutcome(m, null)));
        Receive<StreamJobFailed>(m => Finish(new StreamJobOutcome(null, m)));
        Receive<IMvnMessage>(m =>
        {
            Heard();
            _onEvent(m);
        });
        Receive<Stop>(_ =>
        {
            if (_coordinator.Coordinator is null)
            {
                // No coordinator runs the job (none answered yet, or it was lost): nothing to stop cleanly, nothing to wait for.
                Finish(new StreamJobOutcome(null, new StreamJobFailed(_job.JobId, JobErrorKind.Cancelled,
                    "stopped while no stream coordinator was running the job; the last checkpoint holds what was merged")));
                return;
            }
            if (_stopping) return;
            _stopping = true;
            _proxy.Tell(new StopStreamJob(_job.JobId));
            Timers.StartSingleTimer("stop", StopTimeout.Instance, _options.StopWait);
        });
        Receive<StopTimeout>(_ => Finish(new StreamJobOutcome(null, new StreamJobFailed(_job.JobId, JobErrorKind.Cancelled,
            $"stopped: the stream coordinator did not finish the job within {_options.StopWait.TotalSeconds:F0} s; the last checkpoint holds what was merged"))));
        Receive<Resubmit>(_ =>
        {
            _proxy.Tell(_job);
            if (_stopping) _proxy.Tell(new StopStreamJob(_job.JobId));
        });
        Receive<AnswerTimeout>(_ => Finish(new StreamJobOutcome(null, new StreamJobFailed(_job.JobId, JobErrorKind.Failure,
            $"no stream coordinator answered within {_options.AnswerTimeout.TotalSeconds:F0} s: is a node with role 'coordinator' in the cluster?"))));
        Receive<Terminated>(t =>
        {
            if (!_coordinator.Lost(t.ActorRef)) return;
            _onEvent(new StreamJobNotice(_job.JobId, "the stream coordinator was lost; submitting the job again so the next one resumes from the checkpoint"));
            Timers.StartPeriodicTimer("resubmit", Resubmit.Instance, _options.ResubmitDelay, _options.ResubmitInterval);
            Timers.StartSingleTimer("answer", AnswerTimeout.Instance, _options.AnswerTimeout);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef proxy, StartStreamJob job, Action<IMvnMessage> onEvent, TaskCompletionSource<StreamJobOutcome> done, StreamClientOptions options) =>
        Akka.Actor.Props.Create(() => new StreamClientActor(proxy, job, onEvent, done, options));

    protected override void PreStart()
    {
        _proxy.Tell(_job);
        Timers.StartSingleTimer("answer", AnswerTimeout.Instance, _options.AnswerTimeout);
    }

    private void Heard()
    {
        Timers.Cancel("answer");
        Timers.Cancel("resubmit");
        if (_coordinator.Sighted(Sender, _proxy)) Context.Watch(Sender);
    }

    /// <summary>Stopped without an outcome (its node shut down): the command must not wait for ever.</summary>
    protected override void PostStop() => _done.TrySetResult(new StreamJobOutcome(null, new StreamJobFailed(_job.JobId, JobErrorKind.Failure,
        "the stream client stopped before the job ended (its node shut down)")));

    private void Finish(StreamJobOutcome outcome)
    {
        _done.TrySetResult(outcome);
        Context.Stop(Self);
    }
}
