using Akka.Actor;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace MvnStream.Cluster.Tests.Fitting;

/// <summary>
/// Whatever fails while a worker serves a job goes back to whoever asked, as a failure of that job. An exception on the
/// worker's actor thread used to restart the actor: it dropped the shards it held and answered nothing, so the job
/// waited for the round forever (until Ctrl-C). The test plays the coordinator's part over real TCP remoting.
/// </summary>
[Collection(FittingClusterCollection.Name)]
public sealed class WorkerFailureTests(FittingClusterFixture fixture, ITestOutputHelper output)
{
    private const int Seed = 4242, D = 4, N = 500;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    private async Task<IMvnMessage> NextAsync(Inbox inbox, string waitingFor)
    {
        try
        {
            while (true)
            {
                var m = await inbox.ReceiveAsync(Limit);
                if (m is ShardLoadProgress) continue;
                return m as IMvnMessage ?? throw new XunitException($"unexpected {m.GetType().Name} while waiting for {waitingFor}");
            }
        }
        catch (TimeoutException)
        {
            throw new XunitException($"the worker sent nothing within {Limit.TotalSeconds:F0} s while the test waited for {waitingFor}");
        }
    }

    [Fact]
    public async Task A_round_the_worker_cannot_compute_comes_back_as_a_job_failure_and_the_worker_keeps_serving()
    {
        output.WriteLine($"seed {Seed}, d {D}, n {N}");
        var path = TestData.WriteCsv(fixture.Directory, "worker-failure.csv", D, N, 0.3, Seed);
        var system = fixture.Cluster.Coordinator.System;
        var worker = await system.ActorSelection(fixture.Cluster.Workers[0].Address + "/user/worker").ResolveOne(Limit);
        var inbox = Inbox.Create(system);
        string jobId = "t" + Guid.NewGuid().ToString("N")[..11];
        var reader = new ReaderSettings(RowFormat.Csv, D, BadRowPolicy.Fail);
        try
        {
            inbox.Send(worker, new LoadShard(jobId, 0, path, 0, long.MaxValue, reader, ReturnStatistics: false));
            var loaded = Assert.IsType<ShardLoaded>(await NextAsync(inbox, "the shard to load"));
            Assert.Equal(N, loaded.Rows);

            // theta of the wrong dimension: computing J on the d = 4 statistics throws on the worker.
            var wrong = new ThetaData(3, Parameterization.LowerTriangular, [0, 0, 0], [1, 0, 1, 0, 0, 1]);
            inbox.Send(worker, new ComputePartialGradient(jobId, 1, [0], wrong));
            var failed = Assert.IsType<ShardLoadFailed>(await NextAsync(inbox, "an answer to a round it cannot compute"));
            output.WriteLine($"{failed.Kind}: {failed.Message}");
            Assert.Equal(jobId, failed.JobId);
            Assert.Equal(0, failed.ShardIndex);
            Assert.Equal(JobErrorKind.Failure, failed.Kind);
            Assert.Contains("shard 0", failed.Message, StringComparison.Ordinal);
            Assert.Contains("dimension", failed.Message, StringComparison.Ordinal);

            // The worker still holds the shard: a round at a proper theta is answered from it.
            var right = ThetaData.From(MvnParameters.Identity(D, Parameterization.LowerTriangular));
            inbox.Send(worker, new ComputePartialGradient(jobId, 2, [0], right));
            var answer = Assert.IsType<PartialGradientComputed>(await NextAsync(inbox, "an answer to a proper round"));
            Assert.Equal(2, answer.Round);
            Assert.True(double.IsFinite(answer.J), $"J = {answer.J}");
        }
        finally
        {
            worker.Tell(new ReleaseJob(jobId));
        }
    }
}
