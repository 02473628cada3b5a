using System.Diagnostics.Metrics;

namespace MvnStream.Core.Diagnostics;

/// <summary>
/// The process's instruments (System.Diagnostics.Metrics, meter "MvnStream";
/// docs/ARCHITECTURE.md, "HTTP, metrics and dashboard"). Counters and histograms are recorded where things happen (the stream and fit coordinators); the gauges
/// observe the <see cref="StreamBoard"/> the stream coordinator publishes. Exported as Prometheus text at GET /metrics,
/// where dots become underscores and counters get the suffix _total (mvnstream.rows.accepted: mvnstream_rows_accepted_total).
/// </summary>
public static class MvnMetrics
{
    public const string MeterName = "MvnStream";

    public static Meter Meter { get; } = new(MeterName, "1.0");

    /// <summary>Rows merged into the model by this process's stream coordinator (rows/s: Prometheus rate() of it).</summary>
    public static Counter<long> RowsAccepted { get; } = Meter.CreateCounter<long>("mvnstream.rows.accepted", null, "Rows merged into the model by this coordinator");

    public static Counter<long> RecordsAccepted { get; } = Meter.CreateCounter<long>("mvnstream.records.accepted", null, "Kafka records accepted (each holds one or more rows)");

    public static Counter<long> RecordsRejected { get; } = Meter.CreateCounter<long>("mvnstream.records.rejected", null, "Kafka records rejected as invalid (dead-lettered, counted in the ledger)");

    public static Counter<long> RecordsLost { get; } = Meter.CreateCounter<long>("mvnstream.records.lost", null, "Kafka records the broker deleted before they were read");

    public static Counter<long> LedgerDuplicates { get; } = Meter.CreateCounter<long>("mvnstream.ledger.duplicates", null, "Contributions the offset ledger acknowledged and dropped as replays");

    public static Counter<long> LedgerRefusals { get; } = Meter.CreateCounter<long>("mvnstream.ledger.refusals", null, "Contributions the offset ledger refused (gap or overlap; the worker re-seeks)");

    /// <summary>Bucket bounds (seconds) of the duration histograms: 1 ms to 60 s.</summary>
    private static readonly InstrumentAdvice<double> Seconds = new()
    {
        HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    };

    public static Histogram<double> CheckpointDuration { get; } = Meter.CreateHistogram("mvnstream.checkpoint.duration.seconds", null, "Time to save one checkpoint", null, Seconds);

    public static Histogram<double> RoundDuration { get; } = Meter.CreateHistogram("mvnstream.cluster.round.duration.seconds", null, "Latency of one cluster gradient round (fit --summing gradients)", null, Seconds);

    /// <summary>
    /// A worker's own compute for one shard in a gradient round (J and its gradient from the shard's statistics, packed),
    /// recorded before the answer is sent: a round's latency minus its workers' compute is what the round costs beyond the
    /// arithmetic (the rounds benchmark pairs them; docs/ARCHITECTURE.md, "The data plane").
    /// </summary>
    public static Histogram<double> WorkerRoundCompute { get; } = Meter.CreateHistogram("mvnstream.worker.round.compute.seconds", null, "A worker's compute for one shard in a cluster gradient round", null, Seconds);

    static MvnMetrics()
    {
        Gauge("mvnstream.rows.per_second", "Rows merged per second over the last status interval", s => s.RowsPerSecond);
        Gauge("mvnstream.model.version", "Version of the current model", s => s.Model is null ? null : s.Version);
        Gauge("mvnstream.model.rows", "Rows n in the current statistics", s => s.Rows);
        Gauge("mvnstream.model.nll_per_row", "J per row: the data's negative log-likelihood per row under the current model", s => s.NllPerRow);
        Gauge("mvnstream.model.gap", "(J - J*) per row of the problem solved, at the current model", s => s.GapPerRow);
        Gauge("mvnstream.model.gradient_norm", "Gradient norm at the end of the last solve", s => s.GradientNorm);
        Gauge("mvnstream.model.converged", "1 when the last solve reached its tolerance, else 0", s => s.Model is null ? null : s.Converged ? 1 : 0);
        Gauge("mvnstream.model.condition_number", "Condition number of the fitted covariance S", s => s.Spectrum is { } e ? e.Max / e.Min : null);
        Gauge("mvnstream.model.min_eigenvalue", "Smallest eigenvalue of the fitted covariance S", s => s.Spectrum?.Min);
        Gauge("mvnstream.checkpoint.age.seconds", "Seconds since the last checkpoint was saved", s => s.LastCheckpointUtc is { } t ? (DateTime.UtcNow - t).TotalSeconds : null);
        Gauge("mvnstream.cluster.workers", "Live stream workers registered with this coordinator", s => s.Workers.Count(w => w.Live));
        Meter.CreateObservableGauge("mvnstream.consumer.lag", ObserveLag, null, "Records not yet read, per partition (as the owning worker last reported)");
        Meter.CreateObservableGauge("mvnstream.consumer.unread.seconds", ObserveUnread, null,
            "Per partition: how long it has had lag without a record read from it (0 without lag), as the owning worker last reported");
    }

    private static void Gauge(string name, string description, Func<StreamBoardState, double?> read) =>
        Meter.CreateObservableGauge(name, () => StreamBoard.Current is { } s && read(s) is { } v && double.IsFinite(v)
            ? [new Measurement<double>(v)] : Array.Empty<Measurement<double>>(), null, description);

    private static IEnumerable<Measurement<long>> ObserveLag() => PerPartition((w, i) => i < w.Lag.Length ? w.Lag[i] : 0);

    private static IEnumerable<Measurement<double>> ObserveUnread() =>
        PerPartition((w, i) => w.UnreadMilliseconds is { } u && i < u.Length ? u[i] / 1000.0 : 0.0);

    /// <summary>One measurement per partition of the live workers, labelled with the topic and the partition.</summary>
    private static IEnumerable<Measurement<T>> PerPartition<T>(Func<WorkerBoard, int, T> value) where T : struct
    {
        if (StreamBoard.Current is not { } s) return [];
        return s.Workers.Where(w => w.Live).SelectMany(w => w.Partitions.Select((p, i) => new Measurement<T>(value(w, i),
            new KeyValuePair<string, object?>("topic", s.Topic), new KeyValuePair<string, object?>("partition", p.ToString(System.Globalization.CultureInfo.InvariantCulture)))));
    }

    /// <summary>Creates the instruments (the static constructor) so that they exist before the first scrape.</summary>
    public static void EnsureCreated() { }
}
