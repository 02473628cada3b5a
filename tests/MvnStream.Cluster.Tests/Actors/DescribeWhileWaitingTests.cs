using Akka.Actor;
using Akka.TestKit.Xunit2;
using MvnStream.Cluster.Actors;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;

namespace MvnStream.Cluster.Tests.Actors;

/// <summary>
/// Start-up (docs/ARCHITECTURE.md, "Fitting a file"): while a job waits for more workers, the first registered worker already
/// describes the file, so the shards are planned the moment the last worker registers instead of one describe round trip
/// later; a describing worker that is lost before it answers is replaced by the next one. The coordinator actor is started
/// directly in a one-node ActorSystem; test probes are the client and the workers.
/// </summary>
public sealed class DescribeWhileWaitingTests : TestKit
{
    private static readonly string Hocon = $$"""
        akka.loglevel = WARNING
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.cluster.roles = [{{NodeConfiguration.CoordinatorRole}}]
        """;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public DescribeWhileWaitingTests()
        : base(Hocon)
    {
    }

    private static SubmitFitJob Job(string id, int minWorkers) => new(id, "/data/file.csv", new ReaderSettings(RowFormat.Csv, 0, BadRowPolicy.Fail),
        new FitJobSettings(SolverKind.Lbfgs, Parameterization.LowerTriangular, MaxIterations: 10, GradientTolerance: 1e-8, RelativeTolerance: 0,
            LearningRate: 0, Ridge: 0, ShrinkageMode.None, ShrinkageIntensity: 0, SummingMode.Statistics, ShardsPerWorker: 1, MinWorkers: minWorkers,
            WorkerWaitSeconds: 60));

    private IActorRef Coordinator() => Sys.ActorOf(FitCoordinatorActor.Props(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60)));

    /// <summary>Registers <paramref name="worker"/> and awaits the acknowledgement.</summary>
    private static void Register(Akka.TestKit.TestProbe worker, IActorRef coordinator, string id)
    {
        coordinator.Tell(new RegisterWorker(id, 1), worker.Ref);
        worker.ExpectMsg<WorkerRegistered>(Wait);
    }

    [Fact]
    public void The_first_worker_describes_the_file_while_the_job_waits_and_the_last_registration_plans_the_shards()
    {
        var coordinator = Coordinator();
        var client = CreateTestProbe("client");
        var w1 = CreateTestProbe("w1");
        var w2 = CreateTestProbe("w2");
        coordinator.Tell(Job("j1", minWorkers: 2), client.Ref);
        client.ExpectMsg<FitJobNotice>(n => n.Message.Contains("waiting for 2 worker(s)", StringComparison.Ordinal), Wait);

        Register(w1, coordinator, "w1");
        // Before the second worker is there (without the change: only once both had registered).
        var describe = w1.ExpectMsg<DescribeFile>(Wait);
        Assert.Equal("j1", describe.JobId);
        Assert.Equal("/data/file.csv", describe.Path);
        coordinator.Tell(new FileDescribed("j1", 1000, 3, Shardable: true), w1.Ref);

        Register(w2, coordinator, "w2");
        // Planned from the description at once: no second describe, the job accepted on both workers, one shard each.
        var accepted = client.ExpectMsg<FitJobAccepted>(Wait);
        Assert.Equal((2, 2, 1000L, 3), (accepted.Workers, accepted.Shards, accepted.FileBytes, accepted.Dimension));
        var shards = new[] { w1.ExpectMsg<LoadShard>(Wait), w2.ExpectMsg<LoadShard>(Wait) };
        Assert.Equal([0, 1], shards.Select(s => s.ShardIndex).Order());
        Assert.All(shards, s => Assert.Equal(3, s.Reader.Dimension));
    }

    [Fact]
    public void A_describing_worker_lost_before_it_answers_is_replaced_by_the_next_one_to_register()
    {
        var coordinator = Coordinator();
        var client = CreateTestProbe("client");
        var w1 = CreateTestProbe("w1");
        var w2 = CreateTestProbe("w2");
        var w3 = CreateTestProbe("w3");
        coordinator.Tell(Job("j2", minWorkers: 2), client.Ref);
        client.ExpectMsg<FitJobNotice>(Wait);

        Register(w1, coordinator, "w1");
        w1.ExpectMsg<DescribeFile>(Wait);
        Sys.Stop(w1.Ref); // lost before answering
        client.FishForMessage(m => m is FitJobNotice n && n.Message.Contains("w1", StringComparison.Ordinal), Wait);

        Register(w2, coordinator, "w2");
        w2.ExpectMsg<DescribeFile>(Wait);
        coordinator.Tell(new FileDescribed("j2", 500, 2, Shardable: true), w2.Ref);
        Register(w3, coordinator, "w3");

        var accepted = client.FishForMessage<FitJobAccepted>(_ => true, Wait);
        Assert.Equal((2, 2, 2), (accepted.Workers, accepted.Shards, accepted.Dimension));
        w3.ExpectMsg<LoadShard>(Wait);
    }
}
