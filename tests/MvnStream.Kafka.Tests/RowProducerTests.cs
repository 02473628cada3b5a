using System.Diagnostics;
using System.Globalization;
using MvnStream.Core.Formats;
using MvnStream.Kafka.Broker;
using MvnStream.Kafka.Producing;
using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

[Collection("broker")]
public sealed class RowProducerTests(BrokerFixture fixture)
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(30);

    private ProduceSummary Produce(IRowSource source, string topic, RowFormat format, int k = 1, double rate = 0, CancellationToken ct = default,
        IProgress<ProduceProgress>? progress = null, params string[] properties)
    {
        var settings = KafkaClientSettings.Create(fixture.Bootstrap, properties);
        using var producer = new RowProducer(settings, new RowProducerOptions { Topic = topic, Format = format, RowsPerRecord = k, RowsPerSecond = rate });
        return producer.Run(source, progress, ct);
    }

    [Theory]
    [InlineData(RowFormat.Csv, 1)]
    [InlineData(RowFormat.F64, 1)]
    [InlineData(RowFormat.F64, 7)]
    [InlineData(RowFormat.Json, 1)]
    [InlineData(RowFormat.Json, 5)]
    public void Synthetic_rows_go_round_robin_and_come_back_bit_identical(RowFormat format, int k)
    {
        const int d = 6, rows = 1001;
        string topic = Topics.New("synthetic-" + format.ToName());
        var summary = Produce(new SyntheticRowSource(new SyntheticSource(d, 99), rows), topic, format, k);

        int records = (rows + k - 1) / k;
        Assert.True(summary.AllDelivered, string.Join("; ", summary.Errors));
        Assert.Equal(rows, summary.Rows);
        Assert.Equal(records, summary.Records);
        Assert.Equal(records, summary.Delivered);
        Assert.Equal(0, summary.Failed);
        Assert.Equal(DevelopmentBroker.PartitionsPerTopic, summary.Partitions);
        Assert.False(summary.Cancelled);

        var back = TopicReader.ReadAll(fixture.Bootstrap, topic, records, ReadTimeout);
        Assert.Equal(summary.Bytes, back.Sum(r => (long)r.Value.Length));
        Assert.Equal(summary.Bytes, summary.DeliveredBytesPerPartition.Sum());
        // Round-robin: record i is at partition i mod 4, offset i div 4.
        for (int i = 0; i < back.Count; i++)
        {
            Assert.Equal(i % 4, back[i].Partition);
            Assert.Equal(i / 4, back[i].Offset);
        }
        var expected = new SyntheticSource(d, 99).NextRows(rows);
        Rows.AssertBitIdentical(expected, Rows.Decode(back.Select(r => r.Value), format, d), d);
    }

    [Fact]
    public void File_rows_come_back_bit_identical_and_bad_rows_are_skipped_when_asked()
    {
        var dir = Directory.CreateTempSubdirectory("mvnstream-produce-file-").FullName;
        try
        {
            var x = new SyntheticSource(3, 5).NextRows(300);
            var lines = new List<string> { "a,b,c" };
            for (int r = 0; r < 300; r++)
            {
                lines.Add(string.Join(',', x.Skip(r * 3).Take(3).Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
                if (r == 100) lines.Add("1,2,oops");
            }
            var path = Path.Combine(dir, "rows.csv");
            File.WriteAllLines(path, lines);

            using var source = new FileRowSource(path, new RowReaderOptions { Format = RowFormat.Csv, OnBadRow = BadRowPolicy.Skip, BlockRows = 64 });
            Assert.Equal(3, source.Dimension);
            string topic = Topics.New("file");
            var summary = Produce(source, topic, RowFormat.F64, k: 10);
            Assert.True(summary.AllDelivered);
            Assert.Equal(300, summary.Rows);
            Assert.Equal(30, summary.Records);
            Assert.Equal(1, source.Reader.RowsRejected);

            var back = TopicReader.ReadAll(fixture.Bootstrap, topic, 30, ReadTimeout);
            Rows.AssertBitIdentical(x, Rows.Decode(back.Select(r => r.Value), RowFormat.F64, 3), 3);

            using var failing = new FileRowSource(path, new RowReaderOptions { Format = RowFormat.Csv, OnBadRow = BadRowPolicy.Fail, BlockRows = 64 });
            Assert.Throws<BadRowException>(() => Produce(failing, Topics.New("file-fail"), RowFormat.Csv));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Rate_limit_holds_the_run_to_at_least_rows_over_rate()
    {
        const int rows = 400;
        const double rate = 500;
        var reports = new List<ProduceProgress>();
        var clock = Stopwatch.StartNew();
        var summary = Produce(new SyntheticRowSource(new SyntheticSource(2, 1), rows), Topics.New("rate"), RowFormat.Csv, rate: rate,
            progress: new SyncProgress(reports.Add));
        clock.Stop();
        Assert.True(summary.AllDelivered);
        Assert.Equal(rows, summary.Rows);
        // Lower bounds only: a loaded machine may be slower, never faster.
        Assert.True(clock.Elapsed.TotalSeconds >= 0.8 * rows / rate, $"{rows} rows at {rate}/s took {clock.Elapsed.TotalSeconds:F3} s");
        Assert.True(summary.Elapsed.TotalSeconds >= 0.8 * rows / rate, $"summary says {summary.Elapsed.TotalSeconds:F3} s");
        Assert.NotEmpty(reports);
        Assert.Equal(rows, reports[^1].Rows);
        Assert.Equal(rows, reports[^1].Delivered);
    }

    [Fact]
    public void Cancellation_stops_after_flushing_everything_handed_over()
    {
        string topic = Topics.New("cancel");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(600));
        var summary = Produce(new SyntheticRowSource(new SyntheticSource(3, 8), 0), topic, RowFormat.Json, k: 2, rate: 2000, ct: cts.Token);
        Assert.True(summary.Cancelled);
        Assert.True(summary.Records > 0);
        Assert.Equal(summary.Records, summary.Delivered);
        Assert.Equal(0, summary.Failed);
        var back = TopicReader.ReadAll(fixture.Bootstrap, topic, (int)summary.Records, ReadTimeout);
        var expected = new SyntheticSource(3, 8).NextRows((int)summary.Rows);
        Rows.AssertBitIdentical(expected, Rows.Decode(back.Select(r => r.Value), RowFormat.Json, 3), 3);
    }

    [Fact]
    public void Unknown_librdkafka_property_is_a_settings_error()
    {
        var e = Assert.Throws<KafkaSettingsException>(() => Produce(new SyntheticRowSource(new SyntheticSource(2, 1), 1), Topics.New("bad"), RowFormat.Csv,
            properties: ["no.such.property=1"]));
        Assert.Contains("no.such.property", e.Message);
    }

    [Fact]
    public void Invalid_options_are_rejected()
    {
        var settings = KafkaClientSettings.Create(fixture.Bootstrap);
        Assert.Throws<ArgumentException>(() => new RowProducer(settings, new RowProducerOptions { Topic = " " }));
        Assert.Throws<ArgumentException>(() => new RowProducer(settings, new RowProducerOptions { Topic = "t", RowsPerRecord = 2 }));
        Assert.Throws<ArgumentException>(() => new RowProducer(settings, new RowProducerOptions { Topic = "t", RowsPerSecond = -1 }));
    }

    private sealed class SyncProgress(Action<ProduceProgress> report) : IProgress<ProduceProgress>
    {
        public void Report(ProduceProgress value) => report(value);
    }
}

/// <summary>Failures that need no shared broker (or their own).</summary>
public sealed class RowProducerFailureTests
{
    [Fact]
    public void Unreachable_broker_fails_with_a_clear_message_within_the_connect_timeout()
    {
        int port;
        using (var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            l.Start();
            port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        } // closed again: nothing listens there now
        var settings = KafkaClientSettings.Create($"127.0.0.1:{port}");
        using var producer = new RowProducer(settings, new RowProducerOptions { Topic = "t", ConnectTimeout = TimeSpan.FromSeconds(2) });
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<KafkaUnreachableException>(() => producer.Run(new SyntheticRowSource(new SyntheticSource(2, 1), 10)));
        Assert.Contains($"cannot reach Kafka at 127.0.0.1:{port}", e.Message);
        Assert.Contains("within 2 s", e.Message);
        // Bounded failure (generous: the bound is what matters, not its tightness).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Deliveries_that_fail_are_counted_and_stop_the_run()
    {
        var broker = DevelopmentBroker.Start();
        var settings = KafkaClientSettings.Create(broker.Bootstrap, ["message.timeout.ms=1500"]);
        using var producer = new RowProducer(settings, new RowProducerOptions { Topic = Topics.New("lost"), RowsPerSecond = 1000 });
        var run = producer.RunAsync(new SyntheticRowSource(new SyntheticSource(2, 1), 0));
        await Task.Delay(500);
        broker.Dispose(); // the broker vanishes under the producer
        var summary = await run.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(summary.Failed > 0);
        Assert.True(summary.StoppedOnError);
        Assert.False(summary.AllDelivered);
        Assert.NotEmpty(summary.Errors);
        Assert.Equal(summary.Records, summary.Delivered + summary.Failed);
    }
}
