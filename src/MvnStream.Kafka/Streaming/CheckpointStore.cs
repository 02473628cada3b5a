using System.Text;
using Confluent.Kafka;
using MvnStream.Cluster.Protocol;
using MvnStream.Kafka.Streaming.Checkpoints;
using MvnStream.Kafka.Logging;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// Durable storage of a stream job's <see cref="StreamCheckpoint"/> (docs/ARCHITECTURE.md, "Checkpoints"): written atomically,
/// read back by the coordinator on start (also after a singleton handover or a restart).
/// "file:PATH" for local runs, "kafka:TOPIC" (the default) for clusters, "none" to keep nothing.
/// </summary>
public abstract class CheckpointStore : IDisposable
{
    public abstract string Describe();

    public abstract Task<StreamCheckpoint?> LoadAsync(string jobKey, CancellationToken cancellationToken);

    public abstract Task SaveAsync(StreamCheckpoint checkpoint, CancellationToken cancellationToken);

    public virtual void Dispose() => GC.SuppressFinalize(this);

    /// <summary>Parses a --checkpoint value.</summary>
    /// <param name="tuning">The Kafka store's call timeouts (Kafka:CheckpointTimeout, Kafka:CheckpointReadTimeout); null: the defaults.</param>
    public static CheckpointStore Create(string spec, string bootstrap, IReadOnlyList<string> kafkaProperties, StreamTunables? tuning = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Equals("none", StringComparison.OrdinalIgnoreCase)) return new NoCheckpointStore();
        if (spec.StartsWith("file:", StringComparison.Ordinal)) return new FileCheckpointStore(spec[5..]);
        if (spec.StartsWith("kafka:", StringComparison.Ordinal)) return new KafkaCheckpointStore(spec[6..], bootstrap, kafkaProperties, tuning);
        throw new ArgumentException($"checkpoint '{spec}': expected file:PATH, kafka:TOPIC or none");
    }

    /// <summary>The stored bytes of a checkpoint: <see cref="CheckpointFormat"/>, the checkpoint's own versioned format.</summary>
    internal static byte[] Encode(StreamCheckpoint checkpoint) => CheckpointFormat.Encode(checkpoint);

    /// <summary>Reads stored bytes of any format version this release knows; <paramref name="source"/> names them in errors.</summary>
    internal static StreamCheckpoint Decode(ReadOnlySpan<byte> bytes, string source) => CheckpointFormat.Decode(bytes, source);
}

/// <summary>Keeps nothing: a restarted coordinator starts from the beginning of every partition.</summary>
public sealed class NoCheckpointStore : CheckpointStore
{
    public override string Describe() => "none (state is lost when the coordinator stops)";

    public override Task<StreamCheckpoint?> LoadAsync(string jobKey, CancellationToken cancellationToken) => Task.FromResult<StreamCheckpoint?>(null);

