using System.Globalization;
using System.Text;
using Confluent.Kafka;
using MvnStream.EndToEnd.Tests.Streaming;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Faults;

/// <summary>
/// Faults in the input rather than the processes, on the suite's cluster: poison records of every kind, and a producer
/// far ahead of the stream. (Aborted transactions are not among them: the development broker acknowledges EndTxn and
/// writes no marker, and reports the high watermark as the last stable offset, so what an aborted transaction leaves in
/// the log depends on how much the producer had sent before the abort: README, "Reliability".) Each is compared with a fault-free run of the input the stream should
/// have counted (<c>mvnstream fit</c> of exactly those rows).
/// </summary>
[Collection(FaultSuiteCollection.Name)]
public sealed class InputFaultTests(FaultSuiteFixture suite, ITestOutputHelper output) : IDisposable
{
    private const int N = FaultSuiteFixture.N;
    private readonly TestScope _scope = new(output, "faults-input");

    public void Dispose() => _scope.Dispose();

    /// <summary>The fault-free run of <paramref name="rows"/> (rows of the suite's sample): <c>mvnstream fit</c> of a csv of exactly them.</summary>
    private async Task<ModelFile> FitAsync(string name, IEnumerable<int> rows)
    {
        var csv = _scope.PathOf(name + ".csv");
        MvnSample.WriteLines(csv, rows.Select(suite.Sample.CsvRow));
        (await _scope.RunAsync(["fit", csv, "--tolerance", "1e-12", "--out", _scope.PathOf(name + ".json")], TimeSpan.FromSeconds(120), "fit-" + name)).ExpectExit(0);
        return ModelFile.Load(_scope.PathOf(name + ".json"));
    }

    private static void ExpectModel(string modelPath, ModelFile reference, long n, string what, string ctx)
    {
        var m = ModelFile.Load(modelPath);
        Assert.True(m.N == n, $"model n = {m.N}, expected {n} ({ctx})");
        Check.Relative(m.Mu, reference.Mu, 1e-9, $"mu ({what} vs the fault-free run)", ctx);
        Check.Relative(m.Covariance, reference.Covariance, 1e-9, $"covariance ({what} vs the fault-free run)", ctx);
    }

    /// <summary>The kinds of poison record, each with the reason its dead letter must give.</summary>
    private enum Poison { WrongWidth, NaN, Infinity, NonNumeric, Empty, Null, Binary, Header, Oversized }

