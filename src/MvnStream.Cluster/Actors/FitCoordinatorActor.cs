using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using MvnStream.Cluster.DataPlane;
using MvnStream.Cluster.Protocol;
using MvnStream.Core;
using MvnStream.Core.Fitting;
using MvnStream.Core.Ingest;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;

namespace MvnStream.Cluster.Actors;

/// <summary>
/// The fit coordinator, run as a cluster singleton: tracks live workers, splits a job's file into byte
/// ranges, assigns them, reassigns the shards of a worker that leaves or becomes unreachable, merges
/// shard statistics in shard order, and drives the solver. In <see cref="SummingMode.Gradients"/> every
/// objective evaluation is a round (theta broadcast, partial J and gradients gathered per shard, summed in
/// shard order), so the result does not depend on which worker computed which shard.
/// The solver runs on its own thread and talks to this actor by messages; the actor never blocks.
/// </summary>
public sealed partial class FitCoordinatorActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly string _coordinatorId = Guid.NewGuid().ToString("N")[..8];
    private readonly WorkerRegistry _workers;
    private readonly TimeSpan _noWorkerTimeout;
    private readonly TimeSpan _workerWait;
    private readonly DataPlaneMode _dataPlane;
    private Job? _job;

    /// <param name="noWorkerTimeout">How long a job may go on with no live worker (mvnstream.coordinator.no-worker-timeout).</param>
    /// <param name="workerWait">How long a job waits for its workers unless it says (mvnstream.coordinator.worker-wait).</param>
    /// <param name="dataPlane">How rounds' theta and gradients travel (Coordinator:DataPlane; docs/ARCHITECTURE.md, "The data plane").</param>
    public FitCoordinatorActor(TimeSpan noWorkerTimeout, TimeSpan workerWait, DataPlaneMode dataPlane = DataPlaneMode.Tcp)
    {
        _noWorkerTimeout = noWorkerTimeout;
        _workerWait = workerWait;
        _dataPlane = dataPlane;
        _workers = new WorkerRegistry(Context);

        Receive<RegisterWorker>(OnRegister);
        Receive<Terminated>(t =>
        {
            if (_job is not null && t.ActorRef.Equals(_job.Client))
            {
                _log.Warning("client of job {0} is gone: cancelling the job", _job.Id);
                _job.Cancel();
                _job.ClientGone = true;
                // Before the solver runs nothing waits for the job to wind down: end it now, or the coordinator stays busy
                // (waiting for workers, loading shards) for a client that is not there.
                if (_job.Phase != Phase.Solving) EndJob();
            }
            else WorkerLost(t.ActorRef, "left the cluster");
        });
        Receive<ClusterEvent.UnreachableMember>(u => SuspendWorkersAt(u.Member.Address));
        Receive<ClusterEvent.ReachableMember>(u => ResumeWorkersAt(u.Member.Address));
        Receive<ClusterEvent.MemberRemoved>(u => LoseWorkersAt(u.Member.Address, "was removed from the cluster"));
        Receive<ClusterEvent.MemberJoined>(m => Announce(m.Member));
        Receive<ClusterEvent.MemberWeaklyUp>(m => Announce(m.Member));
        Receive<ClusterEvent.MemberUp>(m => Announce(m.Member));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });

        Receive<SubmitFitJob>(OnSubmit);
        Receive<CancelFitJob>(c =>
        {
            if (_job?.Id != c.JobId) return;
            if (_job.Phase == Phase.Solving) _job.Cancel(); // the solver returns its best point
            else Fail(JobErrorKind.Cancelled, "cancelled by the client before the solver started");
        });
        Receive<WaitForWorkersTimeout>(OnWaitForWorkersTimeout);
        Receive<NoWorkerTimeout>(OnNoWorkerTimeout);
        Receive<FileDescribed>(OnDescribed);
        Receive<FileDescribeFailed>(f => { if (_job?.Id == f.JobId) Fail(f.Kind, f.Message); });
        Receive<ShardLoadProgress>(OnLoadProgress);
        Receive<ShardLoaded>(OnShardLoaded);
        Receive<ShardLoadFailed>(f => { if (_job?.Id == f.JobId) Fail(f.Kind, f.Message); });
        Receive<StartRound>(OnStartRound);
        Receive<PartialGradientComputed>(OnPartialGradient);
        ReceiveDataPlane();
        Receive<SolverIteration>(OnSolverIteration);
        Receive<SolverFinished>(OnSolverFinished);
        // A failure piped back from some task instead of its answer: end the job with it rather than wait for the answer.
        Receive<Status.Failure>(f =>
        {
            _log.Error(f.Cause, "unexpected failure from {0}", Sender.Path);
            Fail(JobErrorKind.Failure, $"{(Sender.IsNobody() ? "a task" : Sender.Path.ToString())} failed: {f.Cause?.Message}");
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(TimeSpan noWorkerTimeout, TimeSpan workerWait, DataPlaneMode dataPlane = DataPlaneMode.Tcp) =>
        Akka.Actor.Props.Create(() => new FitCoordinatorActor(noWorkerTimeout, workerWait, dataPlane));

    protected override void PreStart()
    {
        WorkerRegistry.SubscribeToMembership(_cluster, Self);
        // Every worker node, as it is now and as it joins: told at once that this coordinator is here.
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, AnnouncedTo);
    }

    /// <summary>The membership events on which a worker node is told of this coordinator (<see cref="Announce"/>).</summary>
    private static readonly Type[] AnnouncedTo = [typeof(ClusterEvent.MemberJoined), typeof(ClusterEvent.MemberWeaklyUp), typeof(ClusterEvent.MemberUp)];

    /// <summary>
    /// Tells the worker on a worker node with no registered worker that this coordinator is there
    /// (<see cref="CoordinatorAvailable"/>): it registers at once, instead of when its proxy finds this singleton, which
    /// retries every singleton-identification-interval (docs/ARCHITECTURE.md, "Fitting a file"). A node that joins before it
    /// is Up is told when it joins, so its worker registers before its node is Up.
    /// </summary>
    private void Announce(Member member)
    {
        if (!member.HasRole(Hosting.NodeConfiguration.WorkerRole) || _workers.AllAt(member.Address).Count > 0) return;
        Context.ActorSelection(new RootActorPath(member.Address) / "user" / WorkerActor.Name).Tell(new CoordinatorAvailable(_coordinatorId), Self);
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        _job?.Cancel();
        _job?.DisposeRoundResults();
        EndDataPlaneJob();
    }

    /// <summary>A failure while handling a message fails the job with a clear error instead of silently restarting the actor.</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (Exception e) when (_job is not null)
        {
            _log.Error(e, "job {0} failed handling {1}", _job.Id, message.GetType().Name);
            Fail(JobErrorKind.Failure, $"the coordinator failed ({e.GetType().Name}: {e.Message})");
            return true;
        }
    }

    private void OnRegister(RegisterWorker r)
    {
        if (_workers.Register(Sender, r.WorkerId)) _log.Info("worker {0} registered ({1} live; reads with {2} threads)", r.WorkerId, _workers.Count, r.Threads);
        Sender.Tell(new WorkerRegistered(_coordinatorId));
        if (_job is null) return;
        if (_job.Phase == Phase.WaitingForWorkers && _workers.Count >= _job.MinWorkers) BeginDescribe();
        else if (_job.Phase == Phase.WaitingForWorkers) DescribeWhileWaiting();
        else if (_job.Phase is Phase.Loading or Phase.Solving) AssignOrphans();
    }

    private void LoseWorkersAt(Address address, string why)
    {
        foreach (var w in _workers.AllAt(address)) WorkerLost(w, why);
    }

    /// <summary>
    /// An unreachable worker's shards go to others at once, but the worker is only suspended: if its node becomes
    /// reachable again before it is downed (a GC pause, a network blip) it is a member like before and is used again.
    /// </summary>
    private void SuspendWorkersAt(Address address)
    {
        foreach (var (w, id) in _workers.SuspendAt(address)) Orphan(w, id, "is unreachable");
    }

    private void ResumeWorkersAt(Address address)
    {
        var back = _workers.Resume(address);
        if (back.Count == 0) return;
        foreach (var w in back)
        {
            if (_job is null) _log.Info("worker {0} is reachable again ({1} live)", _workers[w], _workers.Count);
            else
            {
                _log.Warning("worker {0} is reachable again", _workers[w]);
                _job.WorkersLost.Remove(w);
                _job.Notice(Self, $"worker {_workers[w]} is reachable again");
            }
        }
        if (_job is null) return;
        if (_job.Phase == Phase.WaitingForWorkers && _workers.Count >= _job.MinWorkers) BeginDescribe();
        else if (_job.Phase is Phase.Loading or Phase.Solving) AssignOrphans();
    }

    private void WorkerLost(IActorRef worker, string why)
    {
        bool live = _workers.At(worker.Path.Address).Contains(worker);
        ForgetDataPlane(worker);
        if (_workers.Remove(worker) is not { } id) return;
        if (live) Orphan(worker, id, why);
        else _log.Info("worker {0} {1}", id, why); // suspended: its shards were reassigned when it became unreachable
    }

    /// <summary>A worker is no longer live: its shards that still need a worker go to others.</summary>
    private void Orphan(IActorRef worker, string id, string why)
    {
        if (_job is null)
        {
            _log.Info("worker {0} {1}", id, why);
            return;
        }
        _log.Warning("worker {0} {1}", id, why);
        _job.Notice(Self, $"worker {id} {why}");
        _job.WorkersLost.Add(worker);
        if (_job.Phase is Phase.Describing or Phase.WaitingForWorkers) RedescribeWithout(worker);
        if (_job.Phase is Phase.Loading or Phase.Solving)
        {
            foreach (var shard in _job.Shards.Where(s => worker.Equals(s.Worker)))
            {
                shard.Worker = null;
                shard.Loaded = false;
                shard.Orphaned = _job.NeedsWorker(shard);
            }
            AssignOrphans();
        }
    }

    /// <summary>Gives unassigned shards to the live workers holding the fewest; arms the no-worker timer when none is left.</summary>
    private void AssignOrphans()
    {
        var job = _job!;
        var orphans = job.Shards.Where(s => s.Worker is null && job.NeedsWorker(s)).ToList();
        if (orphans.Count == 0) return;
        if (_workers.Count == 0)
        {
            if (!Timers.IsTimerActive("no-worker"))
                Timers.StartSingleTimer("no-worker", new NoWorkerTimeout(job.Id), _noWorkerTimeout);
            return;
        }
        Timers.Cancel("no-worker");
        foreach (var shard in orphans)
        {
            var target = _workers.Refs.OrderBy(w => job.Shards.Count(s => w.Equals(s.Worker))).ThenBy(w => _workers[w], StringComparer.Ordinal).First();
            if (shard.Orphaned)
            {
                job.ShardsReassigned++;
                job.Notice(Self, $"shard {shard.Index} ({shard.Start}..{shard.EndLabel}) reassigned to worker {_workers[target]}");
            }
            shard.Worker = target;
            shard.Orphaned = false;
            target.Tell(new LoadShard(job.Id, shard.Index, job.Request.Path, shard.Start, shard.End, job.Reader, ReturnStatistics: shard.Statistics is null,
                Threads: Math.Max(0, job.Settings.ThreadsPerWorker)));
        }
    }

    private void OnNoWorkerTimeout(NoWorkerTimeout t)
    {
        if (_job?.Id != t.JobId || _workers.Count > 0) return;
        Fail(JobErrorKind.NoWorkers, $"no worker is left in the cluster (waited {_noWorkerTimeout.TotalSeconds:F0} s for one to join): the job cannot finish");
    }

    private void Fail(JobErrorKind kind, string message)
    {
        var job = _job;
        if (job is null) return;
        _log.Warning("job {0} failed: {1}", job.Id, message);
        job.Client.Tell(new FitJobFailed(job.Id, kind, message));
        EndJob();
    }

    private void EndJob()
    {
        var job = _job;
        if (job is null) return;
        job.Cancel();
        job.FailPendingRound();
        job.DisposeRoundResults();
        EndDataPlaneJob();
        foreach (var w in _workers.Refs) w.Tell(new ReleaseJob(job.Id));
        Context.Unwatch(job.Client);
        Timers.CancelAll();
        _job = null;
    }
}
