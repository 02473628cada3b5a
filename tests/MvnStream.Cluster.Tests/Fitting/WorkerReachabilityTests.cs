using System.Globalization;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Solvers;
using MvnStream.Tests.Shared;
using Xunit.Abstractions;

namespace MvnStream.Cluster.Tests.Fitting;

/// <summary>
/// A worker that is unreachable for a few seconds (a long GC pause, a stalled VM, a network blip) but comes back before
/// the split-brain resolver downs it stays a cluster member. The coordinator used to forget it for good (it only ever
/// re-learns workers from their registration, sent once), so every later job ran on fewer workers.
/// The link is cut with Akka.Remote's own throttler transport (as Akka's multi-node tests do) over real TCP.
/// </summary>
[Collection(FittingClusterCollection.Name)]
public sealed class WorkerReachabilityTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "mvnstream-reach-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public void Dispose() => TestData.DeleteDirectory(_dir);

    [Fact]
    public async Task A_worker_unreachable_for_a_moment_is_used_again_once_reachable()
    {
        var path = TestData.WriteCsv(_dir, "data.csv", 4, 3000, 0.3, 77);
        await using var cluster = await EmbeddedCluster.StartAsync(3, LinkBlip.Hocon);
        var coordinator = cluster.Coordinator;
        var blip = new LinkBlip(cluster, cluster.Workers[2], output);
        await blip.CutAsync();
        await blip.RestoreAsync();

        // The job waits up to 20 s for all three workers (then it would start with the two it knows).
        var (outcome, events) = await Jobs.RunAsync(coordinator, Jobs.Submit(path,
            Jobs.Settings(SolverKind.Lbfgs, SummingMode.Gradients, minWorkers: 3, workerWaitSeconds: 20)), TimeSpan.FromSeconds(90));
        var c = Jobs.Completed(outcome, "job after the blip");
        var accepted = events.OfType<FitJobAccepted>().Single();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"job accepted with {accepted.Workers} workers; notices: {string.Join(" | ", events.OfType<FitJobNotice>().Select(n => n.Message))}"));
        Assert.Equal(3, accepted.Workers);
        Assert.Equal(3, events.OfType<FitJobRoundProgress>().Last().Workers);
        Assert.Equal(3000, c.N);
    }
}

/// <summary>A client that goes away before its job reaches the solver must not keep the coordinator busy.</summary>
[Collection(FittingClusterCollection.Name)]
public sealed class ClientLossTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "mvnstream-client-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public void Dispose() => TestData.DeleteDirectory(_dir);

    [Fact]
    public async Task A_job_whose_client_is_gone_before_solving_ends_at_once_and_the_next_job_is_accepted()
    {
        var path = TestData.WriteCsv(_dir, "small.csv", 3, 100, 0.2, 5);
        var timeout = TimeSpan.FromSeconds(30);
        await using var coordinator = await ClusterNode.StartAsync(new NodeConfiguration
        {
            Roles = [NodeConfiguration.CoordinatorRole], Seeds = [], Hostname = "127.0.0.1", Port = 0,
        }, timeout);
        var client = await ClusterNode.StartAsync(new NodeConfiguration
        {
            Roles = [NodeConfiguration.ClientRole], Seeds = [coordinator.Address.ToString()], Hostname = "127.0.0.1", Port = 0,
        }, timeout);

        // No worker: the first job waits up to 60 s for one. Its client leaves while it waits.
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = Jobs.Submit(path, Jobs.Settings(SolverKind.Lbfgs, SummingMode.Statistics, minWorkers: 1, workerWaitSeconds: 60));
        _ = FitJobRunner.RunAsync(client, first, m => { if (m is FitJobNotice) waiting.TrySetResult(); }, TimeSpan.FromSeconds(60));
        await waiting.Task.WaitAsync(timeout);
        await client.DisposeAsync();
        output.WriteLine("client of the first job left the cluster");

        // The next job must get the coordinator: it fails for want of workers after its own 1 s wait, not "busy" for a minute.
        bool accepted = false;
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); !accepted; )
        {
            var (outcome, _) = await Jobs.RunAsync(coordinator, Jobs.Submit(path,
                Jobs.Settings(SolverKind.Lbfgs, SummingMode.Statistics, minWorkers: 1, workerWaitSeconds: 1)), timeout);
            var f = Jobs.Failed(outcome, "second job without workers");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds:F1} s: {f.Kind}: {f.Message}"));
            accepted = f.Kind == JobErrorKind.NoWorkers;
            // The coordinator learns of the client's departure from remote DeathWatch, within a moment of the leave.
            Assert.True(accepted || clock.Elapsed < TimeSpan.FromSeconds(15), $"the coordinator was still busy with job {first.JobId} 15 s after its client left: {f.Message}");
            if (!accepted) await Task.Delay(500);
        }
    }
}
