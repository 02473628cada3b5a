using System.Buffers;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using MvnStream.Cluster.DataPlane;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Model;
using MvnStream.Core.Objective;
using MvnStream.Core.Statistics;

namespace MvnStream.Cluster.Actors;

/// <summary>
/// The worker's end of the data plane (docs/ARCHITECTURE.md, "The data plane"): a TCP listener on the host the node binds
/// for Akka remoting, whose port goes to the coordinator in <see cref="ShardLoaded.DataPort"/>. A round frame is computed
/// on the actor thread like <see cref="ComputePartialGradient"/>, one gradient frame per shard, written into a pooled buffer.
/// </summary>
public sealed partial class WorkerActor
{
    /// <summary>A round frame read by the data server, with the connection to answer on (local only, never serialized).</summary>
    private sealed record DataRound(DataConnection Connection, Frame Frame);

    private DataServer? _dataServer;

    /// <summary>theta of the current data-plane round, its arrays reused from round to round (2 MiB of Lambda at d = 512).</summary>
    private MvnParameters? _roundTheta;

    /// <summary>The data plane's port, 0 when there is none (rounds then come over Akka).</summary>
    private int DataPort => _dataServer?.Port ?? 0;

    private void StartDataPlane(int port)
    {
        if (port < 0) return;
        // The data plane is plain TCP: a node whose remoting uses TLS keeps its rounds on Akka (no port, so the coordinator sends them there).
        if (Context.System.Settings.Config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl", false))
        {
            _log.Info("worker {0}: remoting uses TLS, the data plane does not: rounds go over Akka", _workerId);
            return;
        }
        string? host = Context.System.Settings.Config.GetString("akka.remote.dot-netty.tcp.hostname", null);
        var self = Self;
        var log = _log;
        string workerId = _workerId;
        try
        {
            _dataServer = DataServer.Start(DataServer.BindAddress(host), port, (c, f) => self.Tell(new DataRound(c, f)),
                reason => log.Debug("worker {0}: data connection closed: {1}", workerId, reason));
            _log.Info("worker {0}: data plane on port {1}", _workerId, _dataServer.Port);
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            // No data plane: the coordinator sends this worker's rounds over Akka.
            _log.Warning("worker {0}: cannot listen for the data plane on {1}:{2} ({3}); rounds go over Akka", _workerId, host, port, e.Message);
        }
    }

    private void ComputeOverDataPlane(DataRound r)
    {
        using var frame = r.Frame;
        int[] shards = frame.Shards();
        try
        {
            var theta = RoundTheta(frame);
            foreach (int index in shards)
            {
                if (!_shards.TryGetValue(new ShardKey(frame.JobId, index), out var stats))
                {
                    // The coordinator only sends rounds for shards this worker reported loaded: a stale or foreign request.
                    // Closing makes it retry and then take the shard elsewhere, rather than wait for an answer.
                    _log.Warning("worker {0}: data-plane round {1} of job {2} asks for shard {3}, which this worker does not hold: connection closed",
                        _workerId, frame.Round, frame.JobId, index);
                    r.Connection.Dispose();
                    return;
                }
                var reply = DataFrame.Gradient(frame.JobId, frame.Round, index, frame.Dimension, frame.Parameterization, 0);
                try
                {
                    // The compute alone (as over Akka: J, the gradient, packed), not the frame's checksum (transport).
                    long started = System.Diagnostics.Stopwatch.GetTimestamp();
                    double j = Evaluate(stats, theta, reply.WritableValues);
                    Core.Diagnostics.MvnMetrics.WorkerRoundCompute.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
                    reply.Seal(j);
                }
                catch
                {
                    reply.Dispose();
                    throw;
                }
                r.Connection.Send(reply);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // As over Akka (AroundReceive): the job fails with the reason instead of waiting for an answer.
            _log.Error(e, "worker {0}: job {1} failed computing data-plane round {2}", _workerId, frame.JobId, frame.Round);
            Coordinator?.Tell(new ShardLoadFailed(frame.JobId, shards.FirstOrDefault(), JobErrorKind.Failure,
                $"worker {_workerId}: computing round {frame.Round} of shard {shards.FirstOrDefault()} failed ({e.GetType().Name}: {e.Message})"), Self);
        }
    }

    /// <summary>
    /// theta of a round frame, unpacked into arrays kept for the next round: the actor computes one round at a time and
    /// <see cref="MvnParameters"/> holds no state derived from its arrays, so reusing them gives the same numbers as a fresh unpack.
    /// </summary>
    private MvnParameters RoundTheta(Frame frame)
    {
        int d = frame.Dimension;
        var p = frame.Parameterization;
        if (_roundTheta is null || _roundTheta.Dimension != d || _roundTheta.Parameterization != p) _roundTheta = MvnParameters.Identity(d, p);
        frame.Values[..d].CopyTo(_roundTheta.Mu);
        MvnParameters.UnpackLambda(frame.Values, d, p, _roundTheta.Lambda);
        return _roundTheta;
    }

    /// <summary>J at theta and its gradient, packed as <see cref="MvnParameters.Pack"/> does into <paramref name="packed"/>; the same over Akka and the data plane.</summary>
    private static double Evaluate(SufficientStatistics stats, MvnParameters theta, Span<double> packed)
    {
        int d = theta.Dimension;
        // The d x d gradient is scratch (2 MiB at d = 512, every round): pooled, so that rounds do not churn the large-object heap.
        double[] gMu = ArrayPool<double>.Shared.Rent(d), gL = ArrayPool<double>.Shared.Rent(d * d);
        try
        {
            gMu.AsSpan(0, d).Clear();
            double j = MvnObjective.Evaluate(stats, theta, gMu.AsSpan(0, d), gL.AsSpan(0, d * d));
            MvnParameters.PackInto(gMu.AsSpan(0, d), gL.AsSpan(0, d * d), d, theta.Parameterization, packed);
            return j;
        }
        finally
        {
            ArrayPool<double>.Shared.Return(gMu);
            ArrayPool<double>.Shared.Return(gL);
        }
    }
}
