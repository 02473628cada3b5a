using System.Globalization;
using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Streaming;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Faults;

/// <summary>
/// Membership changes that are not crashes: workers added and removed while a stream reads (rescale), and a zombie, a
/// worker frozen long enough for Kafka to give its partitions away but not for Akka to notice, which then wakes up.
/// </summary>
[Collection(FaultSuiteCollection.Name)]
public sealed partial class MembershipFaultTests(FaultSuiteFixture suite, ITestOutputHelper output) : IDisposable
{
    private const int N = FaultSuiteFixture.N;
    private readonly TestScope _scope = new(output, "faults-membership");

    public void Dispose() => _scope.Dispose();

    [GeneratedRegex(@"\sworkers (\d+)\s")]
    private static partial Regex StatusWorkers();

    private static int WorkersOf(string line) =>
        StreamOutput.RowsOf(line) >= 0 && StatusWorkers().Match(line) is { Success: true } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;

    /// <summary>
    /// Scenario 9: 3 workers, then 5, then 2, while streaming. The input goes in three parts: the primed rows, rows up to 50 %
    /// and the rest, each part after the first sent at 4,000 rows/s (--max-rows N: the stream cannot finish between parts,
    /// however long a loaded machine takes to start a node). Two new worker processes are started once ~25 % is counted (the
    /// status must show 5 workers); three workers are stopped with SIGTERM (a graceful leave) once ~60 % is counted, while the
    /// last part is being sent (the status must show 2). Every row counted once, the model of the fault-free run.
    /// </summary>
    [Fact]
    public async Task Rescaling_from_3_to_5_to_2_workers_while_streaming_counts_every_row_once()
    {
        await suite.PrepareAsync(3);
        var topic = StreamingBrokerFixture.NewTopic("rescale");
        var model = _scope.PathOf("model.json");
        string Part(string name, int from, int to)
        {
            var path = _scope.PathOf(name);
            MvnSample.WriteLines(path, Enumerable.Range(from, to - from).Select(suite.Sample.CsvRow));
            return path;
        }
        var firstHalf = Part("half1.csv", FaultSuiteFixture.Primed, N / 2);
        var secondHalf = Part("half2.csv", N / 2, N);
        var stream = await suite.StartPrimedStreamAsync(_scope, topic, model, _scope.PathOf("ck.bin"));
        var producer = _scope.Start("produce1", "produce", firstHalf, "-b", suite.Bootstrap, "-t", topic, "--rate", "4000");

        var at25 = await FaultSuiteFixture.WaitForRowsAsync(stream, N / 4, "scaling out to 5");
        var original = suite.LiveWorkers;
        Assert.True(original.Count == 3, $"expected 3 workers at the start, had {original.Count}");
        var added = await suite.StartWorkersAsync(2);
        var five = await stream.WaitForLineAsync(OutputStream.Stderr, l => WorkersOf(l) == 5, FaultSuiteFixture.NodeTimeout, "a status line with 'workers 5'");
        output.WriteLine($"added {string.Join(", ", added.Select(w => w.Id))} at '{at25.Trim()}'; then '{five.Trim()}'");
        Assert.True(await producer.WaitForExitAsync(TimeSpan.FromSeconds(120)) == 0, producer.Describe());

        producer = _scope.Start("produce2", "produce", secondHalf, "-b", suite.Bootstrap, "-t", topic, "--rate", "4000");
        var at60 = await FaultSuiteFixture.WaitForRowsAsync(stream, N * 6 / 10, "scaling in to 2");
        var leaving = suite.LiveWorkers.Take(3).ToList();
        int before = stream.StderrLines.Count, seen = 0; // the predicate sees the lines in order: the first 'before' are older
        foreach (var w in leaving) await Signals.SendAsync(w.Process, "TERM");
        foreach (var w in leaving)
        {
            int code = await w.Process.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.True(code == 0, $"{w.Id} exited with {code} after SIGTERM, expected 0 (a clean leave)\n{w.Process.Describe()}");
        }
        var two = await stream.WaitForLineAsync(OutputStream.Stderr, l => ++seen > before && WorkersOf(l) == 2,
            FaultSuiteFixture.NodeTimeout, "a status line with 'workers 2' after the three left");
        output.WriteLine($"stopped {string.Join(", ", leaving.Select(w => w.Id))} at '{at60.Trim()}'; then '{two.Trim()}'");

        Assert.True(await producer.WaitForExitAsync(TimeSpan.FromSeconds(120)) == 0, producer.Describe());
        await suite.ExpectEveryRowOnceAsync(stream, topic, model, "rescaled 3 -> 5 -> 2 workers", output);
    }

