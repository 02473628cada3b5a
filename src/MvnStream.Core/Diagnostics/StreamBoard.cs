using MathNet.Numerics.LinearAlgebra;

namespace MvnStream.Core.Diagnostics;

/// <summary>
/// A stream worker as the coordinator sees it: its partitions, their lag and, per partition, how long it has had lag
/// without a record read from it (milliseconds; 0 without lag), all from its last status.
/// </summary>
public sealed record WorkerBoard(string Id, bool Live, int[] Partitions, long[] Lag, bool AtEnd, string? Error, long[]? UnreadMilliseconds = null);

/// <summary>One point of the board's history (one per coordinator status tick).</summary>
public sealed record BoardSample(double Seconds, long Rows, double RowsPerSecond, double GapPerRow, long Version);

/// <summary>
/// What the stream coordinator last published about its job and workers (immutable; a new one replaces it): read by the HTTP
/// layer (/model, /health/ready, /api/state) and by the gauges of <see cref="MvnMetrics"/>.
/// docs/ARCHITECTURE.md, "HTTP, metrics and dashboard". Never holds Kafka settings (they may carry secrets).
/// </summary>
public sealed record StreamBoardState
{
    public string? JobId { get; init; }
    public string? Topic { get; init; }
    public int Dimension { get; init; }
    /// <summary>A job is on the coordinator (starting, running or stopping); false between jobs.</summary>
    public bool Active { get; init; }
    public bool Running { get; init; }
    public bool Stopping { get; init; }
    public long Version { get; init; }
    public long Rows { get; init; }
    public long AcceptedRecords { get; init; }
    public long RejectedRecords { get; init; }
    public long LostRecords { get; init; }
    public long Duplicates { get; init; }
    public long Refused { get; init; }
    public double RowsPerSecond { get; init; }
    public double NllPerRow { get; init; } = double.NaN;
    public double GapPerRow { get; init; } = double.NaN;
    public double GradientNorm { get; init; } = double.NaN;
    public bool Converged { get; init; }
    public string? StopReason { get; init; }
    public IReadOnlyList<WorkerBoard> Workers { get; init; } = [];
    public DateTime? LastCheckpointUtc { get; init; }
    public double? LastCheckpointSeconds { get; init; }

    /// <summary>The last model snapshot: the model file's exact text (MvnModel.ToJson), its version, mu and S (row-major).</summary>
    public string? Model { get; init; }
    public long ModelVersion { get; init; }
    public double[]? Mu { get; init; }
    public double[]? Covariance { get; init; }
    public DateTime UpdatedUtc { get; init; } = DateTime.UtcNow;

    /// <summary>Per covariance array (states made with 'with' share it until a new snapshot replaces it): its spectrum, computed once.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<double[], Tuple<double, double>?> Spectra = new();

    /// <summary>Smallest and largest eigenvalue of the snapshot's S, computed on first use (O(d^3)); null without a model.</summary>
    public (double Min, double Max)? Spectrum =>
        Covariance is { } c && Spectra.GetValue(c, _ => ComputeSpectrum() is { } e ? Tuple.Create(e.Min, e.Max) : null) is { } t ? (t.Item1, t.Item2) : null;

    private (double Min, double Max)? ComputeSpectrum()
    {
        if (Covariance is not { } c || Dimension <= 0 || c.Length != Dimension * Dimension) return null;
        try
        {
            var m = Matrix<double>.Build.Dense(Dimension, Dimension, (i, j) => c[i * Dimension + j]);
            var ev = m.Evd(Symmetricity.Symmetric).EigenValues.Select(z => z.Real).ToArray();
            return (ev.Min(), ev.Max());
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or ArithmeticException)
        {
            return null;
        }
    }
}

/// <summary>
/// The process-wide holder of the stream coordinator's <see cref="StreamBoardState"/> (a cluster singleton: at most one
/// per process) and a bounded history of status samples. Thread-safe: the coordinator actor publishes, HTTP requests read.
/// </summary>
public static class StreamBoard
{
    public const int HistoryCapacity = 600;

    private static readonly object Gate = new();
    private static readonly Queue<BoardSample> Samples = new();
    private static volatile StreamBoardState? _current;

    /// <summary>Null until a stream coordinator runs in this process.</summary>
    public static StreamBoardState? Current => _current;

    /// <summary>Replaces the state with <paramref name="change"/> of the current one (or of an empty one).</summary>
    public static void Update(Func<StreamBoardState, StreamBoardState> change)
    {
        lock (Gate) _current = change(_current ?? new StreamBoardState()) with { UpdatedUtc = DateTime.UtcNow };
    }

    /// <summary>Appends a history sample; a new job (rows going down) starts a new history.</summary>
    public static void AddSample(BoardSample sample)
    {
        lock (Gate)
        {
            if (Samples.Count > 0 && Samples.Last().Seconds > sample.Seconds) Samples.Clear();
            Samples.Enqueue(sample);
            while (Samples.Count > HistoryCapacity) Samples.Dequeue();
        }
    }

    public static IReadOnlyList<BoardSample> History
    {
        get { lock (Gate) return [.. Samples]; }
    }
}
