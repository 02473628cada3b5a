using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Streaming;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Faults;

/// <summary>
/// The fault suite (README, "Reliability") runs alone, after the parallel collections: failure detection (1 s
/// heartbeats, 4 s pause), the split-brain resolver (5 s) and Kafka's session timeout (6 s) must not be distorted by
/// other tests on a 2-core machine. Its classes share one <see cref="FaultSuiteFixture"/>.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultSuiteCollection : ICollectionFixture<FaultSuiteFixture>
{
    public const string Name = "fault suite: real processes, one broker and one cluster (not parallel)";
}

/// <summary>A worker node process and the id the coordinator gives it ("worker 127.0.0.1:PORT" in notices).</summary>
public sealed record FaultNode(CliProcess Process, string Address)
{
    public string Id => $"worker 127.0.0.1:{NodeCluster.PortOf(Address)}";
}

/// <summary>
/// What the fault scenarios share, made once: the input (N = 60,000 rows of d = 5, seed 6101, a csv file of ~5.7 MB,
/// ~1.4 MB a partition: inside the development broker's 5 MB window even if nothing is consumed), its fault-free run
/// (<c>mvnstream fit</c> of the file, tolerance 1e-12: every scenario's model is compared with it), one development
/// broker process, and one cluster of separate node processes (a coordinator and workers, all logging at INFO) that the
/// scenarios run their <c>stream --cluster</c> clients on. Scenarios kill, stop and add workers; each begins with
/// <see cref="PrepareAsync"/>, which replaces dead workers (new processes) so that every scenario starts on 3 live ones,
/// and waits until the coordinator has finished every earlier job (it runs one job at a time).
/// </summary>
public sealed partial class FaultSuiteFixture : IAsyncLifetime
{
    public const int Seed = 6101, D = 5, N = 60_000;

    /// <summary>Rows sent before a stream starts in the rate-limited scenarios: once they are counted, the consumers are reading.</summary>
    public const int Primed = 6_000;

    public static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Bound for a stream to finish after its fault: Kafka's session timeout (6 s) and rebalance, Akka's failure detector
    /// and split-brain resolver (~10 s), the worker's ack timeout (15 s), on a loaded machine.
    /// </summary>
    public static readonly TimeSpan FinishTimeout = TimeSpan.FromSeconds(180);

    private readonly TestScope _scope = new(null, "fault-suite");
    private readonly List<FaultNode> _workers = [];
    private readonly object _gate = new();
    private int _nextWorker;

    public DevBroker Broker { get; private set; } = null!;

    public string Bootstrap => Broker.Bootstrap;

    public MvnSample Sample { get; } = MvnSample.Random(Seed, D, N);

    /// <summary>All N rows (the input of every scenario that compares with <see cref="Reference"/>).</summary>
    public string Csv => _scope.PathOf("data.csv");

    /// <summary>The first <see cref="Primed"/> rows and the rest: together exactly the rows of <see cref="Csv"/>.</summary>
    public string PrimedCsv => _scope.PathOf("primed.csv");

    public string RestCsv => _scope.PathOf("rest.csv");

    /// <summary>The fault-free run: <c>mvnstream fit data.csv --tolerance 1e-12</c>.</summary>
    public ModelFile Reference { get; private set; } = null!;

    /// <summary>The closed form (sample mean, biased covariance) of the N rows, computed here.</summary>
    public (double[] Mean, double[] Covariance) Moments { get; private set; }

    public CliProcess Coordinator { get; private set; } = null!;

    public string Address { get; private set; } = "";

    /// <summary>akka.loglevel = INFO: workers log "registered with coordinator", the coordinator its job starts and ends.</summary>
    public string InfoConfig => _scope.PathOf("info-log.hocon");

    public IReadOnlyList<FaultNode> LiveWorkers
    {
        get { lock (_gate) return _workers.Where(w => !w.Process.HasExited).ToList(); }
    }

    public async Task InitializeAsync()
    {
        Sample.WriteCsv(Csv, header: false);
        MvnSample.WriteLines(PrimedCsv, Enumerable.Range(0, Primed).Select(Sample.CsvRow));
        MvnSample.WriteLines(RestCsv, Enumerable.Range(Primed, N - Primed).Select(Sample.CsvRow));
        File.WriteAllText(InfoConfig, "akka.loglevel = INFO\n");
        var broker = DevBroker.StartAsync(_scope);
        var fit = _scope.RunAsync(["fit", Csv, "--tolerance", "1e-12", "--out", _scope.PathOf("reference.json")], TimeSpan.FromSeconds(120), "fit-reference");
        Coordinator = _scope.Start("coordinator", "node", "--role", "coordinator", "--port", "0", "--config", InfoConfig);
        Address = await NodeCluster.WaitForNodeUpAsync(Coordinator, "coordinator");
        await StartWorkersAsync(3);
        (await fit).ExpectExit(0);
        Reference = ModelFile.Load(_scope.PathOf("reference.json"));
        Moments = Sample.SampleMoments();
        Broker = await broker;
    }

