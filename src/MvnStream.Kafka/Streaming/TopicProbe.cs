using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Formats;
using MvnStream.Kafka.Logging;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// Learns d from the first records of a topic: the width (values per row) that most of the first
/// <see cref="SamplePerPartition"/> records of every partition agree on, so one bad first record cannot decide it
/// (the records of other widths are then rejected and dead-lettered by the stream). A resumed stream takes d from its
/// checkpoint instead (the coordinator, see <see cref="InferredKey"/>).
/// </summary>
public static class TopicProbe
{
    /// <summary>Records read from the start of each partition to vote on d.</summary>
    public const int SamplePerPartition = 64;

    /// <summary>Fewer valid records than this, in a topic still being written, wait up to <see cref="ThinSampleWait"/> for more before d is decided.</summary>
    public const int MinSample = 16;

    private static readonly TimeSpan ThinSampleWait = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Carried in the job's Kafka properties (mvnstream's own key, never given to librdkafka) when d was learned from the
    /// records rather than given: then a checkpoint's d wins over it.
    /// </summary>
    public const string InferredKey = "mvnstream.dimension.inferred";

    /// <param name="tuning">The Kafka call timeouts (Kafka:MetadataTimeout, Kafka:WatermarkTimeout); null: the defaults.</param>
    public static async Task<int> LearnDimensionAsync(string bootstrap, string topic, RowFormat format, IReadOnlyList<string> properties,
        MvnStream.Core.IProgressSink? progress, CancellationToken cancellationToken, StreamTunables? tuning = null)
    {
        var t = tuning ?? StreamTunables.Default;
        var timeouts = (Metadata: StreamTunables.Time(t.MetadataTimeoutSeconds, StreamTunables.Default.MetadataTimeoutSeconds),
            Watermark: StreamTunables.Time(t.WatermarkTimeoutSeconds, StreamTunables.Default.WatermarkTimeoutSeconds));
        return await Task.Run(() => Learn(bootstrap, topic, format, properties, progress, timeouts, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private static int Learn(string bootstrap, string topic, RowFormat format, IReadOnlyList<string> properties, MvnStream.Core.IProgressSink? progress,
        (TimeSpan Metadata, TimeSpan Watermark) timeouts, CancellationToken ct)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "mvnstream-probe",
            EnableAutoCommit = false,
            EnablePartitionEof = true,
            TopicMetadataRefreshIntervalMs = 1000,
            SocketTimeoutMs = 10000,
        };
        KafkaProperties.Apply(config, properties);
        using var consumer = new ConsumerBuilder<Ignore, byte[]?>(config).WithLogging().Build();
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        var said = false;
        Stopwatch? firstSeen = null;
        int window = SamplePerPartition;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            Metadata md;
            try { md = admin.GetMetadata(topic, timeouts.Metadata); }
            catch (KafkaException e) { throw new KafkaException(new Error(e.Error.Code, $"cannot reach the broker at {bootstrap}: {e.Error.Reason}")); }
            var t = md.Topics.FirstOrDefault();
            if (t is not null && t.Error.Code == ErrorCode.NoError && t.Partitions.Count > 0)
            {
                var sample = Sample(consumer, topic, t.Partitions.Select(p => p.PartitionId).ToList(), format, window, timeouts.Watermark, ct);
                if (sample.Votes.Count > 0) firstSeen ??= Stopwatch.StartNew();
                int total = sample.Votes.Values.Sum();
                bool thin = firstSeen is not null && total < MinSample && !sample.WindowFull && firstSeen.Elapsed < ThinSampleWait;
                if (sample.Votes.Count > 0 && !thin)
                {
                    // The most common width; a tie goes to the width met first.
                    var best = sample.Votes.OrderByDescending(v => v.Value).ThenBy(v => sample.FirstSeen[v.Key]).First();
                    var others = sample.Votes.Where(v => v.Key != best.Key).OrderByDescending(v => v.Value)
                        .Select(v => string.Create(CultureInfo.InvariantCulture, $"{v.Value} with {v.Key}")).ToList();
                    progress?.Line(string.Create(CultureInfo.InvariantCulture,
                        $"d = {best.Key}, learned from the first records of '{topic}': {best.Value} of {total} valid records have {best.Key} values")
                        + (others.Count > 0 ? $" ({string.Join(", ", others)}: those will be rejected and dead-lettered; give --dim to choose)" : ""));
                    return best.Key;
                }
                // Every record read is invalid but there are more: look further.
                if (sample.Votes.Count == 0 && sample.WindowFull && window < 1 << 16) window *= 4;
            }
            if (!said)
            {
                progress?.Line($"waiting for valid records in '{topic}' to learn d (give --dim to skip) ...");
                said = true;
            }
            ct.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(500));
        }
    }

    private sealed record SampleResult(Dictionary<int, int> Votes, Dictionary<int, int> FirstSeen, bool WindowFull);

    /// <summary>
    /// Reads up to <paramref name="window"/> records from the start of each partition (its low watermark) and counts the
    /// widths of those that decode. <see cref="SampleResult.WindowFull"/>: some partition holds more than the window.
    /// </summary>
    private static SampleResult Sample(IConsumer<Ignore, byte[]?> consumer, string topic, List<int> partitions, RowFormat format, int window,
        TimeSpan watermarkTimeout, CancellationToken ct)
    {
        var votes = new Dictionary<int, int>();
        var firstSeen = new Dictionary<int, int>();
        var targets = new Dictionary<int, long>();
        bool full = false;
        var assign = new List<TopicPartitionOffset>();
        foreach (int p in partitions)
        {
            WatermarkOffsets wm;
            try { wm = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), watermarkTimeout); }
            catch (KafkaException) { continue; }
            long low = Math.Max(0, wm.Low.Value), high = wm.High.Value;
            if (high <= low) continue;
            long end = Math.Min(high, low + window);
            full |= high > end;
            targets[p] = end;
            assign.Add(new TopicPartitionOffset(topic, p, low));
        }
        if (assign.Count == 0) return new SampleResult(votes, firstSeen, false);
        consumer.Assign(assign);
        var buffer = new RowBuffer();
        var deadline = Stopwatch.StartNew();
        int seen = 0;
        try
        {
            while (targets.Count > 0 && deadline.Elapsed < TimeSpan.FromSeconds(10) && !ct.IsCancellationRequested)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (r is null) continue;
                int p = r.Partition.Value;
                if (!targets.TryGetValue(p, out long end)) continue;
                if (r.IsPartitionEOF || r.Offset.Value + 1 >= end) targets.Remove(p);
                if (r.IsPartitionEOF || r.Offset.Value >= end || r.Message?.Value is not { } value) continue;
                int d = 0;
                buffer.Reset(0);
                if (RecordDecoder.TryDecode(value, format, ref d, false, buffer) is null && buffer.Rows > 0)
                {
                    votes[d] = votes.GetValueOrDefault(d) + 1;
                    firstSeen.TryAdd(d, seen++);
                }
            }
        }
        finally
        {
            consumer.Unassign();
        }
        return new SampleResult(votes, firstSeen, full);
    }
}
