using System.Globalization;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

/// <summary>
/// <c>mvnstream stream</c> (a real process) on a topic written by a transactional producer, as Kafka Streams or any
/// exactly-once producer writes: every transaction leaves a commit or abort marker at an offset that holds no record,
/// and aborted records are never delivered under read_committed. Those offsets are not records deleted by retention.
/// </summary>
[Collection("broker")]
public sealed class StreamTransactionTests(BrokerFixture fixture)
{
    /// <summary>
    /// 8 transactions of 60 rows on each of the 4 partitions, every third one aborted: the stream counts exactly the
    /// committed rows, reports nothing lost (exit 0, not 5), says how many offsets held no record (the high watermarks
    /// minus the committed rows), and its model equals the sample mean and biased covariance of the committed rows,
    /// computed here (relative 1e-9).
    /// </summary>
    [Fact]
    public void Transaction_markers_and_aborted_records_are_not_reported_as_lost()
    {
        const int seed = 4711, d = 3, perPartition = 60, transactions = 8;
        string topic = Topics.New("txn");
        var rng = new Random(seed);
        var committed = new List<double[]>();
        var config = new ProducerConfig { BootstrapServers = fixture.Bootstrap, TransactionalId = "txn-test-" + Guid.NewGuid().ToString("N"), EnableIdempotence = true };
        using (var producer = new ProducerBuilder<Null, string>(config).SetLogHandler((_, _) => { }).Build())
        {
            producer.InitTransactions(TimeSpan.FromSeconds(30));
            for (int t = 0; t < transactions; t++)
            {
                bool abort = t % 3 == 1;
                var rows = new List<double[]>();
                producer.BeginTransaction();
                for (int p = 0; p < 4; p++)
                    for (int i = 0; i < perPartition; i++)
                    {
                        var row = Enumerable.Range(0, d).Select(j => Math.Round(j + (rng.NextDouble() - 0.5) * (j + 1), 6)).ToArray();
                        rows.Add(row);
                        producer.Produce(new TopicPartition(topic, p), new Message<Null, string>
                        {
                            Value = string.Join(',', row.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
                        });
                    }
                if (abort) producer.AbortTransaction(TimeSpan.FromSeconds(30));
                else
                {
                    producer.CommitTransaction(TimeSpan.FromSeconds(30));
                    committed.AddRange(rows);
                }
            }
        }
        var high = new long[4];
        using (var admin = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = fixture.Bootstrap, GroupId = "wm-" + Guid.NewGuid().ToString("N") }).Build())
            for (int p = 0; p < 4; p++) high[p] = admin.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)).High.Value;
        long highSum = high.Sum();
        string ctx = $"seed {seed}, d = {d}, {transactions} transactions x 4 partitions x {perPartition} rows, every third aborted; {committed.Count} committed rows, high watermarks sum {highSum}, topic {topic}";
        Assert.True(highSum > committed.Count, $"precondition: transaction markers take offsets ({ctx})");

        var dir = Directory.CreateTempSubdirectory("mvnstream-txn-").FullName;
        var model = Path.Combine(dir, "model.json");
        var run = Processes.Run(Processes.Mvnstream("stream", "-b", fixture.Bootstrap, "-t", topic, "--dim", "3", "--until-idle", "2s", "--checkpoint", "none",
            "--model-topic", "none", "--tolerance", "1e-12", "--json", "--out", model), TimeSpan.FromSeconds(150));
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}, expected 0: offsets without a record are not lost records ({ctx})\n{run}");
        var summary = JsonNode.Parse(run.Stdout.Split('\n').Last(l => l.TrimStart().StartsWith('{')))!.AsObject();
        long n = summary["n"]!.GetValue<long>(), lost = summary["lostRecords"]!.GetValue<long>(), noRecord = summary["offsetsWithoutRecord"]!.GetValue<long>();
        Assert.True(lost == 0 && n == committed.Count && summary["acceptedRecords"]!.GetValue<long>() == committed.Count,
            $"n = {n}, lost = {lost}, accepted = {summary["acceptedRecords"]}; expected the {committed.Count} committed rows and nothing lost ({ctx})\n{run}");
        Assert.True(noRecord == highSum - committed.Count, $"offsetsWithoutRecord = {noRecord}, expected {highSum} - {committed.Count} ({ctx})\n{run}");
        Assert.DoesNotContain("LOST", run.Stderr, StringComparison.Ordinal);

        // The ledger covers every partition to its end (the last commit marker included), and the consumer group's
        // committed offsets (for lag monitoring, committed after the final checkpoint) are those ends.
        var offsets = ReadJson(model)["offsets"]!.AsObject();
        using (var reader = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = fixture.Bootstrap, GroupId = "mvnstream-" + topic }).Build())
        {
            var committedOffsets = reader.Committed(Enumerable.Range(0, 4).Select(p => new TopicPartition(topic, p)), TimeSpan.FromSeconds(10));
            for (int p = 0; p < 4; p++)
            {
                long next = offsets[$"{topic}/{p}"]!["next"]!.GetValue<long>();
                long group = committedOffsets.Single(c => c.Partition.Value == p).Offset.Value;
                Assert.True(next == high[p] && group == high[p], $"partition {p}: high watermark {high[p]}, ledger next {next}, group {"mvnstream-" + topic} committed {group} ({ctx})");
            }
        }

        // The oracle: mean and biased covariance of the committed rows, two-pass.
        var mean = new double[d];
        foreach (var r in committed) for (int j = 0; j < d; j++) mean[j] += r[j] / committed.Count;
        var cov = new double[d * d];
        foreach (var r in committed)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) cov[i * d + j] += (r[i] - mean[i]) * (r[j] - mean[j]) / committed.Count;
        var mu = ReadJson(model)["mu"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        var s = ReadJson(model)["covariance"]!.AsArray().SelectMany(row => row!.AsArray().Select(x => x!.GetValue<double>())).ToArray();
        Assert.True(Relative(mu, mean) <= 1e-9 && Relative(s, cov) <= 1e-9,
            $"model vs the committed rows: mu {Relative(mu, mean):E2}, covariance {Relative(s, cov):E2} relative (tolerance 1e-9: the final solve converges to 1e-12) ({ctx})");
        Directory.Delete(dir, recursive: true);
    }

    private static JsonObject ReadJson(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    private static double Relative(double[] a, double[] b) =>
        Math.Sqrt(a.Select((v, i) => (v - b[i]) * (v - b[i])).Sum()) / Math.Sqrt(b.Sum(v => v * v));
}