    public Task DisposeAsync()
    {
        _scope.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Starts <paramref name="count"/> worker nodes seeded with the coordinator; returns once each has registered with it.</summary>
    public async Task<IReadOnlyList<FaultNode>> StartWorkersAsync(int count)
    {
        var started = Enumerable.Range(0, count)
            .Select(_ => _scope.Start($"worker{Interlocked.Increment(ref _nextWorker)}", "node", "--role", "worker", "--seed-node", Address, "--config", InfoConfig))
            .ToList();
        var addresses = await Task.WhenAll(started.Select(w => NodeCluster.WaitForNodeUpAsync(w, "worker")));
        await Task.WhenAll(started.Select(w => w.WaitForLineAsync(OutputStream.Stderr, l => l.Contains("registered with coordinator", StringComparison.Ordinal),
            NodeTimeout, "the worker's log line 'registered with coordinator'")));
        var nodes = started.Zip(addresses, (p, a) => new FaultNode(p, a)).ToList();
        lock (_gate) _workers.AddRange(nodes);
        return nodes;
    }

    /// <summary>
    /// Before a scenario: the coordinator runs no job (every job it started has finished: it refuses a second one), and
    /// exactly <paramref name="workers"/> workers are live (dead ones replaced by new processes; extra ones stopped with
    /// SIGTERM, a graceful leave).
    /// </summary>
    public async Task PrepareAsync(int workers = 3)
    {
        if (Coordinator.HasExited) throw Coordinator.Failure("the fault suite's coordinator is not running any more");
        Broker.EnsureRunning();
        await WaitForCoordinatorIdleAsync();
        var live = LiveWorkers;
        if (live.Count < workers) await StartWorkersAsync(workers - live.Count);
        foreach (var extra in live.Skip(workers))
        {
            await Signals.SendAsync(extra.Process, "TERM");
            await extra.Process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        }
    }

    [GeneratedRegex(@"stream job (\w+) epoch \d+ started")]
    private static partial Regex JobStarted();

    /// <summary>Waits until the coordinator has logged "stream job ID finished" for every job it logged as started.</summary>
    public async Task WaitForCoordinatorIdleAsync(TimeSpan? timeout = null)
    {
        var ids = Coordinator.StderrLines.Select(l => JobStarted().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct().ToList();
        foreach (var id in ids)
            await Coordinator.WaitForLineAsync(OutputStream.Stderr, l => l.Contains($"stream job {id} finished", StringComparison.Ordinal), timeout ?? FinishTimeout,
                $"the coordinator's log line 'stream job {id} finished' (it runs one job at a time)");
    }

    /// <summary>
    /// How a scenario's stream ends: <c>--max-rows N</c> where rows are still to be sent after the stream starts (an idle
    /// stop could come between the primed rows and a producer that a loaded machine starts slowly), else <c>--until-idle</c>.
    /// </summary>
    public static readonly string[] AllRows = ["--max-rows", N.ToString(CultureInfo.InvariantCulture)];

    public static string[] UntilIdle(string duration) => ["--until-idle", duration];

    /// <summary>
    /// <c>stream --cluster</c> on the suite's cluster: d = 5, a file checkpoint, no model topic, tolerance 1e-12 (so the
    /// model can be compared with the reference to 1e-9), --json summary, and <paramref name="finish"/> (default: until idle 3 s).
    /// </summary>
    public string[] StreamArgs(string topic, string model, string checkpoint, string[]? finish = null) =>
        ["stream", "--cluster", Address, "-b", Bootstrap, "-t", topic, "--dim", "5", .. finish ?? UntilIdle("3s"), "--checkpoint", "file:" + checkpoint,
            "--model-topic", "none", "--tolerance", "1e-12", "--json", "--out", model];

    /// <summary>Sends the primed rows (kcat, as fast as the broker takes them) to <paramref name="topic"/>.</summary>
    public Task ProducePrimedAsync(string topic) => Kcat.ProduceFileAsync(Bootstrap, topic, PrimedCsv);

    /// <summary>
    /// Starts the stream on a topic holding the primed rows and returns once a status line counts them all: the consumer
    /// group has formed and is reading, so a rate-limited producer started now is followed closely.
    /// </summary>
    public async Task<CliProcess> StartPrimedStreamAsync(TestScope scope, string topic, string model, string checkpoint, string name = "stream", string[]? finish = null)
    {
        await ProducePrimedAsync(topic);
        var stream = scope.Start(name, StreamArgs(topic, model, checkpoint, finish ?? AllRows));
        await stream.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.RowsOf(l) >= Primed, NodeTimeout,
            $"a status line counting the {Primed:N0} primed rows (the consumers are reading)");
        return stream;
    }

    /// <summary>Starts <c>mvnstream produce rest.csv --rate R</c>: the remaining N - primed rows.</summary>
    public CliProcess StartRest(TestScope scope, string topic, int rate) =>
        scope.Start("produce", "produce", RestCsv, "-b", Bootstrap, "-t", topic, "--rate", rate.ToString(CultureInfo.InvariantCulture));

    /// <summary>Waits for a status line with rows >= <paramref name="rows"/>; asserts the stream had not counted all N rows yet.</summary>
    public static async Task<string> WaitForRowsAsync(CliProcess stream, long rows, string why)
    {
        var line = await stream.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.RowsOf(l) >= rows, FinishTimeout, $"a status line with rows >= {rows:N0} ({why})");
        if (StreamOutput.RowsOf(line) >= N) throw stream.Failure($"the stream had counted every row before {why}: '{line}'");
        return line;
    }

