using Confluent.Kafka;
using MvnStream.Core.Formats;

namespace MvnStream.Kafka.Streaming;

/// <summary>Learns d from the first record of a topic that decodes to at least one row.</summary>
public static class TopicProbe
{
    public static async Task<int> LearnDimensionAsync(string bootstrap, string topic, RowFormat format, IReadOnlyList<string> properties,
        MvnStream.Core.IProgressSink? progress, CancellationToken cancellationToken)
    {
        return await Task.Run(() => Learn(bootstrap, topic, format, properties, progress, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private static int Learn(string bootstrap, string topic, RowFormat format, IReadOnlyList<string> properties, MvnStream.Core.IProgressSink? progress, CancellationToken ct)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "mvnstream-probe",
            EnableAutoCommit = false,
            EnablePartitionEof = false,
            TopicMetadataRefreshIntervalMs = 1000,
            SocketTimeoutMs = 10000,
        };
        KafkaProperties.Apply(config, properties);
        using var consumer = new ConsumerBuilder<Ignore, byte[]?>(config).SetLogHandler((_, _) => { }).Build();
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        var said = false;
        var buffer = new RowBuffer();
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            Metadata md;
            try { md = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)); }
            catch (KafkaException e) { throw new KafkaException(new Error(e.Error.Code, $"cannot reach the broker at {bootstrap}: {e.Error.Reason}")); }
            var t = md.Topics.FirstOrDefault();
            if (t is not null && t.Error.Code == ErrorCode.NoError && t.Partitions.Count > 0)
            {
                consumer.Assign(t.Partitions.Select(p => new TopicPartitionOffset(topic, p.PartitionId, Offset.Beginning)));
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
                while (DateTime.UtcNow < deadline)
                {
                    var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
                    if (r?.Message?.Value is not { } value) continue;
                    int d = 0;
                    buffer.Clear();
                    if (RecordDecoder.TryDecode(value, format, ref d, false, buffer) is null && buffer.Rows > 0) return d;
                }
            }
            if (!said)
            {
                progress?.Line($"waiting for a first valid record in '{topic}' to learn d (give --dim to skip) ...");
                said = true;
            }
            ct.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
        }
    }
}
