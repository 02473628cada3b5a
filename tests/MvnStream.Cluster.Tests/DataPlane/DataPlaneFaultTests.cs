using Akka.Actor;
using MvnStream.Cluster.DataPlane;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using MvnStream.Cluster.Tests.Fitting;
using MvnStream.Core.Solvers;
using Xunit.Abstractions;

namespace MvnStream.Cluster.Tests.DataPlane;

/// <summary>
/// A coordinator and a worker ActorSystem on loopback TCP, plus a second real worker in the coordinator's system whose
/// data connection goes through a <see cref="SabotageProxy"/>; a small gradient-summing job, 2 shards per worker.
/// </summary>
public sealed class DataPlaneFaultFixture : IAsyncLifetime
{
    private EmbeddedCluster? _cluster;

    public EmbeddedCluster Cluster => _cluster ?? throw new InvalidOperationException("the fixture is not initialised");

    public SabotageProxy Proxy { get; } = new();

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "mvnstream-dataplane-" + Guid.NewGuid().ToString("N")[..8]);

    public string DataPath { get; private set; } = "";

    /// <summary>The fault-free model, computed once (the proxy passing everything through).</summary>
    public FitJobCompleted? Reference { get; set; }

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        DataPath = TestData.WriteCsv(Directory, "dataplane.csv", 6, 4000, 0.6, 5150);
        _cluster = await EmbeddedCluster.StartAsync(1, settings: NodeSettings.Default with { WorkerThreads = 1 });
        // "zz": the relayed worker sorts after the embedded one, which describes the file.
        _cluster.Coordinator.System.ActorOf(RelayedWorker.Props(_cluster.Coordinator.FitCoordinator, Proxy, "zz-relayed"), "relayed-worker");
    }

    public async Task DisposeAsync()
    {
        Proxy.Dispose();
        if (_cluster is not null) await _cluster.DisposeAsync();
        TestData.DeleteDirectory(Directory);
    }
}

/// <summary>
/// The data plane's failure handling (docs/ARCHITECTURE.md, "The data plane"), through the real coordinator and workers:
/// a torn or corrupt gradient frame is never summed and the round is sent again over a fresh connection; a stale round's
/// well-formed late reply is dropped; a worker whose connections keep dropping is lost and its shards are reassigned. In
/// every case the model is bit-for-bit the fault-free one.
/// </summary>
[Collection(FittingClusterCollection.Name)]
public sealed class DataPlaneFaultTests(DataPlaneFaultFixture fixture, ITestOutputHelper output) : IClassFixture<DataPlaneFaultFixture>
{
    private const long FaultRound = 5;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    /// <summary>Adam with its step capped (1e-3 sd): every round moves theta, so a gradient summed wrongly in round 5 changes the model.</summary>
    private static FitJobSettings Settings() =>
        Jobs.Settings(SolverKind.Adam, SummingMode.Gradients, minWorkers: 2, gradientTolerance: 0, maxIterations: 30, learningRate: 1e-3);

    private async Task<(FitJobCompleted Job, List<string> Notices)> RunAsync(Fault fault)
    {
        fixture.Proxy.Arm(fault, FaultRound);
        var (outcome, events) = await Jobs.RunAsync(fixture.Cluster.Coordinator, Jobs.Submit(fixture.DataPath, Settings()), Limit);
        var job = Jobs.Completed(outcome, $"fault {fault}");
        var notices = events.OfType<FitJobNotice>().Select(n => n.Message).ToList();
        output.WriteLine($"{fault}: {job.Rounds} rounds ({job.StopReason}), {job.ShardsReassigned} shards reassigned, {job.WorkersLost} workers lost, proxy fired {fixture.Proxy.Fired}, " +
                         $"{fixture.Proxy.Connections} proxied connections; notices:\n  {string.Join("\n  ", notices)}");
        return (job, notices);
    }

    private async Task<FitJobCompleted> ReferenceAsync()
    {
        if (fixture.Reference is null)
        {
            var (job, _) = await RunAsync(Fault.None);
            Assert.Equal(0, job.ShardsReassigned);
            Assert.Equal(1, fixture.Proxy.Connections); // the relayed worker's rounds did go through the data plane
            fixture.Reference = job;
        }
        return fixture.Reference;
    }

    private static void AssertSameModel(FitJobCompleted expected, FitJobCompleted actual)
    {
        Assert.Equal(expected.Rounds, actual.Rounds);
        Assert.Equal(expected.Theta.Mu, actual.Theta.Mu);
        Assert.Equal(expected.Theta.LambdaPacked, actual.Theta.LambdaPacked);
    }

    [Theory]
    [InlineData(Fault.Tear)]
    [InlineData(Fault.Corrupt)]
    public async Task A_torn_or_corrupt_gradient_frame_is_not_summed_and_the_round_is_retried_over_a_fresh_connection(Fault fault)
    {
        var reference = await ReferenceAsync();
        var (job, _) = await RunAsync(fault);
        Assert.True(fixture.Proxy.Fired, "the proxy never saw round 5");
        Assert.Equal(2, fixture.Proxy.Connections);
        Assert.Equal(0, job.ShardsReassigned);
        Assert.Equal(0, job.WorkersLost);
        AssertSameModel(reference, job);
    }

    [Fact]
    public async Task A_worker_answering_over_Akka_beside_one_on_the_data_plane_gives_the_same_model_bit_for_bit()
    {
        var reference = await ReferenceAsync();
        fixture.Proxy.Advertise = false;
        try
        {
            var (job, _) = await RunAsync(Fault.None);
            Assert.Equal(0, fixture.Proxy.Connections); // the relayed worker's rounds went over Akka
            AssertSameModel(reference, job);
        }
        finally
        {
            fixture.Proxy.Advertise = true;
        }
    }

    [Fact]
    public async Task A_stale_rounds_late_reply_is_dropped()
    {
        var reference = await ReferenceAsync();
        var (job, _) = await RunAsync(Fault.Stale);
        Assert.True(fixture.Proxy.Fired, "the proxy never saw round 5");
        Assert.Equal(1, fixture.Proxy.Connections);
        Assert.Equal(0, job.ShardsReassigned);
        AssertSameModel(reference, job);
    }

    [Fact]
    public async Task A_worker_whose_data_connection_dies_mid_round_is_lost_and_its_shards_are_reassigned()
    {
        var reference = await ReferenceAsync();
        var (job, notices) = await RunAsync(Fault.Die);
        Assert.True(fixture.Proxy.Fired, "the proxy never saw round 5");
        Assert.Contains(notices, n => n.Contains("zz-relayed is unreachable over its data connection", StringComparison.Ordinal));
        Assert.Equal(2, job.ShardsReassigned);
        Assert.Equal(1, job.WorkersLost);
        Assert.Equal(1, job.WorkersAtEnd);
        AssertSameModel(reference, job);

        // The worker itself is alive: live again for the next job, whose rounds go through a working connection.
        var (next, _) = await RunAsync(Fault.None);
        Assert.Equal(2, next.WorkersAtEnd);
        AssertSameModel(reference, next);
    }
}
