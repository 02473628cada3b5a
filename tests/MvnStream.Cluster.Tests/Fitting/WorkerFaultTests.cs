using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Remote;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Solvers;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace MvnStream.Cluster.Tests.Fitting;

/// <summary>
/// Workers die mid-job as after a SIGKILL: their ActorSystem goes away without leaving the cluster and without
/// a word to the others, who learn of it from the failure detector (see <see cref="CrashAsync"/>).
/// </summary>
[Collection(FittingClusterCollection.Name)]
public sealed class WorkerFaultTests(ITestOutputHelper output)
{
    /// <summary>Terminate() then stops the system abruptly instead of leaving the cluster first.</summary>
    private const string AbruptTerminate = "akka.coordinated-shutdown.run-by-actor-system-terminate = off";

    /// <summary>
    /// A gradient-mode job that runs for hundreds of rounds: Adam with its step capped at 1e-3 sd on d = 16 with neighbour
    /// correlation 0.95 to the default tolerance (uncapped, every solver converges in one or two whitened steps). The coordinator sums partial gradients in shard
    /// order, so a run whose shards moved to other workers follows the same iterates.
    /// </summary>
    private const int Seed = 16016, D = 16, N = 20000;

    private const double Rho = 0.95;

    private static FitJobSettings LongGradientJob(int minWorkers) =>
        Jobs.Settings(SolverKind.Adam, SummingMode.Gradients, minWorkers, maxIterations: 100000, learningRate: 1e-3);

    /// <summary>
    /// Kills a node's ActorSystem the way a SIGKILL would look to the others. Terminate() alone is not enough:
    /// with coordinated shutdown off it does not leave the cluster, but its actors still stop while remoting is up,
    /// so remote watchers get a DeathWatchNotification at once (the coordinator then reports "left the cluster"
    /// within milliseconds). Closing the remoting transport first drops those notifications, as a dead process
    /// would; the TCP connections are closed, as the kernel closes a killed process's sockets.
    /// </summary>
    private static async Task CrashAsync(ClusterNode node)
    {
        var provider = (IRemoteActorRefProvider)((ExtendedActorSystem)node.System).Provider;
        await provider.Transport.Shutdown().WaitAsync(TimeSpan.FromSeconds(10));
        await node.System.Terminate().WaitAsync(TimeSpan.FromSeconds(30));
    }

    private string Context => $"seed {Seed}, d {D}, n {N}, rho {Rho}, adam";

    [Fact]
    public async Task Killing_a_worker_mid_fit_reassigns_its_shards_and_the_job_ends_with_the_fault_free_model()
    {
        output.WriteLine(Context);
        var dir = Path.Combine(Path.GetTempPath(), "mvnstream-fault-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var path = TestData.WriteCsv(dir, "long.csv", D, N, Rho, Seed);
            await using var cluster = await EmbeddedCluster.StartAsync(3, AbruptTerminate);

            // The fault-free run on the same three workers: same six shards, same shard-order sums.
            var sw = Stopwatch.StartNew();
            var (refOutcome, _) = await Jobs.RunAsync(cluster.Coordinator, Jobs.Submit(path, LongGradientJob(3)), TimeSpan.FromSeconds(90));
            var reference = Jobs.Completed(refOutcome, Context + ", fault-free run");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"fault-free: {reference.Rounds} rounds, {reference.Iterations} iterations, {reference.StopReason}, {sw.Elapsed.TotalSeconds:F1} s"));
            Assert.True(reference.Rounds >= 100, $"{Context}: only {reference.Rounds} rounds; the kill below needs a long fit");

            var round10 = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            var job = Jobs.Submit(path, LongGradientJob(3));
            var run = Jobs.RunAsync(cluster.Coordinator, job, TimeSpan.FromSeconds(120), m =>
            {
                if (m is FitJobRoundProgress { Round: >= 10 } p) round10.TrySetResult(p.Round);
            });
            var first = await Task.WhenAny(round10.Task, run).WaitAsync(TimeSpan.FromSeconds(60));
            if (first != round10.Task) throw new XunitException($"{Context}: the job ended before round 10: {(await run).Outcome}");
            long killedAt = await round10.Task;
            var victim = cluster.Workers[1];
            string victimId = $"{victim.Address.Host}:{victim.Address.Port}";
            sw.Restart();
            await CrashAsync(victim);
            output.WriteLine($"killed worker {victimId} after round {killedAt}");

