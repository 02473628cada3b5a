using System.Globalization;
using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary>
/// The data of the fault tests, made once: N = 120,000 rows, d = 5 (seed 5701) in a csv file (~50 bytes a row, so
/// ~1.5 MB a partition, well inside the broker's 5 MB window even if nothing is consumed), the fault-free reference
/// (<c>mvnstream fit</c> of the file) and one development broker process for all fault tests.
/// </summary>
public sealed class StreamFaultFixture : IAsyncLifetime
{
    public const int Seed = 5701, D = 5, N = 120_000;

    private readonly TestScope _scope = new(null, "stream-faults-data");

    public DevBroker Broker { get; private set; } = null!;

    public MvnSample Sample { get; } = MvnSample.Random(Seed, D, N);

    public string Csv => _scope.PathOf("data.csv");

    public ModelFile Reference { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Sample.WriteCsv(Csv, header: false);
        var brokerTask = DevBroker.StartAsync(_scope);
        (await _scope.RunAsync(["fit", Csv, "--tolerance", "1e-12", "--out", _scope.PathOf("reference.json")])).ExpectExit(0);
        Reference = ModelFile.Load(_scope.PathOf("reference.json"));
        Broker = await brokerTask;
    }

    public Task DisposeAsync()
    {
        _scope.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>
/// The acceptance test of docs/ARCHITECTURE.md, "The offset ledger", with separate OS processes: broker, coordinator node, 3 worker nodes, producer, and the
/// stream client (<c>stream --cluster</c>). A worker or the coordinator is SIGKILLed once the stream has counted N/4 rows;
/// the stream must still end with exit 0, n = N, nothing lost, and the model of the fault-free run (fit of the same rows)
/// to 1e-9 relative (Frobenius). The producer sends 8,000 rows/s (15 s), so the kill lands while rows still arrive.
/// </summary>
[Collection(StreamFaultCollection.Name)]
public sealed partial class StreamFaultTests(StreamFaultFixture data, ITestOutputHelper output) : IClassFixture<StreamFaultFixture>, IDisposable
{
    private const int N = StreamFaultFixture.N;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    // Failover: Akka's failure detector (~5 s) + split-brain resolver (stable-after 5 s) for a coordinator, Kafka's
    // session timeout (6 s, ~11 s to reassign) for a worker, the worker's ack timeout (15 s) for contributions in flight.
    private static readonly TimeSpan FinishTimeout = TimeSpan.FromSeconds(180);

    private readonly TestScope _scope = new(output, "stream-faults");

    public void Dispose() => _scope.Dispose();

    private string Ctx(string topic) => $"{data.Sample.Describe}, topic {topic}";

    private sealed record Run(CliProcess Stream, CliProcess Producer, NodeCluster Cluster, string Topic, string ModelPath, string Status);

    /// <summary>Cluster up, producer started (topic exists), stream client started; returns once a status line shows rows >= N/4.</summary>
    /// <param name="checkpoint">--checkpoint, or null for the default (kafka:TOPIC.checkpoints).</param>
    private async Task<Run> StartAsync(string tag, string? checkpoint)
    {
        var topic = StreamingBrokerFixture.NewTopic(tag);
        var cluster = await NodeCluster.StartAsync(_scope, tag, 3);
        var producer = _scope.Start("produce", "produce", data.Csv, "-b", data.Broker.Bootstrap, "-t", topic, "--rate", "8000");
        await producer.WaitForLineAsync(OutputStream.Stderr, l => Regex.IsMatch(l, @"^produce:.*delivered [1-9]"), StartTimeout,
            "the producer's first progress line with deliveries (the topic exists)");
        var modelPath = _scope.PathOf($"{tag}.json");
        string[] args = ["stream", "--cluster", cluster.Address, "-b", data.Broker.Bootstrap, "-t", topic, "--dim", "5",
            "--until-idle", "4s", "--out", modelPath, "--json", "--tolerance", "1e-12", .. (checkpoint is null ? Array.Empty<string>() : ["--checkpoint", checkpoint])];
        var stream = _scope.Start("stream", args);
        var status = await stream.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.RowsOf(l) >= N / 4, StartTimeout,
            $"a status line with rows >= {N / 4:N0}");
        Assert.True(StreamOutput.RowsOf(status) < N, $"the stream had counted every row before the fault could be injected: '{status}' ({Ctx(topic)})");
        return new Run(stream, producer, cluster, topic, modelPath, status);
    }

    /// <summary>Exit 0, n = N, nothing lost or rejected, offsets [0, end) of every partition, model = fault-free fit to 1e-9.</summary>
    private async Task FinishAndCompareAsync(Run run, string fault)
    {
        string ctx = $"{Ctx(run.Topic)}; {fault}";
        int code = await run.Stream.WaitForExitAsync(FinishTimeout);
        if (code != 0) throw run.Stream.Failure($"the stream exited with {code}, expected 0 ({ctx})");
        int pcode = await run.Producer.WaitForExitAsync(TimeSpan.FromSeconds(60));
        if (pcode != 0) throw run.Producer.Failure($"the producer failed ({ctx})");

        var summary = StreamOutput.JsonSummary(run.Stream);
        long n = StreamOutput.Long(summary, "n"), lost = StreamOutput.Long(summary, "lostRecords");
        long accepted = StreamOutput.Long(summary, "acceptedRecords"), rejected = StreamOutput.Long(summary, "rejectedRecords");
        if (n != N || lost != 0 || accepted != N || rejected != 0)
            throw run.Stream.Failure($"expected n = accepted = {N}, rejected 0, lost 0; got n = {n}, accepted {accepted}, rejected {rejected}, lost {lost} ({ctx})\n{summary.ToJsonString()}");
        var lastStatus = run.Stream.StderrLines.LastOrDefault(l => StreamOutput.RowsOf(l) >= 0);
        if (lastStatus is not null && StreamOutput.LostOf(lastStatus) != 0) throw run.Stream.Failure($"the last status line reports a loss: '{lastStatus}' ({ctx})");

        var extents = await Kcat.PartitionExtentsAsync(data.Broker.Bootstrap, run.Topic);
        Assert.True(extents.Values.Sum(e => e.Count) == N, $"the topic holds {extents.Values.Sum(e => e.Count)} records, expected {N} ({ctx})");
        var m = ModelFile.Load(run.ModelPath);
        var offsets = StreamModel.Offsets(m);
        Assert.True(m.N == N, $"model n = {m.N}, expected {N} ({ctx})");
        foreach (var (p, e) in extents)
            Assert.True(offsets.TryGetValue($"{run.Topic}/{p}", out var o) && o.Start == 0 && o.Next == e.End,
                $"partition {p} holds [0, {e.End}); the model covers {StreamModel.Show(offsets)} ({ctx})");
        // Both sides stop L-BFGS at |grad J/n| <= 1e-12 on the same statistics (summed in different orders): 1e-9 is a real check.
        Check.Relative(m.Mu, data.Reference.Mu, 1e-9, $"mu ({fault} vs fault-free fit)", ctx);
        Check.Relative(m.Covariance, data.Reference.Covariance, 1e-9, $"covariance ({fault} vs fault-free fit)", ctx);
        var (mean, cov) = data.Sample.SampleMoments();
        Check.Relative(m.Mu, mean, 1e-9, $"mu ({fault} vs closed form)", ctx);
        Check.Relative(m.Covariance, cov, 1e-9, $"covariance ({fault} vs closed form M/n)", ctx);
        output.WriteLine($"{fault}: n = {n}, exit 0 after {run.Stream.Elapsed.TotalSeconds:F1} s; {lastStatus}");
    }

    [Fact]
    public async Task A_SIGKILLed_worker_process_loses_no_record_and_the_model_equals_the_fault_free_run()
    {
        var run = await StartAsync("killworker", "file:" + _scope.PathOf("ck.bin"));
        var (victim, victimAddress) = run.Cluster.Workers[0];
        await victim.WaitForLineAsync(OutputStream.Stderr, l => l.Contains($"consuming {run.Topic}", StringComparison.Ordinal), StartTimeout,
            $"the victim's log line 'consuming {run.Topic}' (it is a consumer-group member)");
        victim.KillAndWait(TimeSpan.FromSeconds(10));
        Assert.True(victim.HasExited, $"the killed worker {victimAddress} is still running");
        output.WriteLine($"SIGKILLed worker {victimAddress} (pid {victim.Id}) after '{run.Status}'");
        Assert.False(run.Stream.HasExited, "the stream ended before the worker was killed");

        await FinishAndCompareAsync(run, $"worker {victimAddress} SIGKILLed after '{run.Status.Trim()}'");
        // The failure detector marks the killed node unreachable within seconds; the split-brain resolver downs it (then
        // it "left") 5 s after that (stable-after). The stream may read the last records and stop on --until-idle in
        // between, so either notice names the lost worker.
        string worker = $"worker 127.0.0.1:{NodeCluster.PortOf(victimAddress)}";
        Assert.True(run.Stream.Stderr.Contains($"{worker} left", StringComparison.Ordinal) || run.Stream.Stderr.Contains($"{worker} is unreachable", StringComparison.Ordinal),
            $"stderr of the stream does not name the lost worker ('{worker} left' or '{worker} is unreachable'):\n{run.Stream.Stderr}");
    }

    [Fact]
    public async Task A_SIGKILLed_coordinator_restarted_on_its_port_resumes_from_the_file_checkpoint_and_the_model_equals_the_fault_free_run()
    {
        var checkpoint = _scope.PathOf("ck.bin");
        using var watch = new FileReplacementWatch(checkpoint);
        var run = await StartAsync("killcoord", "file:" + checkpoint);
        // Two more checkpoint writes after the status line: the second was begun after the first finished, so after
        // the status line, so it holds >= N/4 rows.
        await watch.WaitForMoreAsync(2, TimeSpan.FromSeconds(30), () => run.Stream.Describe() + "\n" + run.Cluster.Coordinator.Describe());
        await KillAndRestartCoordinatorAsync(run, minResumedRows: N / 4);
    }

    [Fact]
    public async Task A_SIGKILLed_coordinator_restarted_on_its_port_resumes_from_the_default_kafka_checkpoint_and_the_model_equals_the_fault_free_run()
    {
        var run = await StartAsync("killcoordk", checkpoint: null);
        Check.Contains($"checkpoint kafka:{run.Topic}.checkpoints", run.Stream.Stderr, "the stream's start line (the default checkpoint)");
        // Snapshots and checkpoints are written every second: 2 s of job clock after rows >= N/4 gives a Kafka checkpoint
        // that holds them (begun after the status line).
        double t = StreamOutput.SecondsOf(run.Status);
        await run.Stream.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.SecondsOf(l) >= t + 2, StartTimeout,
            $"a status line at least 2 s of job clock after '{run.Status}'");
        await KillAndRestartCoordinatorAsync(run, minResumedRows: N / 4);
    }

