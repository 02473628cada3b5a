using System.Globalization;
using System.Text;
using MvnStream.Core.Formats;
using MvnStream.Kafka.Producing;
using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

/// <summary>Debian's kcat (librdkafka's own command-line client) as an independent client of our producer and of the broker.</summary>
[Collection("broker")]
public sealed class KcatInteropTests(BrokerFixture fixture)
{
    [Fact]
    public void Kcat_reads_back_the_csv_records_our_producer_wrote()
    {
        const int d = 4, rows = 500;
        string topic = Topics.New("kcat-read");
        var settings = KafkaClientSettings.Create(fixture.Bootstrap);
        using (var producer = new RowProducer(settings, new RowProducerOptions { Topic = topic, Format = RowFormat.Csv }))
            Assert.True(producer.Run(new SyntheticRowSource(new SyntheticSource(d, 3), rows)).AllDelivered);

        var result = Processes.Run(Processes.Command(Processes.KcatPath(), "-b", fixture.Bootstrap, "-C", "-t", topic, "-e", "-o", "beginning", "-q"),
            TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(rows, lines.Length);

        // kcat prints partition by partition; compare as multisets, text and values exact.
        var x = new SyntheticSource(d, 3).NextRows(rows);
        var expected = Enumerable.Range(0, rows)
            .Select(r => string.Join(',', x.Skip(r * d).Take(d).Select(v => v.ToString("R", CultureInfo.InvariantCulture))))
            .Order(StringComparer.Ordinal);
        Assert.Equal(expected, lines.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Rows_that_kcat_produced_from_a_file_decode_exactly()
    {
        const int d = 3, rows = 400;
        var x = new SyntheticSource(d, 17).NextRows(rows);
        var text = Enumerable.Range(0, rows)
            .Select(r => string.Join(',', x.Skip(r * d).Take(d).Select(v => v.ToString("R", CultureInfo.InvariantCulture))))
            .ToList();
        var dir = Directory.CreateTempSubdirectory("mvnstream-kcat-").FullName;
        try
        {
            var file = Path.Combine(dir, "rows.csv");
            File.WriteAllText(file, string.Join('\n', text) + "\n", new UTF8Encoding(false));
            string topic = Topics.New("kcat-write");
            var result = Processes.Run(Processes.Command(Processes.KcatPath(), "-P", "-b", fixture.Bootstrap, "-t", topic, "-l", file), TimeSpan.FromSeconds(60));
            Assert.True(result.ExitCode == 0, result.ToString());

            var back = TopicReader.ReadAll(fixture.Bootstrap, topic, rows, TimeSpan.FromSeconds(30));
            // kcat's partitioner spreads lines over partitions: order within a partition is the file's order.
            var decoded = Rows.Decode(back.OrderBy(r => r.Partition).ThenBy(r => r.Offset).Select(r => r.Value), RowFormat.Csv, 0);
            Assert.Equal(rows * d, decoded.Length);
            var byText = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int r = 0; r < rows; r++) byText[text[r]] = r;
            var seen = new HashSet<int>();
            for (int r = 0; r < rows; r++)
            {
                var row = decoded.AsSpan(r * d, d).ToArray();
                string key = string.Join(',', row.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
                Assert.True(byText.TryGetValue(key, out int original), $"decoded row {key} is not one kcat sent");
                Rows.AssertBitIdentical(x.AsSpan(original * d, d), row, d);
                Assert.True(seen.Add(original), $"row {original} came back twice");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