            var (outcome, events) = await run;
            var c = Jobs.Completed(outcome, $"{Context}, worker {victimId} killed after round {killedAt}");
            var notices = events.OfType<FitJobNotice>().Select(x => x.Message).ToList();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"with the kill: {c.Rounds} rounds, {c.Iterations} iterations, {c.StopReason}, ended {sw.Elapsed.TotalSeconds:F1} s after the kill; notices:\n  {string.Join("\n  ", notices)}"));

            Assert.Contains(notices, x => x.Contains(victimId, StringComparison.Ordinal) && x.Contains("unreachable", StringComparison.Ordinal));
            Assert.Contains(notices, x => x.Contains("reassigned", StringComparison.Ordinal));
            Assert.True(c.ShardsReassigned >= 1, $"{Context}: ShardsReassigned = {c.ShardsReassigned}");
            Assert.True(c.Rounds > killedAt, $"{Context}: {c.Rounds} rounds, the kill was after round {killedAt}");
            // Started on three, one lost, two holding the shards at the end (the summary used to say only "3 workers").
            Assert.Equal(3, c.WorkersUsed);
            Assert.Equal(1, c.WorkersLost);
            Assert.Equal(2, c.WorkersAtEnd);
            // The rounds after the reassignment were answered by the two survivors.
            var last = events.OfType<FitJobRoundProgress>().Last();
            Assert.Equal(2, last.Workers);
            Assert.Equal(2, last.WorkersAnswered);

            // Same rows, same shard statistics (re-read by a survivor), same shard-order sums: the same fit.
            Assert.Equal(reference.N, c.N);
            Assert.Equal(reference.Rounds, c.Rounds);
            double r = Close.AssertModel(reference.Theta.ToParameters(), c.Theta.ToParameters(), 1e-9, $"{Context}: run with a worker killed vs fault-free run");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"relative difference to the fault-free model: {r:E2}"));
        }
        finally
        {
            TestData.DeleteDirectory(dir);
        }
    }

    [Fact]
    public async Task When_the_only_worker_dies_mid_job_the_job_fails_with_no_workers_after_the_no_worker_timeout()
    {
        output.WriteLine(Context);
        var dir = Path.Combine(Path.GetTempPath(), "mvnstream-fault-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var path = TestData.WriteCsv(dir, "long.csv", D, N, Rho, Seed);
            const double noWorkerTimeout = 3;
            await using var cluster = await EmbeddedCluster.StartAsync(1, AbruptTerminate,
                settings: NodeSettings.Default with { NoWorkerTimeout = TimeSpan.FromSeconds(noWorkerTimeout) });

            var round10 = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            var lost = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
            var clock = Stopwatch.StartNew();
            var run = Jobs.RunAsync(cluster.Coordinator, Jobs.Submit(path, LongGradientJob(1)), TimeSpan.FromSeconds(60), m =>
            {
                if (m is FitJobRoundProgress { Round: >= 10 } p) round10.TrySetResult(p.Round);
                if (m is FitJobNotice n && n.Message.Contains("unreachable", StringComparison.Ordinal)) lost.TrySetResult(clock.Elapsed);
            });
            var first = await Task.WhenAny(round10.Task, run).WaitAsync(TimeSpan.FromSeconds(60));
            if (first != round10.Task) throw new XunitException($"{Context}: the job ended before round 10: {(await run).Outcome}");
            long killedAt = await round10.Task;
            var killed = clock.Elapsed;
            await CrashAsync(cluster.Workers[0]);

            var (outcome, _) = await run;
            var ended = clock.Elapsed;
            var f = Jobs.Failed(outcome, $"{Context}, only worker killed after round {killedAt}");
            TimeSpan? lostAt = lost.Task.IsCompleted ? await lost.Task : null;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"killed after round {killedAt}; lost {(lostAt - killed)?.TotalSeconds:F2} s and failed {(ended - killed).TotalSeconds:F2} s after the kill: {f.Kind}: {f.Message}"));
            Assert.Equal(JobErrorKind.NoWorkers, f.Kind);
            Assert.True(lostAt.HasValue, $"{Context}: no notice that the worker is unreachable");
            // The no-worker timer starts when the worker is declared lost; allow 1.5 s for scheduling on a loaded machine.
            double afterLoss = (ended - lostAt.Value).TotalSeconds;
            Assert.InRange(afterLoss, noWorkerTimeout - 0.1, noWorkerTimeout + 1.5);
            // Failure detection (heartbeat 1 s, acceptable pause 4 s) plus the timeout: bounded, never a hang.
            Assert.InRange((ended - killed).TotalSeconds, noWorkerTimeout, noWorkerTimeout + 12);
        }
        finally
        {
            TestData.DeleteDirectory(dir);
        }
    }

    /// <summary>
    /// The no-worker timeout exists so that a job survives the loss of its last worker when another one joins in
    /// time. In a cluster of one coordinator and one worker the coordinator's node must therefore outlive its
    /// worker's crash: the split-brain resolver must down the dead worker, not the coordinator. The worker gets
    /// the lower port so that the address order is fixed (keep-majority breaks a 1-1 tie by lowest address).
    /// </summary>
    [Fact]
    public async Task A_coordinator_whose_only_worker_crashed_finishes_the_job_on_a_replacement_worker()
    {
        output.WriteLine(Context);
        var dir = Path.Combine(Path.GetTempPath(), "mvnstream-fault-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var nodes = new List<ClusterNode>();
        try
        {
            var path = TestData.WriteCsv(dir, "long.csv", D, N, Rho, Seed);
            string hocon = AbruptTerminate;
            var own = NodeSettings.Default with { NoWorkerTimeout = TimeSpan.FromSeconds(25) };
            var ports = new[] { FreePort(), FreePort() }.Order().ToArray();
            var coordinator = await ClusterNode.StartAsync(new NodeConfiguration
            {
                Roles = [NodeConfiguration.CoordinatorRole], Seeds = [], Hostname = "127.0.0.1", Port = ports[1], ExtraHocon = hocon, Settings = own,
            }, TimeSpan.FromSeconds(30));
            nodes.Add(coordinator);
            NodeConfiguration WorkerConfig(int port) => new()
            {
                Roles = [NodeConfiguration.WorkerRole], Seeds = [coordinator.Address.ToString()], Hostname = "127.0.0.1", Port = port, ExtraHocon = hocon, Settings = own,
            };
            var first = await ClusterNode.StartAsync(WorkerConfig(ports[0]), TimeSpan.FromSeconds(30));
            nodes.Add(first);
            output.WriteLine($"coordinator port {coordinator.Address.Port}, first worker port {first.Address.Port}");

            var round10 = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var clock = Stopwatch.StartNew();
            var run = Jobs.RunAsync(coordinator, Jobs.Submit(path, LongGradientJob(1)), TimeSpan.FromSeconds(90), m =>
            {
                if (m is FitJobRoundProgress { Round: >= 10 } p) round10.TrySetResult(p.Round);
                if (m is FitJobNotice n && n.Message.Contains("unreachable", StringComparison.Ordinal)) lost.TrySetResult();
            });
            var started = await Task.WhenAny(round10.Task, run).WaitAsync(TimeSpan.FromSeconds(60));
            if (started != round10.Task) throw new XunitException($"{Context}: the job ended before round 10: {(await run).Outcome}");
            await CrashAsync(first);
            var killed = clock.Elapsed;
            await Task.WhenAny(lost.Task, run).WaitAsync(TimeSpan.FromSeconds(30));

            // The replacement can only become Up once the dead worker is downed and removed.
            using var giveUp = new CancellationTokenSource();
            Task<ClusterNode> replacement = ClusterNode.StartAsync(WorkerConfig(0), TimeSpan.FromSeconds(25), giveUp.Token);
            var (outcome, events) = await run;
            if (outcome.Failed is not null) await giveUp.CancelAsync();
            try { nodes.Add(await replacement); }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException) { output.WriteLine("replacement worker did not join: " + e.Message); }
            var notices = events.OfType<FitJobNotice>().Select(x => x.Message).ToList();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ended {(clock.Elapsed - killed).TotalSeconds:F1} s after the kill; coordinator node terminated: {coordinator.System.WhenTerminated.IsCompleted}; notices:\n  {string.Join("\n  ", notices)}"));
            var c = Jobs.Completed(outcome, $"{Context}, only worker (port {ports[0]}) crashed, replacement started (coordinator port {ports[1]})");
            Assert.Equal(N, c.N);
            Assert.True(c.ShardsReassigned >= 1, $"{Context}: ShardsReassigned = {c.ShardsReassigned}");
        }
        finally
        {
            foreach (var node in nodes.AsEnumerable().Reverse()) await node.DisposeAsync();
            TestData.DeleteDirectory(dir);
        }
    }

    private static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [Fact]
    public async Task A_job_submitted_to_a_cluster_without_workers_fails_with_no_workers_after_the_worker_wait()
    {
        const double workerWait = 2;
        await using var coordinator = await ClusterNode.StartAsync(new NodeConfiguration
        {
            Roles = [NodeConfiguration.CoordinatorRole],
            Seeds = [],
            Hostname = "127.0.0.1",
            Port = 0,
        }, TimeSpan.FromSeconds(30));
        var dir = Path.Combine(Path.GetTempPath(), "mvnstream-fault-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var path = TestData.WriteCsv(dir, "small.csv", 3, 100, 0.2, 1);
            var clock = Stopwatch.StartNew();
            var (outcome, events) = await Jobs.RunAsync(coordinator, Jobs.Submit(path,
                Jobs.Settings(SolverKind.Lbfgs, SummingMode.Statistics, minWorkers: 1, workerWaitSeconds: workerWait)), TimeSpan.FromSeconds(30));
            double seconds = clock.Elapsed.TotalSeconds;
            var f = Jobs.Failed(outcome, "no workers");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"failed after {seconds:F2} s: {f.Kind}: {f.Message}"));
            Assert.Equal(JobErrorKind.NoWorkers, f.Kind);
            Assert.Contains(events.OfType<FitJobNotice>(), n => n.Message.Contains("0 registered", StringComparison.Ordinal));
            Assert.InRange(seconds, workerWait - 0.1, workerWait + 3);
        }
        finally
        {
            TestData.DeleteDirectory(dir);
        }
    }
}
