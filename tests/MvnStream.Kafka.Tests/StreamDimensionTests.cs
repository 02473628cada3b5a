using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

/// <summary>
/// <c>mvnstream stream</c> without <c>--dim</c> (a real process against the development broker): d is the width the
/// first records agree on, not the width of whichever record comes first; when resuming, the checkpoint's d; and a
/// stream that ends without a model says so with a non-zero exit code.
/// </summary>
[Collection("broker")]
public sealed class StreamDimensionTests(BrokerFixture fixture) : IDisposable
{
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(180);
    private readonly string _dir = Directory.CreateTempSubdirectory("mvnstream-dim-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>Row r of partition p: seeded uniform values (independent columns, so the fit is well-conditioned), exact in csv.</summary>
    private static double[] Row(int p, int r, int d)
    {
        var rng = new Random(p * 100_003 + r * 7 + d);
        return Enumerable.Range(0, d).Select(j => Math.Round((rng.NextDouble() - 0.5) * (j + 2) * 3 + j, 6)).ToArray();
    }

    private static string Csv(double[] row) => string.Join(',', row.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private void Produce(string topic, IEnumerable<(int Partition, string Value)> records)
    {
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = fixture.Bootstrap, LingerMs = 5 }).SetLogHandler((_, _) => { }).Build();
        foreach (var (p, v) in records) producer.Produce(new TopicPartition(topic, p), new Message<Null, string> { Value = v });
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
    }

    private ProcessResult Stream(string topic, params string[] more) =>
        Processes.Run(Processes.Mvnstream(["stream", "-b", fixture.Bootstrap, "-t", topic, "--until-idle", "2s", "--model-topic", "none", "--json", .. more]), StreamTimeout);

    private static JsonObject Summary(ProcessResult run) =>
        JsonNode.Parse(run.Stdout.Split('\n').Last(l => l.TrimStart().StartsWith('{')))!.AsObject();

    /// <summary>
    /// Defect 4 of the issue: a first record "1,2,3" (at the start of every partition, so it is the first record whichever
    /// partition is read first) followed by 1,000 valid rows of 8 values. d is 8 (the width the first records agree on),
    /// the four "1,2,3" records are the ones rejected (dead-lettered), and the model has d = 8 and n = 1,000.
    /// </summary>
    [Fact]
    public void One_bad_first_record_does_not_decide_d()
    {
        string topic = Topics.New("dim-first");
        var records = new List<(int, string)>();
        for (int p = 0; p < 4; p++)
        {
            records.Add((p, "1,2,3"));
            for (int r = 0; r < 250; r++) records.Add((p, Csv(Row(p, r, 8))));
        }
        Produce(topic, records);
        string model = Path.Combine(_dir, "first.json");
        var run = Stream(topic, "--checkpoint", "none", "--out", model);
        string ctx = $"topic {topic}: '1,2,3' at offset 0 of each partition, then 4 x 250 rows of 8 values\n{run}";
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}, expected 0 ({ctx})");
        var s = Summary(run);
        Assert.True(s["n"]!.GetValue<long>() == 1000 && s["rejectedRecords"]!.GetValue<long>() == 4, $"expected n = 1000, rejected = 4: {s.ToJsonString()} ({ctx})");
        var m = JsonNode.Parse(File.ReadAllText(model))!.AsObject();
        Assert.True(m["dimension"]!.GetValue<int>() == 8 && m["n"]!.GetValue<long>() == 1000, $"model d = {m["dimension"]}, n = {m["n"]}; expected 8 and 1000 ({ctx})");
        Assert.Contains("d = 8", run.Stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// Resuming: the checkpoint's d wins over the records. Each partition starts with 40 records of 3 values, then 60 of
    /// 4: a first run with --dim 4 checkpoints d = 4; a second run without --dim (on which the topic's first records
    /// would say 3) resumes with d = 4 from the checkpoint and counts the 4-value rows produced since.
    /// </summary>
    [Fact]
    public void A_resumed_stream_takes_d_from_its_checkpoint()
    {
        string topic = Topics.New("dim-ckpt");
        var records = new List<(int, string)>();
        for (int p = 0; p < 4; p++)
        {
            for (int r = 0; r < 40; r++) records.Add((p, Csv(Row(p, r, 3))));
            for (int r = 0; r < 60; r++) records.Add((p, Csv(Row(p, 100 + r, 4))));
        }
        Produce(topic, records);
        string model = Path.Combine(_dir, "ckpt.json"), checkpoint = "file:" + Path.Combine(_dir, "dim.ckpt");
        var first = Stream(topic, "--dim", "4", "--checkpoint", checkpoint, "--out", model);
        Assert.True(first.ExitCode == 0 && Summary(first)["n"]!.GetValue<long>() == 240, $"first run (--dim 4): expected exit 0, n = 240\n{first}");

        Produce(topic, Enumerable.Range(0, 4).SelectMany(p => Enumerable.Range(0, 10).Select(r => (p, Csv(Row(p, 500 + r, 4))))));
        var second = Stream(topic, "--checkpoint", checkpoint, "--out", model);
        string ctx = $"topic {topic}: per partition 40 rows of 3 values, 60 + 10 of 4; second run without --dim\n{second}";
        Assert.True(second.ExitCode == 0, $"exit {second.ExitCode}, expected 0: the checkpoint says d = 4 ({ctx})");
        var s = Summary(second);
        Assert.True(s["n"]!.GetValue<long>() == 280 && s["rejectedRecords"]!.GetValue<long>() == 160, $"expected n = 280, rejected = 160: {s.ToJsonString()} ({ctx})");
    }

    /// <summary>
    /// A stream that ends without a model fails: every record of the topic is rejected (3 values where --dim says 4),
    /// so there is nothing to fit. Exit 3 (no valid rows, as for fit), no model file, and stderr says so.
    /// </summary>
    [Fact]
    public void A_stream_that_writes_no_model_exits_non_zero()
    {
        string topic = Topics.New("dim-none");
        Produce(topic, Enumerable.Range(0, 20).Select(i => (i % 4, Csv(Row(0, i, 3)))));
        string model = Path.Combine(_dir, "none.json");
        var run = Stream(topic, "--dim", "4", "--checkpoint", "none", "--out", model);
        string ctx = $"topic {topic}: 20 rows of 3 values, --dim 4\n{run}";
        Assert.True(run.ExitCode == 3, $"exit {run.ExitCode}, expected 3: no model was written ({ctx})");
        Assert.False(File.Exists(model), $"no model file may exist ({ctx})");
        Assert.Contains("no model", run.Stderr, StringComparison.Ordinal);
    }
}
