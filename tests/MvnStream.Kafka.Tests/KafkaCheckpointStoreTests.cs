using Confluent.Kafka;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Statistics;
using MvnStream.Kafka.Streaming;
using MvnStream.Kafka.Tests.Checkpoints;
using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

/// <summary>
/// The Kafka checkpoint store against the development broker: a checkpoint of several chunks, a crash in the middle of
/// the next save, and log compaction (cleanup.policy=compact, which keeps only the last record of every key). The
/// development broker does not compact, so compaction is applied here exactly as Kafka defines it: the last record
/// of each key survives, in offset order, copied to a fresh topic that the store then loads from.
/// </summary>
[Collection("broker")]
public sealed class KafkaCheckpointStoreTests(BrokerFixture fixture)
{
    /// <summary>
    /// Complete checkpoints v1 and v2 (2 chunks each), then a save of v3 that stops after its first chunk (a crash).
    /// Loading the topic gives v2; loading the compacted topic must give v2 too, not nothing. A store started on the
    /// compacted topic then saves v4 whole and crashes in v5: compacted again, the load gives v4.
    /// </summary>
    [Fact]
    public async Task A_crash_in_the_middle_of_a_save_leaves_the_previous_checkpoint_loadable_even_after_compaction()
    {
        const string job = "group/rows";
        const int d = 400; // the scatter of d = 400 (lower triangle, 80,200 doubles) is 640 KB: 2 chunks of 512 KiB
        string topic = Topics.New("ckpt");
        using (var store = new KafkaCheckpointStore(topic, fixture.Bootstrap, []))
        {
            Assert.Null(await store.LoadAsync(job, CancellationToken.None));
            await store.SaveAsync(Checkpoint(job, d, 1), CancellationToken.None);
            await store.SaveAsync(Checkpoint(job, d, 2), CancellationToken.None);
            await store.SaveChunksAsync(Checkpoint(job, d, 3), CancellationToken.None, chunkLimit: 1);
        }
        Assert.True(Records(topic).Count == 5, $"precondition: 2 + 2 + 1 chunk records, found {Describe(topic)}");
        Assert.Equal(2, await LoadVersion(topic, job));

        string compacted = Compact(topic, "ckpt-compacted");
        Assert.True(await LoadVersion(compacted, job) == 2, $"after compaction of {topic} (records {Describe(topic)}) the newest complete checkpoint v2 must survive");

        using (var store = new KafkaCheckpointStore(compacted, fixture.Bootstrap, []))
        {
            Assert.Equal(2L, (await store.LoadAsync(job, CancellationToken.None))!.Version);
            await store.SaveAsync(Checkpoint(job, d, 4), CancellationToken.None);
            await store.SaveChunksAsync(Checkpoint(job, d, 5), CancellationToken.None, chunkLimit: 1);
        }
        string again = Compact(compacted, "ckpt-compacted2");
        Assert.True(await LoadVersion(again, job) == 4, $"after the restarted store saved v4 and crashed in v5, compaction must keep v4 (records {Describe(compacted)})");
    }

    /// <summary>
    /// A checkpoint that the previous release wrote to the topic (format version 1, the chunk record and headers it
    /// produced: one chunk, slot a) is loaded by this release, which then saves format version 2 beside it.
    /// </summary>
    [Fact]
    public async Task A_checkpoint_record_written_by_format_version_1_is_loaded()
    {
        string topic = Topics.New("ckpt-v1");
        var v1 = await File.ReadAllBytesAsync(Path.Combine(AppContext.BaseDirectory, "TestData", "checkpoint-v1.bin"));
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = fixture.Bootstrap, EnableIdempotence = true }).Build())
        {
            var headers = new Headers
            {
                { "mvnstream.checkpoint.id", "0123456789abcdef0123456789abcdef"u8.ToArray() },
                { "mvnstream.checkpoint.chunk", BitConverter.GetBytes(0) },
                { "mvnstream.checkpoint.chunks", BitConverter.GetBytes(1) },
                { "mvnstream.checkpoint.slot", [(byte)'a'] },
            };
            await producer.ProduceAsync(new TopicPartition(topic, 0),
                new Message<string, byte[]> { Key = KnownCheckpoint.JobKey + "#a0", Value = v1, Headers = headers });
        }
        using var store = new KafkaCheckpointStore(topic, fixture.Bootstrap, []);
        var cp = await store.LoadAsync(KnownCheckpoint.JobKey, CancellationToken.None);
        CheckpointAssert.Same(KnownCheckpoint.Create(), cp!);
        await store.SaveAsync(cp! with { Version = 18 }, CancellationToken.None);
        var records = Records(topic);
        Assert.Equal(2, records.Count);
        Assert.Equal("MVNCKPT2"u8.ToArray(), records[1].Message.Value[..8]);
        Assert.Equal(KnownCheckpoint.JobKey + "#b0", records[1].Message.Key);
        CheckpointAssert.Same(KnownCheckpoint.Create() with { Version = 18 }, (await store.LoadAsync(KnownCheckpoint.JobKey, CancellationToken.None))!);
    }

    private async Task<long?> LoadVersion(string topic, string job)
    {
        using var store = new KafkaCheckpointStore(topic, fixture.Bootstrap, []);
        return (await store.LoadAsync(job, CancellationToken.None))?.Version;
    }

    private static StreamCheckpoint Checkpoint(string job, int d, long version)
    {
        var rng = new Random((int)version);
        var stats = new SufficientStatistics(d);
        var rows = new double[(d + 1) * d];
        for (int i = 0; i < rows.Length; i++) rows[i] = rng.NextDouble();
        stats.AddBatch(rows, d + 1);
        return new StreamCheckpoint(job, 1, version, d, null, [], [], 0, 0, StatisticsData.From(stats), "rows", [0], [0], [d + 1], [0],
            d + 1, 0, 0, 0, DateTime.UtcNow);
    }

    private List<ConsumeResult<string, byte[]>> Records(string topic)
    {
        var config = new ConsumerConfig { BootstrapServers = fixture.Bootstrap, GroupId = "ck-" + Guid.NewGuid().ToString("N"), EnablePartitionEof = true, EnableAutoCommit = false };
        using var consumer = new ConsumerBuilder<string, byte[]>(config).SetLogHandler((_, _) => { }).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var all = new List<ConsumeResult<string, byte[]>>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is null) continue;
            if (r.IsPartitionEOF) return all;
            all.Add(r);
        }
        throw new TimeoutException($"did not reach the end of {topic}");
    }

    /// <summary>Kafka log compaction: the last record of every key, in offset order, written to a new topic.</summary>
    private string Compact(string topic, string prefix)
    {
        var records = Records(topic);
        var kept = records.Where((r, i) => records.Skip(i + 1).All(later => later.Message.Key != r.Message.Key)).ToList();
        string target = Topics.New(prefix);
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = fixture.Bootstrap, EnableIdempotence = true }).Build();
        foreach (var r in kept)
            producer.ProduceAsync(new TopicPartition(target, 0), new Message<string, byte[]> { Key = r.Message.Key, Value = r.Message.Value, Headers = r.Message.Headers })
                .GetAwaiter().GetResult();
        return target;
    }

    private string Describe(string topic) => string.Join(", ", Records(topic).Select(r => $"{r.Offset.Value}:{r.Message.Key}"));
}
