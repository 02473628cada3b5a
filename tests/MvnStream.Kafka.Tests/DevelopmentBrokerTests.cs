using System.Net.Sockets;
using Confluent.Kafka;
using MvnStream.Kafka.Broker;
using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

public sealed class DevelopmentBrokerTests
{
    [Fact]
    public void Serves_a_separate_producer_and_a_group_consumer_over_tcp()
    {
        using var broker = DevelopmentBroker.Start();
        Assert.Single(broker.Brokers);
        Assert.Matches(@"^127\.0\.0\.1:\d+$", broker.Bootstrap);
        string topic = Topics.New("serve");
        const int n = 1000;

        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = broker.Bootstrap, LingerMs = 2 }).Build())
        {
            for (int i = 0; i < n; i++) producer.Produce(topic, new Message<Null, string> { Value = "value-" + i });
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));
        }

        // The topic exists now, so a subscribing group member sees it at once.
        var config = new ConsumerConfig
        {
            BootstrapServers = broker.Bootstrap,
            GroupId = "g-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeoutMs = 6000,
            HeartbeatIntervalMs = 500,
        };
        var seen = new List<string>();
        using (var consumer = new ConsumerBuilder<Ignore, string>(config).SetLogHandler((_, _) => { }).Build())
        {
            consumer.Subscribe(topic);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (seen.Count < n && DateTime.UtcNow < deadline)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
                if (r is { IsPartitionEOF: false }) seen.Add(r.Message.Value);
            }
            consumer.Close();
        }
        Assert.Equal(Enumerable.Range(0, n).Select(i => "value-" + i).Order(StringComparer.Ordinal), seen.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Lists_every_broker_and_creates_topics_with_four_partitions()
    {
        using var broker = DevelopmentBroker.Start(3);
        Assert.Equal(3, broker.Brokers.Count);
        Assert.Equal(3, broker.Brokers.Distinct().Count());
        Assert.Equal(string.Join(',', broker.Brokers), broker.Bootstrap);

        string topic = Topics.New("meta");
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = broker.Bootstrap }).Build();
        producer.Produce(topic, new Message<Null, string> { Value = "x" });
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = broker.Bootstrap }).Build();
        var md = admin.GetMetadata(topic, TimeSpan.FromSeconds(10));
        Assert.Equal(3, md.Brokers.Count);
        Assert.Equal(DevelopmentBroker.PartitionsPerTopic, md.Topics.Single().Partitions.Count);
    }

    [Fact]
    public void Dispose_stops_listening()
    {
        var broker = DevelopmentBroker.Start();
        var parts = broker.Bootstrap.Split(':');
        using (var open = new TcpClient()) open.Connect(parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        broker.Dispose();
        broker.Dispose(); // idempotent
        using var closed = new TcpClient();
        Assert.ThrowsAny<SocketException>(() => closed.Connect(parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void Description_says_it_is_a_development_broker_with_a_window()
    {
        Assert.Contains("development broker", DevelopmentBroker.Description);
        Assert.Contains("not durable", DevelopmentBroker.Description);
        Assert.Contains("5 MB", DevelopmentBroker.Description);
        Assert.Throws<ArgumentOutOfRangeException>(() => DevelopmentBroker.Start(0));
    }
}