    private static byte[]? PoisonValue(Poison kind, Random rng) => kind switch
    {
        Poison.WrongWidth => Encoding.ASCII.GetBytes("1.5,2.5,3.5"),
        Poison.NaN => Encoding.ASCII.GetBytes("1,2,NaN,4,5"),
        Poison.Infinity => Encoding.ASCII.GetBytes("1,2,3,Infinity,5"),
        Poison.NonNumeric => Encoding.ASCII.GetBytes("1,2,3,4,five"),
        Poison.Empty => [],
        Poison.Null => null,
        Poison.Binary => [0x00, 0xFF, 0xFE, 0x1B, (byte)'[', (byte)'2', (byte)'J', 0x07, (byte)',', (byte)rng.Next(0x80, 0x100), 0x00, (byte)',', 0xC3, (byte)',', 0x01],
        Poison.Header => Encoding.ASCII.GetBytes("alpha,beta,gamma,delta,epsilon"),
        Poison.Oversized => Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("1.25,", 600_000))), // 3,000,000 bytes
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static bool ReasonFits(Poison kind, string reason) => kind switch
    {
        Poison.WrongWidth => reason.Contains("expected 5 values, found 3", StringComparison.Ordinal),
        Poison.NaN => reason.Contains("value 3 is NaN", StringComparison.Ordinal),
        Poison.Infinity => reason.Contains("value 4 is Infinity", StringComparison.Ordinal),
        Poison.NonNumeric => reason.Contains("value 5 'five' is not a number", StringComparison.Ordinal),
        Poison.Empty => reason.Contains("empty row", StringComparison.Ordinal),
        Poison.Null => reason.Contains("null value", StringComparison.Ordinal),
        Poison.Binary => reason.Length > 0,
        Poison.Header => reason.Contains("csv header line", StringComparison.Ordinal),
        Poison.Oversized => reason.Contains("expected 5 values", StringComparison.Ordinal),
        _ => false,
    };

    /// <summary>
    /// Scenario 6: 8,000 good rows and 1 % poison of every kind mixed in at seeded positions over the 4 partitions: 10 each
    /// of wrong width, NaN, Infinity, non-numeric, empty value, null value, binary bytes and csv header lines, and one 3 MB
    /// record (one per input: the broker keeps 5 MB per partition). Every poison record is dead-lettered once with its
    /// reason (printable ASCII, at most 512 bytes) and its source partition and offset; the 3 MB one bounded (its first
    /// 1 KiB, original size, truncated). n = accepted = 8,000, rejected = 81, exit 0 (bad records are counted, not fatal:
    /// README "Dead letters"), and the model equals the fit of the good rows.
    /// </summary>
    [Fact]
    public async Task Poison_of_every_kind_is_dead_lettered_with_its_reason_and_the_rows_are_counted_exactly()
    {
        const int good = 8_000, each = 10;
        await suite.PrepareAsync(3);
        var topic = StreamingBrokerFixture.NewTopic("poison");
        var rng = new Random(6102);
        var kinds = Enum.GetValues<Poison>().Where(k => k != Poison.Oversized).SelectMany(k => Enumerable.Repeat(k, each)).Append(Poison.Oversized).ToList();
        // Positions among the good rows: kind i goes before good row slot[i].
        var slots = Enumerable.Range(0, kinds.Count).Select(_ => rng.Next(good)).ToList();
        var poisonAt = new Dictionary<(int Partition, long Offset), Poison>();
        var config = new ProducerConfig { BootstrapServers = suite.Bootstrap, MessageMaxBytes = 10_000_000, LingerMs = 5, EnableIdempotence = true };
        var offsets = new long[4];
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(config).SetLogHandler((_, _) => { }).Build())
        {
            int sent = 0;
            void Send(byte[]? value)
            {
                int p = sent++ % 4;
                producer.Produce(new TopicPartition(topic, p), new Message<byte[]?, byte[]?> { Key = null, Value = value }, r =>
                {
                    if (r.Error.IsError) throw new InvalidOperationException($"produce to {topic}/{p} failed: {r.Error.Reason}");
                });
                offsets[p]++;
            }
            for (int row = 0; row < good; row++)
            {
                for (int i = 0; i < kinds.Count; i++)
                    if (slots[i] == row)
                    {
                        poisonAt[(sent % 4, offsets[sent % 4])] = kinds[i];
                        Send(PoisonValue(kinds[i], rng));
                    }
                Send(Encoding.ASCII.GetBytes(suite.Sample.CsvRow(row)));
            }
            Assert.True(producer.Flush(TimeSpan.FromSeconds(60)) == 0, "the poison topic's records were not all delivered");
        }
        string ctx = $"{good} good rows of {suite.Sample.Describe} and {kinds.Count} poison records ({string.Join(", ", kinds.GroupBy(k => k).Select(g => $"{g.Count()} {g.Key}"))}), topic {topic}";
        var extents = await Kcat.PartitionExtentsAsync(suite.Bootstrap, topic);
        Assert.True(extents.Values.Sum(e => e.End) == good + kinds.Count && extents.Values.All(e => e.First == 0),
            $"precondition: the topic should hold all {good + kinds.Count} records from offset 0 ({ctx})");

        var model = _scope.PathOf("model.json");
        var fit = FitAsync("good", Enumerable.Range(0, good));
        var run = await _scope.RunAsync(suite.StreamArgs(topic, model, _scope.PathOf("ck.bin")), FaultSuiteFixture.FinishTimeout, "stream");
        run.ExpectExit(0);
        var summary = StreamOutput.JsonSummary(run);
        long n = StreamOutput.Long(summary, "n"), accepted = StreamOutput.Long(summary, "acceptedRecords");
        long rejected = StreamOutput.Long(summary, "rejectedRecords"), lost = StreamOutput.Long(summary, "lostRecords");
        Assert.True(n == good && accepted == good && rejected == kinds.Count && lost == 0,
            $"n = {n}, accepted {accepted}, rejected {rejected}, lost {lost}; expected n = accepted = {good}, rejected = {kinds.Count}, lost 0 ({ctx})\n{summary.ToJsonString()}");
        ExpectModel(model, await fit, good, "stream with poison", ctx);

        var letters = DeadLetterReader.Read(suite.Bootstrap, topic + ".dlq", kinds.Count);
        Assert.True(letters.Count == kinds.Count, $"{letters.Count} dead letters in {topic}.dlq, expected {kinds.Count} ({ctx})");
        var seen = new HashSet<(int, long)>();
        foreach (var x in letters)
        {
            var at = (x.SourcePartition, x.SourceOffset);
            bool known = poisonAt.TryGetValue(at, out var kind);
            Assert.True(x.SourceTopic == topic && known,
                $"a dead letter for {x.SourceTopic}/{x.SourcePartition}@{x.SourceOffset} (reason '{x.Reason}'), which is no poison record ({ctx})");
            Assert.True(seen.Add(at), $"two dead letters for {topic}/{at.Item1}@{at.Item2} ({ctx})");
            Assert.True(x.ReasonBytes.Length is > 0 and <= 512 && x.ReasonBytes.All(b => b is >= 0x20 and <= 0x7E),
                $"the reason of {kind} at {at} must be 1-512 bytes of printable ASCII: '{Encoding.Latin1.GetString(x.ReasonBytes)}' ({ctx})");
            Assert.True(ReasonFits(kind, x.Reason), $"the dead letter of the {kind} record at {at} gives the reason '{x.Reason}' ({ctx})");
            if (kind == Poison.Oversized)
                Assert.True(x.Value.Length == 1024 && x.Headers.GetValueOrDefault("mvnstream.original.size") == "3000000" && x.Headers.GetValueOrDefault("mvnstream.truncated") == "true",
                    $"the 3 MB record's dead letter: {x.Value.Length} bytes, headers {string.Join(", ", x.Headers.Select(h => h.Key + "=" + h.Value))} ({ctx})");
        }
        output.WriteLine($"{ctx}: n = {n}, rejected {rejected}, {letters.Count} dead letters, exit 0 after {run.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>
    /// Scenario 7: the producer runs ahead: all N rows are in the topic (kcat, as fast as the broker takes them; ~1.4 MB a
    /// partition, inside the broker's 5 MB window) before the stream starts. Every row is counted once and the model is the
    /// fault-free run's.
    /// </summary>
    [Fact]
    public async Task A_stream_started_after_the_producer_has_sent_everything_counts_every_row_once()
    {
        await suite.PrepareAsync(3);
        var topic = StreamingBrokerFixture.NewTopic("ahead");
        await Kcat.ProduceFileAsync(suite.Bootstrap, topic, suite.Csv);
        var extents = await Kcat.PartitionExtentsAsync(suite.Bootstrap, topic);
        Assert.True(extents.Values.Sum(e => e.Count) == N && extents.Values.All(e => e.First == 0), "precondition: the broker holds all rows from offset 0");
        var model = _scope.PathOf("model.json");
        var stream = _scope.Start("stream", suite.StreamArgs(topic, model, _scope.PathOf("ck.bin")));
        var summary = await suite.ExpectEveryRowOnceAsync(stream, topic, model, $"all {N:N0} rows produced before the stream started", output);
        Assert.True(StreamOutput.Long(summary, "offsetsWithoutRecord") == 0, summary.ToJsonString());
    }
}

