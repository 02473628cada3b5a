using Akka.Actor;
using Akka.Event;
using MvnStream.Cluster.Actors;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// A stream worker: registers with the stream coordinator singleton and, for the running job, runs a
/// <see cref="KafkaIntake"/> (one consumer-group member) whose reports it routes to the coordinator and
/// whose commands (ledger positions, acknowledgements, model updates, offset commits, drain) it routes back.
/// When the coordinator it registered with is gone, it closes the intake and registers again
/// (<see cref="RegisteredWorkerActor"/>): the next coordinator restarts the job from its checkpoint and the intake
/// resumes at the ledger's offsets.
/// </summary>
public sealed class StreamWorkerActor : RegisteredWorkerActor
{
    private sealed record IntakeStopped(KafkaIntake Intake, string? Error);

    private sealed record IntakeDrained(KafkaIntake Intake);

    private sealed class Sink(IActorRef self) : IIntakeSink
    {
        public KafkaIntake? Intake { get; set; }
        public void NeedPosition(int partition, long lowWatermark) => self.Tell(new NeedPositionMsg(partition, lowWatermark));
        public void Contribute(PartitionContribution contribution) => self.Tell(contribution);
        public void Lost(int partition, long next, long lowWatermark) => self.Tell(new LostMsg(partition, next, lowWatermark));
        public void Status(int[] partitions, long[] lag, long[] unreadMilliseconds, bool atEnd, string? error) => self.Tell(new StatusMsg(partitions, lag, unreadMilliseconds, atEnd, error));
        public void Drained() => self.Tell(new IntakeDrained(Intake!));
        public void Stopped(string? error) => self.Tell(new IntakeStopped(Intake!, error));
    }

    private sealed record NeedPositionMsg(int Partition, long LowWatermark);

    private sealed record LostMsg(int Partition, long Next, long LowWatermark);

    private sealed record StatusMsg(int[] Partitions, long[] Lag, long[] UnreadMilliseconds, bool AtEnd, string? Error);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _workerId;
    private volatile IActorRef? _coordinatorForIntake;
    private KafkaIntake? _intake;
    private string? _jobId;
    private long _epoch;
    private bool _stopRequested;

    /// <summary>The intake drained after a stop request: a repeated request (its answer may have been lost) is answered at once.</summary>
    private bool _drained;

    public StreamWorkerActor(IActorRef coordinatorProxy, string workerId)
        : base(coordinatorProxy, new RegisterWorker(workerId))
    {
        _workerId = workerId;

        Receive<StartConsuming>(OnStart);
        Receive<LedgerPosition>(p => { if (p.JobId == _jobId) _intake?.Seek(p.Partition, p.Next); });
        Receive<ContributionAck>(a => { if (a.JobId == _jobId) _intake?.Acknowledge(a); });
        Receive<ModelUpdated>(m => { if (m.JobId == _jobId) _intake?.UseModel(m.Version, m.Theta.ToParameters()); });
        Receive<CommitOffsets>(c => { if (c.JobId == _jobId) _intake?.Commit(c.Partitions, c.Offsets); });
        Receive<StopConsuming>(s =>
        {
            if (s.JobId != _jobId || _intake is null)
            {
                Sender.Tell(new ConsumingStopped(s.JobId, s.Epoch, _workerId));
                return;
            }
            if (_drained)
            {
                ToCoordinator(new ConsumingStopped(_jobId!, _epoch, _workerId));
                return;
            }
            if (_stopRequested) return; // draining: it answers when done
            _stopRequested = true;
            _intake.Drain();
        });

        Receive<NeedPositionMsg>(m => ToCoordinator(new LedgerQuery(_jobId!, _epoch, Topic, m.Partition, m.LowWatermark)));
        Receive<LostMsg>(m => ToCoordinator(new RecordsLost(_jobId!, _epoch, Topic, m.Partition, m.Next, m.LowWatermark)));
        Receive<PartitionContribution>(c => ToCoordinator(c with { JobId = _jobId!, Epoch = _epoch }));
        Receive<StatusMsg>(m => ToCoordinator(new WorkerStreamStatus(_jobId!, _epoch, _workerId, m.Partitions, m.Lag, m.AtEnd, m.Error, m.UnreadMilliseconds)));
        Receive<IntakeDrained>(m =>
        {
            if (!ReferenceEquals(m.Intake, _intake) || !_stopRequested) return;
            _drained = true;
            ToCoordinator(new ConsumingStopped(_jobId!, _epoch, _workerId));
        });
        Receive<ReleaseJob>(r => { if (r.JobId == _jobId) StopIntake(); });
        Receive<IntakeStopped>(m =>
        {
            if (!ReferenceEquals(m.Intake, _intake)) return;
            if (m.Error is not null)
            {
                // The error first, then the stop: the coordinator tells the client why this worker stopped consuming.
                _log.Error("intake of job {0} stopped: {1}", _jobId, m.Error);
                ToCoordinator(new WorkerStreamStatus(_jobId!, _epoch, _workerId, [], [], true, m.Error));
                ToCoordinator(new ConsumingStopped(_jobId!, _epoch, _workerId));
            }
            var stopped = _intake;
            _intake = null;
            _stopRequested = _drained = false;
            Task.Run(stopped.Dispose);
        });
    }

    private string Topic { get; set; } = "";

    public static Props Props(IActorRef coordinatorProxy, string workerId) =>
        Akka.Actor.Props.Create(() => new StreamWorkerActor(coordinatorProxy, workerId));

    protected override void PostStop() => StopIntake();

    protected override void OnCoordinatorRegistered(IActorRef coordinator) => _coordinatorForIntake = coordinator;

    protected override void OnCoordinatorLost(IActorRef coordinator)
    {
        _log.Info("stream coordinator gone: closing the intake and registering again");
        _coordinatorForIntake = null;
        StopIntake();
    }

    /// <summary>To the coordinator registered with, for the running job; dropped while registering.</summary>
    private void ToCoordinator(object message)
    {
        if (Coordinator is { } coordinator && _jobId is not null) coordinator.Tell(message);
    }

    private void OnStart(StartConsuming m)
    {
        if (_intake is not null && _jobId == m.JobId && _epoch == m.Epoch) return;
        StopIntake();
        _jobId = m.JobId;
        _epoch = m.Epoch;
        Topic = m.Settings.Topic;
        _stopRequested = _drained = false;
        var sink = new Sink(Self);
        string jobId = m.JobId, topic = m.Settings.Topic;
        long epoch = m.Epoch;
        var askTimeout = TimeSpan.FromSeconds(m.Settings.Tuning.PositionRetrySeconds); // setting Stream:PositionRetry
        _intake = new KafkaIntake(m.Settings, _workerId, sink, (partition, low) =>
        {
            var coordinator = _coordinatorForIntake;
            if (coordinator is null) return null;
            try
            {
                return coordinator.Ask<LedgerPosition>(new LedgerQuery(jobId, epoch, topic, partition, low), askTimeout)
                    .GetAwaiter().GetResult().Next;
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                return null;
            }
        });
        sink.Intake = _intake;
        _intake.Start();
        _log.Info("worker {0} consuming {1} for job {2} epoch {3}", _workerId, m.Settings.Topic, m.JobId, m.Epoch);
    }

    private void StopIntake()
    {
        var intake = _intake;
        _intake = null;
        _stopRequested = _drained = false;
        if (intake is not null) Task.Run(intake.Dispose); // closing the consumer may take seconds: not on the actor thread
    }
}
