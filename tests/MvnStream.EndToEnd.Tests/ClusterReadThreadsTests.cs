using System.Text.Json.Nodes;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>
/// Workers read their shards on several threads (setting Node:WorkerThreads, fit --threads-per-worker): a cluster of separate
/// OS processes (a coordinator node, 3 worker nodes, the fit as a client) fits what one process fits, a worker SIGKILLed
/// while it reads its shard changes nothing in the answer, and the thread setting is the one the shards are read with.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterReadThreadsTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "cluster-read-threads");

    public void Dispose() => _scope.Dispose();

    /// <summary>
    /// A coordinator and <paramref name="workers"/> worker processes; the workers log at INFO (their registration and each
    /// shard they start reading) with the settings <paramref name="workerSettings"/> (JSON of section Node) on top. Ready when
    /// every worker says it is registered.
    /// </summary>
    private async Task<(CliProcess Coordinator, string Address, List<CliProcess> Workers)> StartClusterAsync(string tag, int workers, string workerSettings)
    {
        var config = _scope.PathOf($"{tag}-worker.hocon");
        File.WriteAllText(config, "akka.loglevel = INFO\n");
        var settings = _scope.PathOf($"{tag}-worker.json");
        File.WriteAllText(settings, "{ \"Node\": " + workerSettings + " }\n");
        var coordinator = _scope.Start($"{tag}-coordinator", "node", "--role", "coordinator", "--port", "0");
        var address = await NodeCluster.WaitForNodeUpAsync(coordinator, "coordinator");
        var started = Enumerable.Range(1, workers)
            .Select(i => _scope.Start($"{tag}-worker{i}", "node", "--role", "worker", "--seed-node", address, "--config", config, "--settings", settings)).ToList();
        await Task.WhenAll(started.Select(w => NodeCluster.WaitForNodeUpAsync(w, "worker")));
        await Task.WhenAll(started.Select(w => w.WaitForLineAsync(OutputStream.Stderr, l => l.Contains("registered with coordinator", StringComparison.Ordinal),
            NodeCluster.NodeUpTimeout, "the worker's log line 'registered with coordinator'")));
        return (coordinator, address, started);
    }

    private static int[] ReadThreads(JsonObject summary, string context) =>
        summary["shardReadThreads"]?.AsArray().Select(x => x!.GetValue<int>()).ToArray()
        ?? throw new Xunit.Sdk.XunitException($"--json has no shardReadThreads ({context}): {summary.ToJsonString()}");

    [Fact]
    public async Task Three_worker_processes_reading_on_two_threads_fit_what_one_process_fits_and_a_worker_killed_while_reading_changes_nothing()
    {
        // ~90 MB of csv (d = 8): 3 shards of ~30 MB, each read on 2 threads in 1 MiB chunks (so the threads really share a
        // shard), long enough that a worker killed when it starts reading has not finished.
        var csv = _scope.PathOf("data.csv");
        (await _scope.RunAsync(["generate", "--dim", "8", "--rows", "600000", "--seed", "1107", "--out", csv], TimeSpan.FromSeconds(180))).ExpectExit(0);
        const string workerHocon = "{ \"ReadChunk\": \"1MiB\" }";
        var timeout = TimeSpan.FromSeconds(240);
        string Ctx(string what) => $"{what}; {new FileInfo(csv).Length:N0} bytes";

        var single = (await _scope.RunAsync(["fit", csv, "--threads", "2", "--json", "--out", _scope.PathOf("single.json")], timeout, "fit-single")).ExpectExit(0);
        var singleModel = ModelFile.Load(_scope.PathOf("single.json"));
        output.WriteLine($"single process: read {JsonSummary.Parse(single, "single")["readSeconds"]} s");

        // Fault-free, 2 threads per worker.
        var clean = await StartClusterAsync("clean", 3, workerHocon);
        string[] FitArgs(string address, string outPath) =>
            ["fit", csv, "--cluster", address, "--threads-per-worker", "2", "--json", "--out", outPath];
        var cleanRun = (await _scope.RunAsync(FitArgs(clean.Address, _scope.PathOf("clean.json")), timeout, "fit-clean")).ExpectExit(0);
        foreach (var p in clean.Workers.Append(clean.Coordinator)) p.Kill();
        Check.Contains("job accepted: 3 workers, 3 shards", cleanRun.Stderr, "fault-free cluster fit");
        var cleanSummary = JsonSummary.Parse(cleanRun, "fault-free cluster fit");
        Assert.Equal([2, 2, 2], ReadThreads(cleanSummary, "fault-free cluster fit"));
        foreach (var w in clean.Workers)
            Assert.True(w.StderrLines.Any(l => l.Contains("reading shard", StringComparison.Ordinal) && l.EndsWith("on 2 threads", StringComparison.Ordinal)),
                $"a worker did not log reading its shard on 2 threads:\n{w.Describe()}");
        var cleanModel = ModelFile.Load(_scope.PathOf("clean.json"));
        Assert.Equal(singleModel.N, cleanModel.N);
        // Statistics are merged exactly but in another grouping than the single process's 2 byte ranges: equal up to rounding.
        Check.Relative(cleanModel.Mu, singleModel.Mu, 1e-12, "mu (3 worker processes x 2 threads vs one process)", Ctx("fault-free"));
        Check.Relative(cleanModel.Covariance, singleModel.Covariance, 1e-12, "covariance (3 worker processes x 2 threads vs one process)", Ctx("fault-free"));

        // The same on a fresh cluster; SIGKILL worker 2 as soon as it logs that it starts reading its shard.
        var faulty = await StartClusterAsync("faulty", 3, workerHocon);
        var fit = _scope.Start("fit-with-kill", FitArgs(faulty.Address, _scope.PathOf("faulty.json")));
        var victim = faulty.Workers[1];
        var reading = await victim.WaitForLineAsync(OutputStream.Stderr, l => l.Contains("reading shard", StringComparison.Ordinal), TimeSpan.FromSeconds(120),
            "the victim's log line 'reading shard'");
        victim.KillAndWait(TimeSpan.FromSeconds(10));
        output.WriteLine($"killed worker pid {victim.Id} {fit.Elapsed.TotalSeconds:F1} s into the fit, after: {reading}");
        Assert.False(fit.StderrLines.Any(l => l.StartsWith("iter", StringComparison.Ordinal)), $"the solver had started before the kill:\n{fit.Describe()}");

        int code = await fit.WaitForExitAsync(timeout);
        if (code != 0) throw fit.Failure($"the fit with a worker killed while reading exited with {code}, expected 0");
        var summary = JsonSummary.Parse(fit, "fit with a worker killed while reading");
        // In statistics summing a shard whose statistics arrived is never read again: a reassignment proves the kill landed
        // before the victim's shard was read.
        Check.Contains("reassigned", fit.Stderr, "stderr of the fit with a killed worker (the shard reassignment notice)");
        Assert.True(summary["shardsReassigned"]!.GetValue<int>() >= 1 && summary["workersLost"]!.GetValue<int>() == 1,
            $"expected a lost worker and a reassigned shard:\n{fit.Stdout}");
        Assert.Equal([2, 2, 2], ReadThreads(summary, "fit with a killed worker"));
        foreach (var p in faulty.Workers.Append(faulty.Coordinator)) p.Kill();

        // A shard's statistics do not depend on which worker reads it (its chunks are fixed by the byte range), and shards
        // are merged in shard order: the same model to the bit as the fault-free cluster run.
        var m = ModelFile.Load(_scope.PathOf("faulty.json"));
        Assert.Equal(cleanModel.N, m.N);
        Assert.True(m.Mu.SequenceEqual(cleanModel.Mu) && m.Covariance.SequenceEqual(cleanModel.Covariance),
            $"the model after the kill differs from the fault-free run: mu {Check.Show(m.Mu)} vs {Check.Show(cleanModel.Mu)}");
        Check.Relative(m.Mu, singleModel.Mu, 1e-12, "mu (killed worker vs one process)", Ctx("faulty"));
        Check.Relative(m.Covariance, singleModel.Covariance, 1e-12, "covariance (killed worker vs one process)", Ctx("faulty"));
    }

    [Fact]
    public async Task Shards_are_read_with_the_threads_the_worker_or_the_job_says()
    {
        var csv = MvnSample.Random(1108, 4, 3000).WriteCsv(_scope.PathOf("small.csv"));
        var cluster = await StartClusterAsync("threads", 2, "{ \"WorkerThreads\": 3 }");

        // The workers' own setting (Node:WorkerThreads = 3).
        var own = (await _scope.RunAsync(["fit", csv, "--cluster", cluster.Address, "--json", "--out", _scope.PathOf("own.json")], TimeSpan.FromSeconds(120), "fit-own")).ExpectExit(0);
        Assert.Equal([3, 3], ReadThreads(JsonSummary.Parse(own, "worker setting"), "worker setting"));

        // The job's --threads-per-worker wins over it.
        var job = (await _scope.RunAsync(["fit", csv, "--cluster", cluster.Address, "--threads-per-worker", "2", "--json", "--out", _scope.PathOf("job.json")],
            TimeSpan.FromSeconds(120), "fit-job")).ExpectExit(0);
        Assert.Equal([2, 2], ReadThreads(JsonSummary.Parse(job, "--threads-per-worker 2"), "--threads-per-worker 2"));
        foreach (var w in cluster.Workers)
        {
            Assert.Contains(w.StderrLines, l => l.Contains("reading shard", StringComparison.Ordinal) && l.EndsWith("on 3 threads", StringComparison.Ordinal));
            Assert.Contains(w.StderrLines, l => l.Contains("reading shard", StringComparison.Ordinal) && l.EndsWith("on 2 threads", StringComparison.Ordinal));
        }
        foreach (var p in cluster.Workers.Append(cluster.Coordinator)) p.Kill();

        // An embedded cluster shares this machine's cores among its workers (at least 1 each).
        int expected = Math.Max(1, Environment.ProcessorCount / 2);
        var embedded = (await _scope.RunAsync(["fit", csv, "--workers", "2", "--json", "--out", _scope.PathOf("embedded.json")], TimeSpan.FromSeconds(120), "fit-embedded")).ExpectExit(0);
        Assert.Equal([expected, expected], ReadThreads(JsonSummary.Parse(embedded, "--workers 2"), "--workers 2"));

        // A negative count is a usage error.
        var bad = (await _scope.RunAsync(["fit", csv, "--workers", "1", "--threads-per-worker", "-1", "--out", _scope.PathOf("bad.json")])).ExpectExit(2);
        Check.Contains("--threads-per-worker -1", bad.Stderr, "stderr");
    }
}
