using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

/// <summary>
/// <c>mvnstream stream</c> (a real process, embedded cluster) against the development broker with hostile records:
/// records too large for the dead-letter topic, binary garbage, a bad first record. Rows the ledger covers are always
/// in the statistics, an oversized bad record is dead-lettered as a bounded record and counted, and d is the width the
/// first records agree on.
/// </summary>
[Collection("broker")]
public sealed class StreamDeadLetterTests(BrokerFixture fixture) : IDisposable
{
    private const int D = 4, PerPartition = 250, Partitions = 4;
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(180);
    private readonly string _dir = Directory.CreateTempSubdirectory("mvnstream-dlq-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>A good row r of partition p: distinct, well-conditioned values, exact in csv.</summary>
    private static double[] GoodRow(int p, int r, int d = D) =>
        Enumerable.Range(0, d).Select(j => Math.Round(Math.Sin(1.3 * r + 0.7 * j + p) * (j + 1) + 0.01 * ((r * 7 + j * 3 + p) % 11), 6)).ToArray();

    private static string Csv(double[] row) => string.Join(',', row.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    /// <summary>Produces values to explicit partitions, in order, with a producer allowed to send records of up to 10 MB.</summary>
    private void Produce(string topic, IEnumerable<(int Partition, byte[] Value)> records)
    {
        var config = new ProducerConfig { BootstrapServers = fixture.Bootstrap, MessageMaxBytes = 10_000_000, LingerMs = 5, EnableIdempotence = true };
        using var producer = new ProducerBuilder<byte[]?, byte[]>(config).SetLogHandler((_, _) => { }).Build();
        foreach (var (p, v) in records)
        {
            var key = Encoding.UTF8.GetBytes("k" + p);
            producer.ProduceAsync(new TopicPartition(topic, p), new Message<byte[]?, byte[]> { Key = key, Value = v }).GetAwaiter().GetResult();
        }
        producer.Flush(TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// 4 partitions x 250 good rows of d = 4; partition 1 holds a 3 MB record at offset 125 (over the dead-letter
    /// producer's 1 MB message limit), partition 2 a 900 KB record at offset 60 (under it) and partition 3 a record of
    /// raw invalid bytes at offset 200. Returns the good rows.
    /// </summary>
    private List<double[]> ProduceHostileTopic(string topic)
    {
        var good = new List<double[]>();
        var records = new List<(int, byte[])>();
        for (int p = 0; p < Partitions; p++)
            for (int r = 0; r < PerPartition; r++)
            {
                if (p == 1 && r == 125) records.Add((p, Encoding.ASCII.GetBytes(new string('7', 3_000_000))));
                if (p == 2 && r == 60) records.Add((p, Encoding.ASCII.GetBytes("1,2," + new string('x', 900_000))));
                if (p == 3 && r == 200) records.Add((p, [(byte)'1', (byte)',', 0x00, 0xFF, 0xFE, 0x1B, (byte)'[', (byte)'2', (byte)'J', 0x07, (byte)',', (byte)'3', (byte)',', (byte)'4']));
                var row = GoodRow(p, r);
                good.Add(row);
                records.Add((p, Encoding.ASCII.GetBytes(Csv(row))));
            }
        Produce(topic, records);
        return good;
    }

    private ProcessResult Stream(string topic, params string[] more) =>
        Processes.Run(Processes.Mvnstream(["stream", "-b", fixture.Bootstrap, "-t", topic, "--until-idle", "2s", "--model-topic", "none",
            "--tolerance", "1e-12", "--json", .. more]), StreamTimeout);

    private static JsonObject ReadJson(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    private static JsonObject Summary(ProcessResult run) =>
        JsonNode.Parse(run.Stdout.Split('\n').Last(l => l.TrimStart().StartsWith('{')))!.AsObject();

    /// <summary>Offsets the model's ledger covers (sum of next - start over its partitions).</summary>
    private static long Covered(JsonObject model) =>
        model["offsets"]!.AsObject().Sum(kv => kv.Value!["next"]!.GetValue<long>() - kv.Value!["start"]!.GetValue<long>());

    /// <summary>
    /// Defect 1 of the issue: a dead letter that could not be written (here: a 3 MB record over the dead-letter
    /// producer's limit, which used to throw out of the intake) must never let the ledger cover rows that are not in
    /// the statistics. Whatever the run's outcome, the model written holds every row of the offsets its ledger covers:
    /// covered offsets = n + rejected (each record here is one csv row; no transaction markers).
    /// </summary>
    [Fact]
    public void Rows_the_ledger_covers_are_in_the_statistics_even_when_a_dead_letter_write_fails()
    {
        string topic = Topics.New("dlq-ledger");
        ProduceHostileTopic(topic);
        string model = Path.Combine(_dir, "ledger.json"), checkpoint = Path.Combine(_dir, "ledger.ckpt");
        var run = Stream(topic, "--dim", "4", "--checkpoint", "file:" + checkpoint, "--out", model);
        string ctx = $"topic {topic}: 4 x 250 good rows, a 3 MB, a 900 KB and a binary bad record\n{run}";
        Assert.True(File.Exists(model), $"no model was written ({ctx})");
        var m = ReadJson(model);
        long n = m["n"]!.GetValue<long>(), rejected = m["rejectedRows"]!.GetValue<long>(), covered = Covered(m);
        Assert.True(covered == n + rejected,
            $"the ledger covers {covered} offsets but the statistics hold n = {n} rows and {rejected} records were rejected: rows covered by the ledger are missing from the statistics ({ctx})");
    }
}