    private async Task KillAndRestartCoordinatorAsync(Run run, long minResumedRows)
    {
        Assert.False(run.Stream.HasExited, "the stream ended before the coordinator was killed");
        var rowsAtKill = run.Stream.StderrLines.Select(StreamOutput.RowsOf).Max();
        run.Cluster.Coordinator.KillAndWait(TimeSpan.FromSeconds(10));
        Assert.True(run.Cluster.Coordinator.HasExited, "the killed coordinator is still running");
        output.WriteLine($"SIGKILLed coordinator {run.Cluster.Address} (pid {run.Cluster.Coordinator.Id}); the last status line before the kill showed {rowsAtKill:N0} rows");

        // The same port, seeded with its own old address and a live worker's (without a live seed it would found a second cluster).
        int port = NodeCluster.PortOf(run.Cluster.Address);
        var restarted = _scope.Start("coordinator-restarted", "node", "--role", "coordinator", "--port", port.ToString(CultureInfo.InvariantCulture),
            "--seed-node", run.Cluster.Address, "--seed-node", run.Cluster.Workers[1].Address, "--config", _scope.PathOf("worker-info-log.hocon"));
        var address = await NodeCluster.WaitForNodeUpAsync(restarted, "coordinator");
        Assert.True(address == run.Cluster.Address, $"the restarted coordinator is at {address}, expected {run.Cluster.Address}");

        var resumed = await run.Stream.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.ResumedRowsOf(l) >= 0, FinishTimeout,
            "'resumed from the checkpoint with N rows' (the client re-submits the job to the restarted coordinator)");
        long resumedRows = StreamOutput.ResumedRowsOf(resumed);
        output.WriteLine($"after the restart: '{resumed}'");
        // Rows merged after the last status line before the kill may be in the checkpoint too: the bound above is N.
        Assert.True(resumedRows >= minResumedRows && resumedRows <= N,
            $"resumed with {resumedRows:N0} rows; expected between {minResumedRows:N0} (checkpointed before the kill) and {N:N0} ({Ctx(run.Topic)})\n{run.Stream.Describe()}");
        Check.Contains("the stream coordinator was lost", run.Stream.Stderr, "the stream client's note about the lost coordinator");
        await FinishAndCompareAsync(run, $"coordinator SIGKILLed at {rowsAtKill:N0} rows and restarted on port {port}");
    }
}
