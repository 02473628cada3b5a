using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>
/// Test 7: a cluster of separate OS processes (coordinator node, 3 worker nodes, the fit as a client). A worker
/// killed with SIGKILL in the middle of gradient rounds: its shard is reassigned and the model equals a fault-free run's.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed partial class MultiProcessClusterTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "cluster-processes");

    public void Dispose() => _scope.Dispose();

    [GeneratedRegex(@"^round\s+(\d+)\s")]
    private static partial Regex RoundLine();

    private static long RoundOf(string line) =>
        RoundLine().Match(line) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;

    private string[] FitArgs(string csv, string address, string outPath) =>
        ["fit", csv, "--cluster", address, "--summing", "gradients", "--solver", "adam", "--learning-rate", "1e-3", "--tolerance", "0", "--max-iter", "600", "--json", "--out", outPath];

    [Fact]
    public async Task A_worker_killed_during_gradient_rounds_is_replaced_and_the_model_equals_the_fault_free_run()
    {
        // d = 24 with AR(1) correlation 0.95, 600 Adam steps capped at 1e-3 sd with tolerance 0 (the default solvers,
        // Adam included, converge in one or two whitened steps; the capped one takes hundreds: it must not stop before the kill), each
        // objective evaluation one cluster round (theta out, 3 partial gradients back): both runs stop at the iteration
        // limit (exit 6, not converged), and since the coordinator sums partial gradients in shard order, the run whose
        // worker was killed follows the same iterates and ends on the same model.
        const int seed = 4701, d = 24, n = 50_000;
        var sample = MvnSample.Correlated(seed, d, n, 0.95);
        var csv = sample.WriteCsv(_scope.PathOf("data.csv"));
        string ctx = sample.Describe;
        var fitTimeout = TimeSpan.FromSeconds(240);

        // Fault-free reference on its own cluster.
        var reference = await NodeCluster.StartAsync(_scope, "reference", 3);
        var refRun = (await _scope.RunAsync(FitArgs(csv, reference.Address, _scope.PathOf("reference.json")), fitTimeout, "fit-reference")).ExpectExit(6);
        reference.KillAll();
        Check.Contains("job accepted: 3 workers, 3 shards", refRun.Stderr, "reference fit");
        var refSummary = JsonSummary.Parse(refRun, "fault-free reference fit");
        long refRounds = refSummary["rounds"]!.GetValue<long>();
        output.WriteLine($"reference: {refRounds} rounds, {refSummary["solveSeconds"]} s solving, stop {refSummary["stopReason"]}, gap {refSummary["gap"]}");
        Assert.True(refRounds >= 100, $"the reference fit ran only {refRounds} rounds: too few for a kill at round 20 to land mid-fit ({ctx})");
        Assert.Equal(0, refSummary["shardsReassigned"]!.GetValue<int>());
        Assert.Equal(0, refSummary["workersLost"]!.GetValue<int>());
        Assert.Equal(3, refSummary["workersAtEnd"]!.GetValue<int>());
        var refModel = ModelFile.Load(_scope.PathOf("reference.json"));

        // Same command on a fresh cluster; SIGKILL one worker once round 20 has been reported.
        var cluster = await NodeCluster.StartAsync(_scope, "faulty", 3);
        var fit = _scope.Start("fit-with-kill", FitArgs(csv, cluster.Address, _scope.PathOf("faulty.json")));
        var roundLine = await fit.WaitForLineAsync(OutputStream.Stderr, l => RoundOf(l) >= 20, TimeSpan.FromSeconds(120), "a progress line 'round N' with N >= 20");
        Assert.False(fit.HasExited, "the fit ended before the worker could be killed");
        var (victim, victimAddress) = cluster.Workers[1];
        victim.KillAndWait(TimeSpan.FromSeconds(10));
        long killRound = RoundOf(roundLine);
        var killedAt = fit.Elapsed;
        Assert.True(victim.HasExited, $"the killed worker {victimAddress} is still running");
        output.WriteLine($"killed worker {victimAddress} (pid {victim.Id}) after the fit reported round {killRound}, {killedAt.TotalSeconds:F1} s into the fit");

        int code = await fit.WaitForExitAsync(fitTimeout);
        if (code != 6) throw fit.Failure($"the fit with a killed worker exited with {code}, expected 6 (the iteration limit, as the reference)");
        string stderr = fit.Stderr;
        Check.Contains("job accepted: 3 workers, 3 shards", stderr, "fit with a killed worker");
        Check.Contains("reassigned", stderr, "stderr of the fit with a killed worker (the shard reassignment notice)");
        Check.Contains($"worker 127.0.0.1:{NodeCluster.PortOf(victimAddress)}", stderr, "stderr names the lost worker");
        // Rounds go over the data plane by default (docs/ARCHITECTURE.md, "The data plane"): the dead worker's connection is
        // what finds it, before Akka's failure detector does.
        Check.Contains("unreachable over its data connection", stderr, "stderr of the fit with a killed worker (lost through the data plane)");
        // The notes say it; Akka's own UNREACHABLE / gating warnings from the client node stay out of the user's way.
        Assert.True(!stderr.Contains("[WARNING]", StringComparison.Ordinal) && !stderr.Contains("UNREACHABLE", StringComparison.Ordinal),
            $"Akka's warnings on the client's stderr:\n{stderr}");
        var summary = JsonSummary.Parse(fit, "fit with a killed worker");
        Assert.True(summary["shardsReassigned"]!.GetValue<int>() >= 1, $"shardsReassigned should be >= 1:\n{fit.Stdout}");
        // Started on 3 workers, 1 lost, 2 at the end: the summary said "3 workers" after the loss.
        Assert.True(summary["workers"]!.GetValue<int>() == 3 && summary["workersLost"]!.GetValue<int>() == 1 && summary["workersAtEnd"]!.GetValue<int>() == 2,
            $"expected 3 workers at the start, 1 lost, 2 at the end:\n{fit.Stdout}");
        long rounds = summary["rounds"]!.GetValue<long>();
        Assert.True(rounds > killRound, $"the fit ran {rounds} rounds, not more than the {killRound} before the kill: the kill did not land mid-fit");

        // Rounds sum the partial gradients in shard order whichever worker computed them, so the two runs should take
        // the same steps: identical up to rounding at worst. 1e-9 relative (Frobenius) as the contract.
        var m = ModelFile.Load(_scope.PathOf("faulty.json"));
        Assert.True(m.N == n && refModel.N == n, $"n = {m.N} (reference {refModel.N}), expected {n} ({ctx})");
        Check.Relative(m.Mu, refModel.Mu, 1e-9, "mu (killed worker vs fault-free)", ctx);
        Check.Relative(m.Covariance, refModel.Covariance, 1e-9, "covariance (killed worker vs fault-free)", ctx);
        output.WriteLine($"identical to the bit: {m.Mu.SequenceEqual(refModel.Mu) && m.Covariance.SequenceEqual(refModel.Covariance)}; rounds {rounds} vs {refRounds}");
    }

    [Fact]
    public async Task Fit_against_an_address_where_no_cluster_runs_fails_within_the_connect_timeout()
    {
        var csv = MvnSample.Random(4702, 3, 1000).WriteCsv(_scope.PathOf("data.csv"));
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        } // closed again: nothing listens on the port now
        var address = $"akka.tcp://mvnstream@127.0.0.1:{port}";

        // Node:ConnectTimeout is 20 s (config/appsettings.json); start-up and shutdown of the runtime and the
        // ActorSystem add a few seconds, so 45 s is the bound for "fails within its stated timeout".
        var run = await _scope.RunAsync(["fit", csv, "--cluster", address, "--out", _scope.PathOf("model.json")], TimeSpan.FromSeconds(90));
        Assert.True(run.ExitCode == 1, $"expected exit code 1 (failure), got {run.ExitCode}\n{run.Description}");
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(45), $"took {run.Elapsed.TotalSeconds:F1} s to give up (connect timeout 20 s)\n{run.Description}");
        Check.Contains($"could not join the cluster through {address} within 20 s", run.Stderr, "stderr");
        Assert.False(File.Exists(_scope.PathOf("model.json")), "no model may be written");
    }

    /// <summary>
    /// The client node's connect timeout is the setting Node:ConnectTimeout: 4 s in a --settings file must make an unreachable
    /// seed fail after ~4 s, not the default 20 s.
    /// </summary>
    [Fact]
    public async Task Fit_cluster_takes_the_connect_timeout_from_its_settings_file()
    {
        var csv = MvnSample.Random(4703, 3, 1000).WriteCsv(_scope.PathOf("data.csv"));
        var config = _scope.PathOf("client.json");
        File.WriteAllText(config, "{ \"Node\": { \"ConnectTimeout\": \"4s\" } }\n");
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var address = $"akka.tcp://mvnstream@127.0.0.1:{port}";

        // 4 s plus start-up and shutdown: well under 15 s; the 20 s default would not be.
        var run = await _scope.RunAsync(["fit", csv, "--cluster", address, "--settings", config, "--out", _scope.PathOf("model.json")], TimeSpan.FromSeconds(90));
        Assert.True(run.ExitCode == 1, $"expected exit code 1 (failure), got {run.ExitCode}\n{run.Description}");
        Check.Contains($"could not join the cluster through {address} within 4 s", run.Stderr, "stderr (the configured timeout)");
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(15), $"took {run.Elapsed.TotalSeconds:F1} s to give up with Node:ConnectTimeout = 4s in --settings\n{run.Description}");
    }

    /// <summary>
    /// A broken --config file is exit 2 with the file, line or key: Akka's parser started the node on defaults for the first
    /// (it ran until killed), and the others ended in an unhandled FormatException (exit 1 and a stack trace).
    /// </summary>
    [Theory]
    [InlineData("node", "akka.cluster.roles = [coordinator]\n}}} = = =\n", "line 2: '}' closes nothing")]
    [InlineData("node", "akka.cluster.split-brain-resolver.stable-after = banana\n", "akka.cluster.split-brain-resolver.stable-after = banana is not a duration")]
    [InlineData("fit", "mvnstream.client.connect-timeout = 4s\n", "unknown key mvnstream.client.connect-timeout: it is the setting Node:ConnectTimeout now")]
    public async Task A_broken_config_file_exits_2_naming_the_line_or_key(string command, string hocon, string expected)
    {
        var config = _scope.PathOf("broken.hocon");
        File.WriteAllText(config, hocon);
        string[] args = command == "node"
            ? ["node", "--role", "coordinator", "--port", "0", "--config", config]
            : ["fit", MvnSample.Random(4704, 3, 100).WriteCsv(_scope.PathOf("data.csv")), "--cluster", "akka.tcp://mvnstream@127.0.0.1:1", "--config", config, "--out", _scope.PathOf("model.json")];
        var run = (await _scope.RunAsync(args, TimeSpan.FromSeconds(60))).ExpectExit(2);
        Check.Contains(expected, run.Stderr, "stderr");
        Assert.DoesNotContain("Unhandled exception", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("node up", run.Stdout, StringComparison.Ordinal);
    }

    /// <summary>
    /// Coordinator:WorkerWait is the coordinator's setting: a fit that does not give --worker-wait must use it.
    /// The client always sent its own default (30 s), so the configured value never applied.
    /// </summary>
    [Fact]
    public async Task The_coordinators_configured_worker_wait_applies_unless_the_fit_gives_one()
    {
        var csv = MvnSample.Random(4705, 3, 1000).WriteCsv(_scope.PathOf("data.csv"));
        var config = _scope.PathOf("coordinator.json");
        File.WriteAllText(config, "{ \"Coordinator\": { \"WorkerWait\": \"2s\" } }\n");
        var coordinator = _scope.Start("coordinator-without-workers", "node", "--role", "coordinator", "--port", "0", "--settings", config);
        var address = await NodeCluster.WaitForNodeUpAsync(coordinator, "coordinator");

        var configured = await _scope.RunAsync(["fit", csv, "--cluster", address, "--out", _scope.PathOf("model.json")], TimeSpan.FromSeconds(90), "fit-configured-wait");
        Assert.True(configured.ExitCode == 1, $"expected exit code 1 (no worker), got {configured.ExitCode}\n{configured.Description}");
        Check.Contains("no worker joined the cluster within 2 s", configured.Stderr, "stderr (the coordinator's worker-wait)");
        Assert.True(configured.Elapsed < TimeSpan.FromSeconds(20), $"took {configured.Elapsed.TotalSeconds:F1} s with worker-wait = 2s\n{configured.Description}");

        var given = await _scope.RunAsync(["fit", csv, "--cluster", address, "--worker-wait", "5", "--out", _scope.PathOf("model.json")], TimeSpan.FromSeconds(90), "fit-given-wait");
        Assert.True(given.ExitCode == 1, $"expected exit code 1 (no worker), got {given.ExitCode}\n{given.Description}");
        Check.Contains("no worker joined the cluster within 5 s", given.Stderr, "stderr (--worker-wait 5)");
        Assert.False(File.Exists(_scope.PathOf("model.json")), "no model may be written");
        coordinator.Kill();
    }
}