/// <summary>A dead letter read back with a plain Confluent.Kafka consumer: key, value, headers (UTF-8) and the raw reason bytes.</summary>
public sealed record DeadLetter(byte[] Value, Dictionary<string, string> Headers, byte[] ReasonBytes)
{
    public string Reason => Headers.GetValueOrDefault("mvnstream.reason", "");
    public string SourceTopic => Headers.GetValueOrDefault("mvnstream.source.topic", "");
    public int SourcePartition => int.Parse(Headers.GetValueOrDefault("mvnstream.source.partition", "-1"), CultureInfo.InvariantCulture);
    public long SourceOffset => long.Parse(Headers.GetValueOrDefault("mvnstream.source.offset", "-1"), CultureInfo.InvariantCulture);
}

public static class DeadLetterReader
{
    /// <summary>Every record of the dead-letter topic's 4 partitions from the beginning: until <paramref name="expected"/> are read (60 s at most), then any extra one.</summary>
    public static List<DeadLetter> Read(string bootstrap, string topic, int expected)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "faults-dlq-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            FetchMaxBytes = 20_000_000,
            MaxPartitionFetchBytes = 20_000_000,
        };
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        consumer.Assign(Enumerable.Range(0, 4).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var result = new List<DeadLetter>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (result.Count < expected && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is null || r.IsPartitionEOF) continue;
            result.Add(ToLetter(r));
        }
        var extra = consumer.Consume(TimeSpan.FromMilliseconds(500));
        if (extra is not null && !extra.IsPartitionEOF) result.Add(ToLetter(extra));
        consumer.Close();
        return result;
    }

    private static DeadLetter ToLetter(ConsumeResult<byte[]?, byte[]?> r)
    {
        var headers = new Dictionary<string, string>();
        foreach (var h in r.Message.Headers ?? []) headers[h.Key] = Encoding.UTF8.GetString(h.GetValueBytes() ?? []);
        var reason = r.Message.Headers is { } hs && hs.TryGetLastBytes("mvnstream.reason", out var rb) ? rb : [];
        return new DeadLetter(r.Message.Value ?? [], headers, reason);
    }
}
