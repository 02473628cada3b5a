using Akka.Actor;
using Akka.Event;
using MvnStream.Cluster.DataPlane;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Cluster.Actors;

/// <summary>
/// The coordinator's end of the data plane (docs/ARCHITECTURE.md, "The data plane"): in gradient summing, theta goes to
/// each worker and its partial gradients come back as frames over one TCP connection per worker, while Akka carries the
/// job's control, registration and failure detection. A reply is summed only if it is for the current round of the
/// current job and from the worker holding the shard; a broken connection (torn or corrupt frame, the worker gone) makes
/// the coordinator send that worker's missing shards once more over a fresh connection, and a second break in the same
/// round makes the worker lost: its shards are reassigned, as when Akka finds it unreachable, so the fit equals the
/// fault-free one.
/// </summary>
public sealed partial class FitCoordinatorActor
{
    /// <summary>A gradient frame read from a worker's connection (local only).</summary>
    private sealed record DataReply(IActorRef Worker, DataConnection Connection, Frame Frame);

    /// <summary>A worker's connection broke (local only).</summary>
    private sealed record DataBroken(IActorRef Worker, DataConnection Connection, string Reason);

    /// <summary>One shard's answer to a round, from either path; disposing returns a frame's pooled buffer.</summary>
    private sealed class GradientPart : IDisposable
    {
        private readonly Frame? _frame;
        private readonly double[]? _mu;
        private readonly double[]? _lambda;
        private readonly int _d;

        public GradientPart(PartialGradientComputed m)
        {
            J = m.J;
            _mu = m.GradMu;
            _lambda = m.GradLambdaPacked;
            _d = m.GradMu.Length;
        }

        public GradientPart(Frame frame)
        {
            _frame = frame;
            J = frame.J;
            _d = frame.Dimension;
        }

        public double J { get; }

        public ReadOnlySpan<double> GradMu => _frame is null ? _mu : _frame.Values[.._d];

        public ReadOnlySpan<double> GradLambdaPacked => _frame is null ? _lambda : _frame.Values[_d..];

        public void Dispose() => _frame?.Dispose();
    }

    private readonly Dictionary<IActorRef, int> _dataPorts = [];
    private readonly Dictionary<IActorRef, DataConnection> _dataLinks = [];

    /// <summary>Workers suspended because their data connection failed twice in a round: live again when the job ends.</summary>
    private readonly Dictionary<IActorRef, string> _dataSuspended = [];

    private void ReceiveDataPlane()
    {
        Receive<DataReply>(OnDataReply);
        Receive<DataBroken>(OnDataBroken);
    }

    /// <summary>Sends the current round's theta for <paramref name="shards"/> to <paramref name="worker"/>, over the data plane when it has one.</summary>
    private void SendRound(Job job, IActorRef worker, int[] shards)
    {
        if (_dataPlane == DataPlaneMode.Tcp && _dataPorts.TryGetValue(worker, out int port) && port > 0)
        {
            if (!_dataLinks.TryGetValue(worker, out var link))
            {
                var self = Self;
                string host = worker.Path.Address.Host ?? "127.0.0.1";
                _dataLinks[worker] = link = DataConnection.Connect(host, port,
                    (c, f) => self.Tell(new DataReply(worker, c, f)), (c, why) => self.Tell(new DataBroken(worker, c, why)));
            }
            var theta = job.RoundTheta!;
            link.Send(DataFrame.Round(job.Id, job.Rounds, shards, theta.Dimension, theta.Parameterization, theta.Mu, theta.LambdaPacked));
        }
        else worker.Tell(new ComputePartialGradient(job.Id, job.Rounds, shards, job.RoundTheta!));
    }

    private void OnDataReply(DataReply r)
    {
        var frame = r.Frame;
        if (!_dataLinks.TryGetValue(r.Worker, out var link) || link != r.Connection) { frame.Dispose(); return; } // an old connection's late frame
        var job = _job;
        if (job is null || frame.Kind != FrameKind.Gradient || frame.JobId != job.Id) { frame.Dispose(); return; }
        var theta = job.RoundTheta;
        if (theta is not null && (frame.Dimension != theta.Dimension || frame.Parameterization != theta.Parameterization))
        {
            frame.Dispose();
            r.Connection.Dispose();
            OnDataBroken(new DataBroken(r.Worker, r.Connection, $"a gradient at d = {frame.Dimension} for a round at d = {theta.Dimension}"));
            return;
        }
        var part = new GradientPart(frame);
        if (!AcceptPart(job, r.Worker, frame.Round, frame.Shard, part)) part.Dispose();
    }

    private void OnDataBroken(DataBroken b)
    {
        if (!_dataLinks.TryGetValue(b.Worker, out var link) || link != b.Connection) return; // already replaced
        _dataLinks.Remove(b.Worker);
        link.Dispose();
        var job = _job;
        if (job is null || job.Phase != Phase.Solving || job.RoundCompletion is not { Task.IsCompleted: false }) return; // the next round reconnects
        var missing = job.Shards.Where(s => b.Worker.Equals(s.Worker) && s.Loaded && job.RoundResults[s.Index] is null).Select(s => s.Index).ToArray();
        if (missing.Length == 0) return;
        if (job.RetriedThisRound.Add(b.Worker))
        {
            _log.Warning("job {0}, round {1}: data connection to worker {2} broke ({3}); sending its shards again over a new one",
                job.Id, job.Rounds, _workers.IsLive(b.Worker) ? _workers[b.Worker] : b.Worker.Path.ToString(), b.Reason);
            SendRound(job, b.Worker, missing);
            return;
        }
        if (_workers.Suspend(b.Worker) is { } id)
        {
            _dataSuspended[b.Worker] = id;
            Orphan(b.Worker, id, $"is unreachable over its data connection (broke twice in round {job.Rounds}: {b.Reason})");
        }
    }

    /// <summary>Forgets a removed worker's data port and connection.</summary>
    private void ForgetDataPlane(IActorRef worker)
    {
        _dataPorts.Remove(worker);
        _dataSuspended.Remove(worker);
        if (_dataLinks.Remove(worker, out var link)) link.Dispose();
    }

    /// <summary>At a job's end: workers suspended for their data connection only are live again (still watched: a dead one is removed by the cluster).</summary>
    private void EndDataPlaneJob()
    {
        foreach (var (w, id) in _dataSuspended)
            if (!_workers.IsLive(w)) _workers.Register(w, id);
        _dataSuspended.Clear();
        foreach (var link in _dataLinks.Values) link.Dispose();
        _dataLinks.Clear();
    }
}
