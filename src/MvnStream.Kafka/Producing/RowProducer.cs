using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using MvnStream.Core.Formats;
using MvnStream.Kafka.Logging;

namespace MvnStream.Kafka.Producing;

/// <summary>
/// Produces rows from an <see cref="IRowSource"/> (a file or a synthetic distribution) to a Kafka topic, encoded
/// by <see cref="RecordEncoder"/>, at an optional rate, reporting progress and counting every delivery.
/// </summary>
/// <remarks>
/// <para><b>Partitioning.</b> Records have null keys and are spread round-robin over the topic's partitions
/// (record i goes to partition i mod P, P read from the topic's metadata before the first record), so every
/// partition gets the same share. When P cannot be learned (the topic is still being created), records go to
/// <see cref="Partition.Any"/> and librdkafka's default partitioner places them (sticky random for null keys);
/// <see cref="ProduceSummary.Partitions"/> is then 0.</para>
/// <para><b>Time limits.</b> Before producing, the cluster's metadata must arrive within
/// <see cref="RowProducerOptions.ConnectTimeout"/>, else <see cref="KafkaUnreachableException"/> (with
/// librdkafka's last error, e.g. "Connection refused" or an SSL handshake failure). Each record must be delivered
/// within <c>message.timeout.ms</c> (30 s unless overridden), else it counts as failed; by default the first
/// failure stops the run (<see cref="RowProducerOptions.StopOnDeliveryError"/>).</para>
/// <para><b>Cancellation</b> stops reading rows, then flushes what was handed to the client (bounded by the
/// delivery timeout) and returns the summary with <see cref="ProduceSummary.Cancelled"/> set.</para>
/// <para><b>The development broker keeps only the last 5 MB of each partition.</b> A producer that runs more
/// than that ahead of a consumer makes the consumer lose the oldest records. This class does not throttle
/// against consumers: produce at a <see cref="RowProducerOptions.RowsPerSecond"/> the consumers keep up with,
/// and compare <see cref="ProduceSummary.MaxPartitionBytes"/> with
/// <see cref="Broker.DevelopmentBroker.PartitionWindowBytes"/> (the CLI warns when it is exceeded).</para>
/// </remarks>
public sealed class RowProducer : IDisposable
{
    private const int MaxErrorKinds = 10;

    private readonly RowProducerOptions _options;
    private readonly IProducer<Null, byte[]> _producer;
    private readonly Action<string>? _log;
    private readonly object _gate = new();
    private readonly Dictionary<string, long> _errors = [];
    private readonly Dictionary<int, long> _partitionBytes = [];
    private readonly TimeSpan _deliveryTimeout;
    private readonly string _bootstrap;
    private string? _lastClientError;
    private long _delivered;
    private long _failed;
    private bool _disposed;

