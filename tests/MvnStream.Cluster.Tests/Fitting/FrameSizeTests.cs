using System.Diagnostics;
using System.Globalization;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using Xunit.Abstractions;

namespace MvnStream.Cluster.Tests.Fitting;

/// <summary>
/// A message larger than akka.remote.dot-netty.tcp.maximum-frame-size is dropped by remoting, with an error in the
/// sender's log only; a job whose statistics or theta do not fit used to wait forever. It must fail at once, with
/// exit code 2's kind (configuration) and the key to raise. d = 128 statistics (packed lower triangle) are 66 KB, over
/// a 64 KiB frame.
/// </summary>
[Collection(FittingClusterCollection.Name)]
public sealed class FrameSizeTests(ITestOutputHelper output) : IDisposable
{
    private const string SmallFrames = "akka.remote.dot-netty.tcp.maximum-frame-size = 64KiB";
    private const int D = 128, N = 400;

    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "mvnstream-frame-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public void Dispose() => TestData.DeleteDirectory(_dir);

    [Theory]
    [InlineData(SummingMode.Statistics, Parameterization.LowerTriangular)]
    [InlineData(SummingMode.Gradients, Parameterization.Full)]
    public async Task A_job_whose_messages_exceed_the_frame_size_fails_at_once_naming_the_setting(SummingMode summing, Parameterization parameterization)
    {
        var path = TestData.WriteCsv(_dir, "d128.csv", D, N, 0.3, 128);
        await using var cluster = await EmbeddedCluster.StartAsync(2, SmallFrames);
        var clock = Stopwatch.StartNew();
        var (outcome, _) = await Jobs.RunAsync(cluster.Coordinator, Jobs.Submit(path,
            Jobs.Settings(SolverKind.Lbfgs, summing, minWorkers: 2, parameterization: parameterization)), TimeSpan.FromSeconds(60));
        var f = Jobs.Failed(outcome, $"d = {D} with 64 KiB frames");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds:F2} s: {f.Kind}: {f.Message}"));
        Assert.Equal(JobErrorKind.Usage, f.Kind);
        Assert.Contains("maximum-frame-size", f.Message, StringComparison.Ordinal);
        Assert.Contains($"d = {D}", f.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_worker_with_smaller_frames_than_the_coordinator_fails_the_job_naming_itself()
    {
        // The coordinator's frames fit everything; the worker's do not fit its statistics message.
        var path = TestData.WriteCsv(_dir, "d128.csv", D, N, 0.3, 129);
        var timeout = TimeSpan.FromSeconds(30);
        await using var coordinator = await ClusterNode.StartAsync(new NodeConfiguration
        {
            Roles = [NodeConfiguration.CoordinatorRole], Seeds = [], Hostname = "127.0.0.1", Port = 0,
        }, timeout);
        await using var worker = await ClusterNode.StartAsync(new NodeConfiguration
        {
            Roles = [NodeConfiguration.WorkerRole], Seeds = [coordinator.Address.ToString()], Hostname = "127.0.0.1", Port = 0, ExtraHocon = SmallFrames,
        }, timeout);
        var (outcome, _) = await Jobs.RunAsync(coordinator, Jobs.Submit(path,
            Jobs.Settings(SolverKind.Lbfgs, SummingMode.Statistics, minWorkers: 1)), TimeSpan.FromSeconds(60));
        var f = Jobs.Failed(outcome, "worker with 64 KiB frames");
        output.WriteLine($"{f.Kind}: {f.Message}");
        Assert.Equal(JobErrorKind.Usage, f.Kind);
        Assert.Contains("maximum-frame-size", f.Message, StringComparison.Ordinal);
        Assert.Contains($"worker {worker.Address.Host}:{worker.Address.Port}", f.Message, StringComparison.Ordinal);
    }
}
