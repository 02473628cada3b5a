using System.Diagnostics;
using MvnStream.Core.Diagnostics;
using MvnStream.Core.Model;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// What the coordinator publishes for the HTTP layer and the metrics (docs/ARCHITECTURE.md, "HTTP, metrics and dashboard"):
/// a <see cref="StreamBoardState"/> replaced on every change of workers, status tick, snapshot and checkpoint. Read-only for
/// everyone else: nothing on the board feeds back into the job.
/// </summary>
public sealed partial class StreamCoordinatorActor
{
    private double _boardGradientNorm = double.NaN;
    private DateTime? _boardCheckpointUtc;
    private double? _boardCheckpointSeconds;
    private readonly Stopwatch _checkpointClock = new();
    private string? _boardJobId;

    /// <summary>Publishes the job's (or, between jobs, the workers') current state; <paramref name="model"/>: a new snapshot.</summary>
    private void PublishBoard(MvnModel? model = null, double? rowsPerSecond = null)
    {
        var job = _job;
        if (job is not null && job.Id != _boardJobId)
        {
            _boardJobId = job.Id;
            _boardGradientNorm = double.NaN;
            _boardCheckpointUtc = null;
            _boardCheckpointSeconds = null;
        }
        var workers = _workers.Ids.Select(id => Worker(id, true)).Concat(_workers.SuspendedIds.Select(id => Worker(id, false))).ToArray();
        string? json = model?.ToJson();
        double[]? cov = model?.Theta.Covariance();
        StreamBoard.Update(s => job is null
            ? s with { Active = false, Running = false, Stopping = false, Workers = workers, RowsPerSecond = 0 }
            : s with
            {
                JobId = job.Id,
                Topic = job.Settings.Topic,
                Dimension = job.Statistics.Dimension,
                Active = true,
                Running = job.Started,
                Stopping = job.Stopping,
                Version = job.Version,
                Rows = job.Statistics.Count,
                AcceptedRecords = job.State.AcceptedRecords,
                RejectedRecords = job.State.RejectedRecords,
                LostRecords = job.State.LostRecords,
                Duplicates = job.State.Duplicates,
                Refused = job.State.Refused,
                RowsPerSecond = rowsPerSecond ?? s.RowsPerSecond,
                NllPerRow = job.NllPerRow,
                GapPerRow = job.GapPerRow,
                GradientNorm = _boardGradientNorm,
                Converged = job.LastStopReason is { } r && Core.Fitting.StopReasons.IsConverged(r),
                StopReason = job.LastStopReason is { } r2 ? Core.Fitting.StopReasons.ToName(r2) : null,
                Workers = workers,
                LastCheckpointUtc = _boardCheckpointUtc,
                LastCheckpointSeconds = _boardCheckpointSeconds,
                Model = json ?? (s.JobId == job.Id ? s.Model : null),
                ModelVersion = model?.Version ?? (s.JobId == job.Id ? s.ModelVersion : 0),
                Mu = model?.Theta.Mu ?? (s.JobId == job.Id ? s.Mu : null),
                Covariance = cov ?? (s.JobId == job.Id ? s.Covariance : null),
            });

        WorkerBoard Worker(string id, bool live) => _workerStatus.TryGetValue(id, out var st)
            ? new WorkerBoard(id, live, st.Partitions, st.Lag, st.AtEnd, st.Error, st.UnreadMilliseconds)
            : new WorkerBoard(id, live, [], [], false, null);
    }
}