    /// <summary>
    /// Scenario 8: a zombie worker. A cluster of its own (coordinator and 3 workers) whose Akka failure detector tolerates
    /// 60 s without heartbeats, far slower than Kafka's session timeout (6 s). One worker is frozen with SIGSTOP at ~30 % of
    /// the input; Kafka gives its partitions to the two others, which resume at the ledger's offsets and count every row
    /// (the status reaches N while the zombie is still frozen; Akka has noticed nothing: no "unreachable"). Then SIGCONT:
    /// whatever the zombie still held or sends late is a replay or refused by the ledger, never counted twice: n = N and
    /// the model of the fault-free run; the zombie process goes on running.
    /// </summary>
    [Fact]
    public async Task A_zombie_worker_frozen_past_the_session_timeout_has_its_late_results_dropped()
    {
        await suite.WaitForCoordinatorIdleAsync();
        var config = _scope.PathOf("slow-failure-detector.hocon");
        File.WriteAllText(config, "akka.loglevel = INFO\nakka.cluster.failure-detector.acceptable-heartbeat-pause = 60s\n");
        var coordinator = _scope.Start("zombie-coordinator", "node", "--role", "coordinator", "--port", "0", "--config", config);
        var address = await NodeCluster.WaitForNodeUpAsync(coordinator, "coordinator");
        var workers = Enumerable.Range(1, 3).Select(i => _scope.Start($"zombie-worker{i}", "node", "--role", "worker", "--seed-node", address, "--config", config)).ToList();
        var addresses = await Task.WhenAll(workers.Select(w => NodeCluster.WaitForNodeUpAsync(w, "worker")));
        await Task.WhenAll(workers.Select(w => w.WaitForLineAsync(OutputStream.Stderr, l => l.Contains("registered with coordinator", StringComparison.Ordinal),
            FaultSuiteFixture.NodeTimeout, "the worker's log line 'registered with coordinator'")));

        var topic = StreamingBrokerFixture.NewTopic("zombie");
        var model = _scope.PathOf("model.json");
        await suite.ProducePrimedAsync(topic);
        // --until-idle 10s, not --max-rows: the stream must still run when the zombie wakes up after all rows are counted.
        var args = suite.StreamArgs(topic, model, _scope.PathOf("ck.bin"), FaultSuiteFixture.UntilIdle("10s"));
        args[Array.IndexOf(args, "--cluster") + 1] = address;
        var stream = _scope.Start("stream", args);
        await stream.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.RowsOf(l) >= FaultSuiteFixture.Primed, FaultSuiteFixture.NodeTimeout,
            "a status line counting the primed rows");
        var producer = suite.StartRest(_scope, topic, 6000);
        var at30 = await FaultSuiteFixture.WaitForRowsAsync(stream, N * 3 / 10, "freezing the zombie");
        var zombie = workers[0];
        string zombieId = $"worker 127.0.0.1:{NodeCluster.PortOf(addresses[0])}";
        await Signals.SendAsync(zombie, "STOP");
        output.WriteLine($"SIGSTOPped {zombieId} (pid {zombie.Id}) at '{at30.Trim()}'");
        try
        {
            var all = await stream.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.RowsOf(l) >= N, FaultSuiteFixture.FinishTimeout,
                $"a status line counting all {N:N0} rows while {zombieId} is frozen (Kafka gave its partitions to the others)");
            output.WriteLine($"while frozen: '{all.Trim()}'");
            Assert.False(stream.HasExited, "the stream finished while the zombie was frozen");
        }
        finally
        {
            await Signals.SendAsync(zombie, "CONT");
        }
        output.WriteLine($"SIGCONT {zombieId}");
        Assert.True(await producer.WaitForExitAsync(TimeSpan.FromSeconds(120)) == 0, producer.Describe());

        var summary = await suite.ExpectEveryRowOnceAsync(stream, topic, model, $"{zombieId} frozen (SIGSTOP) past Kafka's session timeout, then resumed", output);
        Assert.DoesNotContain(stream.StderrLines, l => l.Contains($"{zombieId} is unreachable", StringComparison.Ordinal) || l.Contains($"{zombieId} left", StringComparison.Ordinal));
        Assert.False(zombie.HasExited, $"the zombie exited\n{zombie.Describe()}");
        output.WriteLine($"last status: {stream.StderrLines.LastOrDefault(l => StreamOutput.RowsOf(l) >= 0)}; summary {summary.ToJsonString()}");
        foreach (var w in workers.Append(coordinator)) w.Kill();
    }
}