    public override Task SaveAsync(StreamCheckpoint checkpoint, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>A file written by write-to-temporary, flush to disk, rename: a reader sees the old or the new checkpoint, never a torn one.</summary>
public sealed class FileCheckpointStore(string path) : CheckpointStore
{
    public string Path { get; } = System.IO.Path.GetFullPath(path);

    public override string Describe() => "file " + Path;

    public override async Task<StreamCheckpoint?> LoadAsync(string jobKey, CancellationToken cancellationToken)
    {
        if (!File.Exists(Path)) return null;
        var bytes = await File.ReadAllBytesAsync(Path, cancellationToken).ConfigureAwait(false);
        var cp = Decode(bytes, Path);
        if (cp.JobKey != jobKey)
            throw new InvalidDataException($"checkpoint {Path} belongs to stream '{cp.JobKey}', not '{jobKey}': use another --checkpoint path");
        return cp;
    }

    public override async Task SaveAsync(StreamCheckpoint checkpoint, CancellationToken cancellationToken)
    {
        var bytes = Encode(checkpoint);
        var dir = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(dir);
        // A temporary file of its own (ReplaceFile): a coordinator handing over may still be saving while its successor saves.
        await Task.Run(() => MvnStream.Core.IO.Durability.ReplaceFile(Path, f =>
        {
            f.Write(bytes);
            return true;
        }), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// Checkpoints as Kafka records on partition 0 of a topic: a checkpoint is split into chunks sharing an id
/// (headers mvnstream.checkpoint.id/chunk/chunks/slot), produced with idempotence and acks=all. Loading reads the
/// tail of the partition and keeps the newest complete checkpoint of the job, so a partial chunk set (a crash
/// in the middle of a save) is ignored and the previous checkpoint is used.
/// Checkpoints alternate between two slots, keyed "JOB#a0", "JOB#a1", ... and "JOB#b0", ...; a save goes to the slot
/// that does not hold the newest complete checkpoint, and switches slots only once all its chunks are acknowledged.
/// So a compacted topic (cleanup.policy=compact keeps the last record per key) always keeps one complete checkpoint,
/// even when a crash left a partial one: with a single key per chunk index, the partial set's first chunks would
/// replace the complete checkpoint's and neither would survive compaction. With delete retention, keep the topic's
/// records longer than the checkpoint interval.
/// </summary>
public sealed class KafkaCheckpointStore : CheckpointStore
{
    private const int ChunkBytes = 512 * 1024;
    private readonly IProducer<string, byte[]> _producer;
    private readonly string _topic;
    private readonly string _bootstrap;
    private readonly IReadOnlyList<string> _properties;
    private readonly TimeSpan _callTimeout;
    private readonly TimeSpan _readTimeout;

    /// <param name="tuning">Kafka:CheckpointTimeout (the watermark query, the final flush) and Kafka:CheckpointReadTimeout; null: the defaults.</param>
    public KafkaCheckpointStore(string topic, string bootstrap, IReadOnlyList<string> properties, StreamTunables? tuning = null)
    {
        if (string.IsNullOrWhiteSpace(topic)) throw new ArgumentException("kafka checkpoint needs a topic: kafka:TOPIC");
        var t = tuning ?? StreamTunables.Default;
        _callTimeout = StreamTunables.Time(t.CheckpointTimeoutSeconds, StreamTunables.Default.CheckpointTimeoutSeconds);
        _readTimeout = StreamTunables.Time(t.CheckpointReadTimeoutSeconds, StreamTunables.Default.CheckpointReadTimeoutSeconds);
        _topic = topic;
        _bootstrap = bootstrap;
        _properties = properties;
        var config = new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, EnableIdempotence = true, MessageTimeoutMs = 30000, LingerMs = 0 };
        KafkaProperties.Apply(config, properties);
        _producer = new ProducerBuilder<string, byte[]>(config).WithLogging().Build();
    }

    public override string Describe() => $"kafka topic {_topic} (partition 0)";

    /// <summary>The slot the next checkpoint is written to: never the one holding the newest complete checkpoint.</summary>
    private char _slot = 'a';

    public override Task SaveAsync(StreamCheckpoint checkpoint, CancellationToken cancellationToken) =>
        SaveChunksAsync(checkpoint, cancellationToken, int.MaxValue);

    /// <summary>Writes the first <paramref name="chunkLimit"/> chunks (all of them in <see cref="SaveAsync"/>; fewer only to leave what a crash in the middle leaves).</summary>
    internal async Task SaveChunksAsync(StreamCheckpoint checkpoint, CancellationToken cancellationToken, int chunkLimit)
    {
        var bytes = Encode(checkpoint);
        var id = Guid.NewGuid().ToString("N");
        int chunks = Math.Max(1, (bytes.Length + ChunkBytes - 1) / ChunkBytes);
        var tp = new TopicPartition(_topic, 0);
        char slot = _slot;
        for (int i = 0; i < Math.Min(chunks, chunkLimit); i++)
        {
            var part = bytes.AsSpan(i * ChunkBytes, Math.Min(ChunkBytes, bytes.Length - i * ChunkBytes)).ToArray();
            var headers = new Headers
            {
                { "mvnstream.checkpoint.id", Encoding.UTF8.GetBytes(id) },
                { "mvnstream.checkpoint.chunk", BitConverter.GetBytes(i) },
                { "mvnstream.checkpoint.chunks", BitConverter.GetBytes(chunks) },
                { "mvnstream.checkpoint.slot", [(byte)slot] },
            };
            await _producer.ProduceAsync(tp, new Message<string, byte[]> { Key = ChunkKey(checkpoint.JobKey, slot, i), Value = part, Headers = headers }, cancellationToken).ConfigureAwait(false);
        }
        if (chunkLimit >= chunks) _slot = Other(slot); // complete: the next one must not overwrite it
    }

    private static char Other(char slot) => slot == 'a' ? 'b' : 'a';

    public override Task<StreamCheckpoint?> LoadAsync(string jobKey, CancellationToken cancellationToken) =>
        Task.Run(() => Load(jobKey, cancellationToken), cancellationToken);

    private StreamCheckpoint? Load(string jobKey, CancellationToken ct)
    {
        var config = new ConsumerConfig { BootstrapServers = _bootstrap, GroupId = "mvnstream-checkpoint-reader", EnableAutoCommit = false, EnablePartitionEof = true };
        KafkaProperties.Apply(config, _properties);
        using var consumer = new ConsumerBuilder<string, byte[]>(config).WithLogging().Build();
        var tp = new TopicPartition(_topic, 0);
        WatermarkOffsets wm;
        try { wm = consumer.QueryWatermarkOffsets(tp, _callTimeout); }
        catch (KafkaException e) when (e.Error.Code is ErrorCode.UnknownTopicOrPart or ErrorCode.Local_UnknownTopic or ErrorCode.Local_UnknownPartition)
        {
            return null; // no checkpoint topic yet: nothing was ever checkpointed
        }
        if (wm.High <= wm.Low) return null;
        // Read backwards in growing windows until the newest complete checkpoint of this job is found.
        long window = 64;
        while (true)
        {
            long from = Math.Max(wm.Low, wm.High - window);
            var found = Scan(consumer, tp, from, wm.High, jobKey, ct);
            if (found is not null) return found;
            if (from == wm.Low) return null;
            window *= 4;
        }
    }

    private StreamCheckpoint? Scan(IConsumer<string, byte[]> consumer, TopicPartition tp, long from, long high, string jobKey, CancellationToken ct)
    {
        consumer.Assign(new TopicPartitionOffset(tp, from));
        var parts = new Dictionary<string, byte[]?[]>();
        byte[]? newest = null;
        long newestOffset = -1;
        char newestSlot = 'b'; // a checkpoint written before slots existed: the next save goes to slot a
        var deadline = DateTime.UtcNow + _readTimeout;
        while (DateTime.UtcNow < deadline)
        {
            ct.ThrowIfCancellationRequested();
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is null) continue;
            if (r.IsPartitionEOF || r.Offset >= high) break;
            if (r.Message.Key is null || !r.Message.Key.StartsWith(jobKey + "#", StringComparison.Ordinal) || r.Message.Headers is null) continue;
            // Not a checkpoint chunk (another writer's record under the job's key prefix): skipped, not a crash of the load.
            if (!r.Message.Headers.TryGetLastBytes("mvnstream.checkpoint.id", out var idBytes)
                || !r.Message.Headers.TryGetLastBytes("mvnstream.checkpoint.chunk", out var chunkBytes) || chunkBytes.Length != 4
                || !r.Message.Headers.TryGetLastBytes("mvnstream.checkpoint.chunks", out var chunksBytes) || chunksBytes.Length != 4)
                continue;
            var id = Encoding.UTF8.GetString(idBytes);
            int chunk = BitConverter.ToInt32(chunkBytes);
            int chunks = BitConverter.ToInt32(chunksBytes);
            if (chunks is <= 0 or > 1 << 20) continue;
            if (!parts.TryGetValue(id, out var list)) parts[id] = list = new byte[chunks][];
            if (chunk < 0 || chunk >= list.Length) continue;
            list[chunk] = r.Message.Value;
            if (list.All(x => x is not null) && r.Offset > newestOffset)
            {
                newest = list.SelectMany(x => x!).ToArray();
                newestOffset = r.Offset;
                newestSlot = r.Message.Headers.TryGetLastBytes("mvnstream.checkpoint.slot", out var sb) && sb.Length == 1 ? (char)sb[0] : 'b';
            }
        }
        consumer.Unassign();
        if (newest is not null) _slot = Other(newestSlot);
        return newest is null ? null : Decode(newest, $"checkpoint in kafka topic {_topic} at offset {newestOffset}");
    }

    private static string ChunkKey(string jobKey, char slot, int chunk) => jobKey + "#" + slot + chunk.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public override void Dispose()
    {
        _producer.Flush(_callTimeout);
        _producer.Dispose();
        base.Dispose();
    }
}