    /// <summary>Creates the Kafka producer (no connection is made yet).</summary>
    /// <param name="settings">Bootstrap and pass-through properties.</param>
    /// <param name="options">Topic, encoding, rate and time limits.</param>
    /// <param name="log">Receives librdkafka's log and error lines; null = the log goes to the process's logging (errors still reach the exceptions and summary).</param>
    /// <exception cref="KafkaSettingsException">librdkafka rejects a property (unknown key or invalid value).</exception>
    /// <exception cref="ArgumentException">Invalid options (empty topic, csv with several rows per record, negative rate).</exception>
    public RowProducer(KafkaClientSettings settings, RowProducerOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Topic)) throw new ArgumentException("the topic name is empty", nameof(options));
        if (options.RowsPerRecord < 1) throw new ArgumentException($"rows per record must be at least 1, not {options.RowsPerRecord}", nameof(options));
        if (options.Format == RowFormat.Csv && options.RowsPerRecord != 1)
            throw new ArgumentException($"a csv record holds one row, so rows per record must be 1, not {options.RowsPerRecord}; use f64 or json for blocks", nameof(options));
        if (!(options.RowsPerSecond >= 0) || double.IsInfinity(options.RowsPerSecond))
            throw new ArgumentException($"the rate must be a finite number of rows per second >= 0 (0 = as fast as possible), not {options.RowsPerSecond}", nameof(options));
        if (options.ConnectTimeout <= TimeSpan.Zero) throw new ArgumentException("the connect timeout must be positive", nameof(options));
        _options = options;
        _log = log;
        _bootstrap = settings.Bootstrap;

        var config = settings.ProducerConfig();
        // message.timeout.ms = 0 means "no limit" to librdkafka; the final flush still needs a bound.
        _deliveryTimeout = TimeSpan.FromMilliseconds(config.MessageTimeoutMs is > 0 and var ms ? ms : 300_000);
        try
        {
            _producer = new ProducerBuilder<Null, byte[]>(config)
                // Errors are kept for the producer's own message (as before); the log goes through the logging, or to the
                // caller's callback when there is one (docs/ARCHITECTURE.md, "Logging").
                .SetErrorHandler((_, e) =>
                {
                    _lastClientError = e.Reason;
                    _log?.Invoke($"librdkafka error: {e.Reason}");
                })
                .SetLogHandler((_, m) =>
                {
                    if (_log is null) KafkaLogging.Log(m);
                    else _log($"librdkafka {m.Level} {m.Facility}: {m.Message}");
                })
                .Build();
        }
        catch (Exception e) when (e is ArgumentException or KafkaException or InvalidOperationException)
        {
            throw new KafkaSettingsException($"invalid Kafka client configuration: {e.Message}", e);
        }
    }

    /// <summary>
    /// Produces every row of <paramref name="source"/> (until it ends, <paramref name="cancellationToken"/> is
    /// cancelled, or a delivery fails), flushes, and returns the counts. Blocks the calling thread.
    /// </summary>
    /// <exception cref="KafkaUnreachableException">No metadata within <see cref="RowProducerOptions.ConnectTimeout"/>.</exception>
    /// <exception cref="BadRowException">A file source met a bad row under <see cref="BadRowPolicy.Fail"/>
    /// (records already handed over are flushed first).</exception>
    public ProduceSummary Run(IRowSource source, IProgress<ProduceProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int d = source.Dimension;
        int k = _options.RowsPerRecord;
        var encoder = new RecordEncoder(_options.Format, d, k);
        int partitions = DiscoverPartitions(cancellationToken);
        if (cancellationToken.IsCancellationRequested)
            return Summarize(0, 0, 0, TimeSpan.Zero, partitions, cancelled: true, stoppedOnError: false);

        var bucket = _options.RowsPerSecond > 0
            ? new TokenBucket(_options.RowsPerSecond, Math.Max(k, _options.RowsPerSecond * 0.05))
            : null;
        // Read ahead at most ~0.1 s of rows when rate limited, so cancellation does not discard much.
        int recordsPerChunk = bucket is null ? 1024 : (int)Math.Clamp(_options.RowsPerSecond * 0.1 / k, 1, 1024);
        var rows = new double[checked(recordsPerChunk * k * d)];
        var topic = _options.Topic;
        Action<DeliveryReport<Null, byte[]>> onDelivery = OnDelivery;

        long rowCount = 0, records = 0, bytes = 0;
        bool cancelled = false, stoppedOnError = false;
        var clock = Stopwatch.StartNew();
        var lastProgress = TimeSpan.Zero;
        Exception? sourceError = null;
        try
        {
            while (true)
            {
                if (cancellationToken.IsCancellationRequested) { cancelled = true; break; }
                if (_options.StopOnDeliveryError && Interlocked.Read(ref _failed) > 0) { stoppedOnError = true; break; }
                int n = source.ReadRows(rows, recordsPerChunk * k);
                if (n == 0) break;
                for (int first = 0; first < n; first += k)
                {
                    int take = Math.Min(k, n - first);
                    if (bucket is not null)
                    {
                        var wait = bucket.Take(take);
                        if (wait > TimeSpan.Zero && cancellationToken.WaitHandle.WaitOne(wait)) { cancelled = true; break; }
                    }
                    var value = encoder.Encode(rows.AsSpan(first * d, take * d));
                    var message = new Message<Null, byte[]> { Value = value };
                    var tp = partitions > 0
                        ? new TopicPartition(topic, new Partition((int)(records % partitions)))
                        : new TopicPartition(topic, Partition.Any);
                    if (!Hand(tp, message, onDelivery, cancellationToken)) { cancelled = true; break; }
                    records++;
                    rowCount += take;
                    bytes += value.Length;

                    if (progress is not null && clock.Elapsed - lastProgress >= _options.ProgressInterval)
                    {
                        lastProgress = clock.Elapsed;
                        progress.Report(new ProduceProgress(rowCount, records, bytes, Interlocked.Read(ref _delivered), Interlocked.Read(ref _failed), lastProgress));
                    }
                    if (_options.StopOnDeliveryError && Interlocked.Read(ref _failed) > 0) { stoppedOnError = true; break; }
                }
                if (cancelled || stoppedOnError) break;
            }
        }
        catch (Exception e) when (e is BadRowException or IOException or InvalidDataException)
        {
            sourceError = e;
        }

        FlushAll(cancelled);
        var elapsed = clock.Elapsed;
        var summary = Summarize(rowCount, records, bytes, elapsed, partitions, cancelled, stoppedOnError);
        progress?.Report(new ProduceProgress(rowCount, records, bytes, summary.Delivered, summary.Failed, elapsed));
        if (sourceError is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(sourceError).Throw();
        return summary;
    }

    /// <summary>Runs <see cref="Run"/> on a thread-pool thread.</summary>
    public Task<ProduceSummary> RunAsync(IRowSource source, IProgress<ProduceProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Factory.StartNew(() => Run(source, progress, cancellationToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Hands one record to librdkafka, waiting while its queue is full. False when cancelled while waiting.</summary>
    private bool Hand(TopicPartition tp, Message<Null, byte[]> message, Action<DeliveryReport<Null, byte[]>> onDelivery, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                _producer.Produce(tp, message, onDelivery);
                return true;
            }
            catch (ProduceException<Null, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                if (ct.WaitHandle.WaitOne(5)) return false;
            }
        }
    }

    private void OnDelivery(DeliveryReport<Null, byte[]> report)
    {
        if (report.Error.IsError)
        {
            Interlocked.Increment(ref _failed);
            lock (_gate)
            {
                string reason = report.Error.Reason;
                if (_errors.TryGetValue(reason, out long c)) _errors[reason] = c + 1;
                else if (_errors.Count < MaxErrorKinds) _errors[reason] = 1;
            }
            return;
        }
        Interlocked.Increment(ref _delivered);
        int p = report.Partition.Value;
        long len = report.Message?.Value?.Length ?? 0;
        lock (_gate)
        {
            _partitionBytes[p] = _partitionBytes.GetValueOrDefault(p) + len;
        }
    }

    /// <summary>
    /// Waits for the cluster's metadata (the reachability check) and returns the topic's partition count, or 0
    /// when the topic does not list partitions yet. Asking a producer's metadata for a missing topic lets the
    /// broker auto-create it, so a second look usually finds it.
    /// </summary>
    private int DiscoverPartitions(CancellationToken ct)
    {
        using var admin = new DependentAdminClientBuilder(_producer.Handle).Build();
        var clock = Stopwatch.StartNew();
        Metadata? md = null;
        KafkaException? failure = null;
        while (md is null)
        {
            var left = _options.ConnectTimeout - clock.Elapsed;
            if (left <= TimeSpan.Zero || ct.IsCancellationRequested) break;
            try
            {
                md = admin.GetMetadata(_options.Topic, left);
            }
            catch (KafkaException e)
            {
                failure = e;
                if (ct.WaitHandle.WaitOne(100)) break;
            }
        }
        if (md is null)
        {
            if (ct.IsCancellationRequested) return 0;
            string why = _lastClientError ?? failure?.Error.Reason ?? "no answer";
            throw new KafkaUnreachableException(
                $"cannot reach Kafka at {_bootstrap}: no cluster metadata within {_options.ConnectTimeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s ({why}); check --bootstrap and the TLS/SASL properties",
                failure);
        }

        for (int attempt = 0; ; attempt++)
        {
            var t = md.Topics.FirstOrDefault(x => x.Topic == _options.Topic);
            if (t is not null && !t.Error.IsError && t.Partitions.Count > 0) return t.Partitions.Count;
            if (attempt >= 20 || clock.Elapsed >= _options.ConnectTimeout || ct.WaitHandle.WaitOne(50)) return 0;
            try { md = admin.GetMetadata(_options.Topic, TimeSpan.FromSeconds(1)); }
            catch (KafkaException) { return 0; }
        }
    }

    private void FlushAll(bool cancelled)
    {
        // Deliveries end by message.timeout.ms at the latest; after Ctrl-C stay within the CLI's 30 s grace period.
        var limit = _deliveryTimeout + TimeSpan.FromSeconds(5);
        if (cancelled && limit > TimeSpan.FromSeconds(25)) limit = TimeSpan.FromSeconds(25);
        _producer.Flush(limit);
    }

    private ProduceSummary Summarize(long rows, long records, long bytes, TimeSpan elapsed, int partitions, bool cancelled, bool stoppedOnError)
    {
        long delivered = Interlocked.Read(ref _delivered);
        long failed = Interlocked.Read(ref _failed);
        long outstanding = records - delivered - failed;
        List<string> errors;
        long[] perPartition;
        lock (_gate)
        {
            errors = _errors.Select(e => e.Value > 1 ? $"{e.Key} (x{e.Value})" : e.Key).ToList();
            int count = Math.Max(partitions, _partitionBytes.Count == 0 ? 0 : _partitionBytes.Keys.Max() + 1);
            perPartition = new long[count];
            foreach (var (p, b) in _partitionBytes)
                if (p >= 0) perPartition[p] = b;
        }
        if (outstanding > 0)
        {
            failed += outstanding;
            errors.Add($"{outstanding} record(s) still unacknowledged after the final flush");
        }
        return new ProduceSummary
        {
            Rows = rows,
            Records = records,
            Bytes = bytes,
            Delivered = delivered,
            Failed = failed,
            Elapsed = elapsed,
            Cancelled = cancelled,
            StoppedOnError = stoppedOnError,
            Partitions = partitions,
            DeliveredBytesPerPartition = perPartition,
            Errors = errors,
        };
    }

    /// <summary>Closes the Kafka producer (after <see cref="Run"/> has flushed).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _producer.Dispose();
    }
}
