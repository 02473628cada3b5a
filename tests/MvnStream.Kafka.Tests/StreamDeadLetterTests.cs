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

    /// <summary>A good row r of partition p: seeded uniform values (independent columns, so a well-conditioned fit), exact in csv.</summary>
    private static double[] GoodRow(int p, int r, int d = D)
    {
        var rng = new Random(p * 100_003 + r);
        return Enumerable.Range(0, d).Select(j => Math.Round((rng.NextDouble() - 0.5) * (j + 1) * 4 + j, 6)).ToArray();
    }

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

    /// <summary>A dead letter read back: its key, value and headers (UTF-8).</summary>
    private sealed record DeadLetter(byte[]? Key, byte[] Value, Dictionary<string, string> Headers, byte[] ReasonBytes)
    {
        public string Reason => Headers.GetValueOrDefault("mvnstream.reason", "");
        public long SourceOffset => long.Parse(Headers["mvnstream.source.offset"], CultureInfo.InvariantCulture);
        public int SourcePartition => int.Parse(Headers["mvnstream.source.partition"], CultureInfo.InvariantCulture);
    }

    /// <summary>Every record of the dead-letter topic (all its partitions, from the beginning) with its headers.</summary>
    private List<DeadLetter> ReadDeadLetters(string topic, int expected)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = fixture.Bootstrap,
            GroupId = "dlq-reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            FetchMaxBytes = 20_000_000,
            MaxPartitionFetchBytes = 20_000_000,
        };
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var result = new List<DeadLetter>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (result.Count < expected && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is null || r.IsPartitionEOF) continue;
            var headers = r.Message.Headers.ToDictionary(h => h.Key, h => Encoding.UTF8.GetString(h.GetValueBytes()));
            var reason = r.Message.Headers.TryGetLastBytes("mvnstream.reason", out var rb) ? rb : [];
            result.Add(new DeadLetter(r.Message.Key, r.Message.Value ?? [], headers, reason));
        }
        var extra = consumer.Consume(TimeSpan.FromMilliseconds(500));
        if (extra is not null && !extra.IsPartitionEOF) result.Add(new DeadLetter(extra.Message.Key, extra.Message.Value ?? [], [], []));
        return result;
    }

    private static (double[] Mean, double[] Cov) Moments(List<double[]> rows)
    {
        int d = rows[0].Length;
        var mean = new double[d];
        foreach (var r in rows) for (int j = 0; j < d; j++) mean[j] += r[j] / rows.Count;
        var cov = new double[d * d];
        foreach (var r in rows)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) cov[i * d + j] += (r[i] - mean[i]) * (r[j] - mean[j]) / rows.Count;
        return (mean, cov);
    }

    private static double Relative(double[] a, double[] b) =>
        Math.Sqrt(a.Select((v, i) => (v - b[i]) * (v - b[i])).Sum()) / Math.Sqrt(b.Sum(v => v * v));

    private static void AssertModelOf(string modelPath, List<double[]> rows, string ctx)
    {
        var m = ReadJson(modelPath);
        var mu = m["mu"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        var s = m["covariance"]!.AsArray().SelectMany(row => row!.AsArray().Select(x => x!.GetValue<double>())).ToArray();
        var (mean, cov) = Moments(rows);
        Assert.True(m["dimension"]!.GetValue<int>() == rows[0].Length, $"model dimension {m["dimension"]}, expected {rows[0].Length} ({ctx})");
        Assert.True(Relative(mu, mean) <= 1e-9 && Relative(s, cov) <= 1e-9,
            $"model vs the good rows: mu {Relative(mu, mean):E2}, covariance {Relative(s, cov):E2} relative, tolerance 1e-9 ({ctx})");
    }

    /// <summary>
    /// Defect 2 of the issue: a record larger than the dead-letter topic accepts (3 MB against the producer's 1 MB
    /// message limit) no longer stops the stream. It is dead-lettered as a bounded record (its first 1 KiB, its
    /// original size and its coordinates) and counted as rejected; the 900 KB record, under the limit, is
    /// dead-lettered whole; the stream ends with exit 0 and the model of exactly the good rows. A rerun with the same
    /// checkpoint resumes and ends the same way (no poison pill). The binary record's reason header is printable ASCII.
    /// </summary>
    [Fact]
    public void A_record_over_the_dead_letter_limit_is_dead_lettered_bounded_and_counted_and_the_stream_goes_on()
    {
        string topic = Topics.New("dlq-big");
        var good = ProduceHostileTopic(topic);
        string model = Path.Combine(_dir, "big.json"), checkpoint = Path.Combine(_dir, "big.ckpt");
        var run = Stream(topic, "--dim", "4", "--checkpoint", "file:" + checkpoint, "--out", model);
        string ctx = $"topic {topic}: 4 x 250 good rows, a 3 MB record at 1@125, a 900 KB record at 2@60, a binary record at 3@200\n{run}";
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}, expected 0: bad records, whatever their size, are dead-lettered and counted ({ctx})");
        var summary = Summary(run);
        Assert.True(summary["n"]!.GetValue<long>() == good.Count && summary["acceptedRecords"]!.GetValue<long>() == good.Count
                && summary["rejectedRecords"]!.GetValue<long>() == 3 && summary["lostRecords"]!.GetValue<long>() == 0,
            $"expected n = accepted = {good.Count}, rejected = 3, lost = 0: {summary.ToJsonString()} ({ctx})");
        AssertModelOf(model, good, ctx);

        var dlq = ReadDeadLetters(topic + ".dlq", 3);
        Assert.True(dlq.Count == 3, $"expected 3 dead letters in {topic}.dlq, found {dlq.Count} ({ctx})");
        foreach (var x in dlq)
        {
            Assert.True(x.Headers.GetValueOrDefault("mvnstream.source.topic") == topic, $"dead letter source topic {x.Headers.GetValueOrDefault("mvnstream.source.topic")} ({ctx})");
            Assert.True(x.ReasonBytes.Length is > 0 and <= 512 && x.ReasonBytes.All(b => b is >= 0x20 and <= 0x7E),
                $"reason header of {x.SourcePartition}@{x.SourceOffset} must be 1-512 bytes of printable ASCII, got '{Encoding.Latin1.GetString(x.ReasonBytes)}' ({ctx})");
        }
        var big = dlq.Single(x => x.SourcePartition == 1);
        Assert.True(big.SourceOffset == 125 && big.Value.Length == 1024 && big.Value.All(b => b == (byte)'7')
                && big.Headers.GetValueOrDefault("mvnstream.original.size") == "3000000" && big.Headers.GetValueOrDefault("mvnstream.truncated") == "true",
            $"the 3 MB record's dead letter: offset {big.SourceOffset}, {big.Value.Length} value bytes, headers {string.Join(", ", big.Headers.Where(h => h.Key != "mvnstream.reason").Select(h => h.Key + "=" + h.Value))}; "
            + $"expected offset 125, its first 1024 bytes, mvnstream.original.size=3000000, mvnstream.truncated=true ({ctx})");
        var near = dlq.Single(x => x.SourcePartition == 2);
        Assert.True(near.SourceOffset == 60 && near.Value.Length == 900_004 && !near.Headers.ContainsKey("mvnstream.truncated"),
            $"the 900 KB record is dead-lettered whole: offset {near.SourceOffset}, {near.Value.Length} bytes ({ctx})");
        var binary = dlq.Single(x => x.SourcePartition == 3);
        Assert.True(binary.SourceOffset == 200 && binary.Value.Length == 14, $"binary record's dead letter: offset {binary.SourceOffset}, {binary.Value.Length} bytes ({ctx})");

        var again = Stream(topic, "--dim", "4", "--checkpoint", "file:" + checkpoint, "--out", model);
        Assert.True(again.ExitCode == 0 && Summary(again)["n"]!.GetValue<long>() == good.Count,
            $"the rerun with the same checkpoint must resume and finish (exit 0, n = {good.Count}) ({ctx})\n--- rerun ---\n{again}");
    }

    /// <summary>
    /// A dead letter that cannot be written at all (here the dead-letter producer is limited to 1000 bytes with
    /// -X message.max.bytes=1000, so even the bounded dead letter of the 3 MB record is refused): the worker stops before
    /// counting it, and so does every worker that gets its partition next; the stream exits 1, and the ledger of what was
    /// merged never reaches the record (covered offsets = n + rejected, partition 1 ends at or before offset 125). The
    /// same command without the limit resumes from the checkpoint and counts every record exactly once: n = 1000 and the
    /// model of exactly the good rows.
    /// </summary>
    [Fact]
    public void A_worker_that_cannot_write_a_dead_letter_never_lets_the_ledger_pass_it_and_a_rerun_counts_everything_once()
    {
        string topic = Topics.New("dlq-fail");
        var good = new List<double[]>();
        var records = new List<(int, byte[])>();
        for (int p = 0; p < Partitions; p++)
            for (int r = 0; r < PerPartition; r++)
            {
                if (p == 1 && r == 125) records.Add((p, Encoding.ASCII.GetBytes(new string('7', 3_000_000))));
                var row = GoodRow(p, r);
                good.Add(row);
                records.Add((p, Encoding.ASCII.GetBytes(Csv(row))));
            }
        Produce(topic, records);
        string model = Path.Combine(_dir, "fail.json"), checkpoint = Path.Combine(_dir, "fail.ckpt");
        var run = Stream(topic, "--dim", "4", "--checkpoint", "file:" + checkpoint, "--out", model, "-X", "message.max.bytes=1000");
        string ctx = $"topic {topic}: 4 x 250 good rows, a 3 MB record at 1@125, dead-letter producer limited to 1000 bytes\n{run}";
        Assert.True(run.ExitCode == 1, $"exit {run.ExitCode}, expected 1: the dead letter cannot be written ({ctx})");
        Assert.Contains($"{topic}/1@125", run.Stderr, StringComparison.Ordinal);
        var m = ReadJson(model);
        long n = m["n"]!.GetValue<long>(), rejected = m["rejectedRows"]!.GetValue<long>(), covered = Covered(m);
        long next1 = m["offsets"]![$"{topic}/1"]?["next"]?.GetValue<long>() ?? 0;
        Assert.True(covered == n + rejected && next1 <= 125,
            $"ledger covers {covered} offsets (partition 1 up to {next1}), n = {n}, rejected = {rejected}: it must cover exactly n + rejected and stop at or before offset 125 ({ctx})");

        var again = Stream(topic, "--dim", "4", "--checkpoint", "file:" + checkpoint, "--out", model);
        string ctx2 = $"{ctx}\n--- rerun without the limit ---\n{again}";
        Assert.True(again.ExitCode == 0, $"rerun: exit {again.ExitCode}, expected 0 ({ctx2})");
        var s = Summary(again);
        Assert.True(s["n"]!.GetValue<long>() == good.Count && s["acceptedRecords"]!.GetValue<long>() == good.Count && s["rejectedRecords"]!.GetValue<long>() == 1,
            $"rerun: expected n = accepted = {good.Count}, rejected = 1: {s.ToJsonString()} ({ctx2})");
        AssertModelOf(model, good, ctx2);
    }
}