    /// <summary>The last status line's rows, or 0.</summary>
    public static long RowsNow(CliProcess stream) => stream.StderrLines.Select(StreamOutput.RowsOf).DefaultIfEmpty(0).Max();

    /// <summary>The cluster's processes' output, for a failure message.</summary>
    public string DescribeCluster() =>
        Coordinator.Describe(4000) + "\n" + string.Join('\n', LiveWorkers.Select(w => w.Process.Describe(1500)));

    /// <summary>
    /// The invariant every scenario ends with (docs/ARCHITECTURE.md, "The offset ledger"): the stream exits 0 with n =
    /// accepted = N, nothing rejected or lost; the model covers [0, end) of every partition of the topic (as kcat sees
    /// it) and equals the fault-free run (the reference fit) and the closed form to 1e-9 relative (Frobenius).
    /// </summary>
    public async Task<JsonObject> ExpectEveryRowOnceAsync(CliProcess stream, string topic, string modelPath, string fault, ITestOutputHelper output)
    {
        string ctx = $"{Sample.Describe}, topic {topic}; {fault}";
        int code = await stream.WaitForExitAsync(FinishTimeout);
        if (code != 0) throw stream.Failure($"the stream exited with {code}, expected 0 ({ctx})\n--- cluster ---\n{DescribeCluster()}");
        var summary = StreamOutput.JsonSummary(stream);
        long n = StreamOutput.Long(summary, "n"), lost = StreamOutput.Long(summary, "lostRecords");
        long accepted = StreamOutput.Long(summary, "acceptedRecords"), rejected = StreamOutput.Long(summary, "rejectedRecords");
        if (n != N || lost != 0 || accepted != N || rejected != 0)
            throw stream.Failure($"expected n = accepted = {N}, rejected 0, lost 0; got n = {n}, accepted {accepted}, rejected {rejected}, lost {lost} ({ctx})\n{summary.ToJsonString()}");

        var extents = await Kcat.PartitionExtentsAsync(Bootstrap, topic);
        long held = extents.Values.Sum(e => e.Count);
        Assert.True(held == N && extents.Values.All(e => e.First == 0), $"the topic holds {held} records ({Show(extents)}), expected {N} from offset 0 ({ctx})");
        var m = ModelFile.Load(modelPath);
        var offsets = StreamModel.Offsets(m);
        Assert.True(m.N == N, $"model n = {m.N}, expected {N} ({ctx})");
        foreach (var (p, e) in extents)
            Assert.True(offsets.TryGetValue($"{topic}/{p}", out var o) && o.Start == 0 && o.Next == e.End,
                $"partition {p} holds [0, {e.End}); the model covers {StreamModel.Show(offsets)} ({ctx})");
        Check.Relative(m.Mu, Reference.Mu, 1e-9, $"mu ({fault} vs the fault-free run)", ctx);
        Check.Relative(m.Covariance, Reference.Covariance, 1e-9, $"covariance ({fault} vs the fault-free run)", ctx);
        Check.Relative(m.Mu, Moments.Mean, 1e-9, $"mu ({fault} vs closed form)", ctx);
        Check.Relative(m.Covariance, Moments.Covariance, 1e-9, $"covariance ({fault} vs closed form M/n)", ctx);
        var last = stream.StderrLines.LastOrDefault(l => StreamOutput.RowsOf(l) >= 0);
        output.WriteLine($"{fault}: n = {n}, exit 0 after {stream.Elapsed.TotalSeconds:F1} s; last status: {last}");
        return summary;
    }

    private static string Show(Dictionary<int, (long First, long End, long Count)> extents) =>
        string.Join(", ", extents.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}: [{kv.Value.First}, {kv.Value.End}) {kv.Value.Count}"));
}

/// <summary>Signals to a child process (<c>/bin/kill -SIG PID</c>): TERM, STOP, CONT. SIGKILL is <see cref="CliProcess.Kill"/>.</summary>
public static class Signals
{
    public static async Task SendAsync(CliProcess p, string signal)
    {
        using var kill = Process.Start("/bin/kill", ["-" + signal, p.Id.ToString(CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        if (kill.ExitCode != 0) throw p.Failure($"kill -{signal} {p.Id} failed (exit {kill.ExitCode})");
    }
}
