using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Confluent.Kafka;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;
using MvnStream.Kafka.Streaming;
using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

/// <summary>
/// The coordinator's stop, driven by a scripted worker on another node (real TCP): it registers, merges one contribution through the
/// ledger, then never confirms the stop. The coordinator waits its configured stop timeout (1 s here, not the 20 s default), finalises
/// with what was merged, and finishes once the final model file and checkpoint are written (both off its thread) and the model
/// topic has confirmed the final snapshot.
/// </summary>
[Collection("broker")]
public sealed class StreamCoordinatorStopTests(BrokerFixture fixture) : IDisposable
{
    private const int D = 3, Rows = 500;
    private readonly string _dir = Directory.CreateTempSubdirectory("mvnstream-stop-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public async Task A_stop_no_worker_confirms_finalises_after_the_configured_timeout_and_saves_the_final_model_and_checkpoint()
    {
        await using var cluster = await EmbeddedCluster.StartAsync(1);
        var streaming = StreamingNode.Attach(cluster.Coordinator); // the worker node gets only the scripted worker below
        var workerSystem = cluster.Workers[0].System;
        var proxy = workerSystem.ActorOf(ClusterSingletonProxy.Props($"/user/{StreamingNode.CoordinatorName}",
            ClusterSingletonProxySettings.Create(workerSystem).WithRole(NodeConfiguration.CoordinatorRole)), "scripted-proxy");
        var merged = new TaskCompletionSource<ContributionAck>(TaskCreationOptions.RunContinuationsAsynchronously);
        var told = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        workerSystem.ActorOf(Props.Create(() => new ScriptedWorker(proxy, Statistics(), merged, told)), "scripted-worker");

        string topic = Topics.New("stop"), model = Path.Combine(_dir, "model.json"), checkpoint = Path.Combine(_dir, "checkpoint.bin");
        var settings = new StreamJobSettings(fixture.Bootstrap, topic, "stop-" + Guid.NewGuid().ToString("N")[..8], RowFormat.Csv, D, Forgetting: 1,
            ModelTopic: topic + ".model", ScoresTopic: "", DeadLetterTopic: "", AnomalyLevel: 0.001, Checkpoint: "file:" + checkpoint, ModelFile: model,
            SnapshotIntervalSeconds: 60, UntilIdleSeconds: 0, MaxRows: 0, StepsPerUpdate: 5, Solver: SolverKind.Lbfgs,
            Parameterization: Parameterization.LowerTriangular, MaxIterations: 5000, GradientTolerance: 1e-12, LearningRate: 0.05, Ridge: 0,
            Shrinkage: ShrinkageMode.None, ShrinkageIntensity: 0, BatchRows: 200, LingerMilliseconds: 100, KafkaProperties: [])
        {
            Tunables = StreamTunables.Default with { StopTimeoutSeconds = 1 }, // the setting Stream:StopTimeout
        };
        var notices = new List<string>();
        using var stop = new CancellationTokenSource();
        var job = StreamJobRunner.RunAsync(streaming, new StartStreamJob("stop-1", settings), m =>
        {
            lock (notices)
                if (m is StreamJobNotice n) notices.Add(n.Message);
        }, TimeSpan.FromSeconds(60), stop.Token);

        var ack = await merged.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(ContributionOutcome.Accepted, ack.Outcome);
        stop.Cancel();
        await told.Task.WaitAsync(TimeSpan.FromSeconds(30)); // StopConsuming reached the worker, which never answers it
        // Well inside the 20 s default: only the configured 1 s lets the stop finish in time.
        var outcome = await job.WaitAsync(TimeSpan.FromSeconds(15));

        var finished = Assert.IsType<StreamJobFinished>(outcome.Finished);
        lock (notices) Assert.Contains(notices, n => n.Contains("did not confirm the stop in time", StringComparison.Ordinal));
        Assert.Equal(Rows, finished.Rows);
        // The job finishes only after its model file writes (off the coordinator's thread) have all reported: the file holds the final model.
        var file = MvnModel.Load(model);
        Assert.Equal(Rows, file.N);
        Assert.Equal(finished.Version, file.Version);
        // ... and after the model topic has confirmed the final snapshot: it is there the moment the client hears of the end (the
        // snapshot interval, 60 s, is longer than the job: the final snapshot is the topic's only record).
        using (var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig { BootstrapServers = fixture.Bootstrap, GroupId = "stop-check" }).Build())
        {
            var partitions = Enumerable.Range(0, MvnStream.Kafka.Broker.DevelopmentBroker.PartitionsPerTopic).Select(p => new TopicPartition(settings.ModelTopic, p)).ToArray();
            Assert.Equal(1, partitions.Sum(p => consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value));
            consumer.Assign(partitions.Select(p => new TopicPartitionOffset(p, 0)));
            var record = consumer.Consume(TimeSpan.FromSeconds(10));
            Assert.NotNull(record);
            Assert.Equal(finished.Version, MvnModel.Parse(record.Message.Value).Version);
        }
        using var store = CheckpointStore.Create("file:" + checkpoint, fixture.Bootstrap, []);
        var cp = await store.LoadAsync($"{settings.Group}/{topic}", CancellationToken.None);
        Assert.NotNull(cp);
        Assert.Equal(Rows, cp!.Statistics!.Count);
        Assert.Equal(new long[] { Rows }, cp.Nexts);
        Assert.Equal(finished.Version, cp.Version);
    }

    /// <summary>Integer-valued rows: the statistics of records [0, Rows) of partition 0.</summary>
    private static StatisticsData Statistics()
    {
        var s = new SufficientStatistics(D);
        for (int i = 0; i < Rows; i++) s.Add([i % 7, (i * 3) % 11, (i * i) % 17]);
        return StatisticsData.From(s);
    }

    /// <summary>Registers, answers StartConsuming with one contribution at the ledger's position, and never confirms a stop.</summary>
    private sealed class ScriptedWorker : ReceiveActor, IWithTimers
    {
        public ScriptedWorker(IActorRef proxy, StatisticsData stats, TaskCompletionSource<ContributionAck> merged, TaskCompletionSource told)
        {
            IActorRef? coordinator = null;
            bool sent = false;
            Receive<string>(_ => { if (coordinator is null) proxy.Tell(new RegisterWorker("scripted")); });
            Receive<WorkerRegistered>(_ => coordinator = Sender);
            Receive<StartConsuming>(s => Sender.Tell(new LedgerQuery(s.JobId, s.Epoch, s.Settings.Topic, 0, 0)));
            Receive<LedgerPosition>(p =>
            {
                if (sent) return;
                sent = true;
                Sender.Tell(new PartitionContribution(p.JobId, p.Epoch, p.Topic, p.Partition, p.Next, p.Next + Rows, Rows, 0, stats));
            });
            Receive<ContributionAck>(a => merged.TrySetResult(a));
            Receive<StopConsuming>(_ => told.TrySetResult());
            ReceiveAny(_ => { });
        }

        public ITimerScheduler Timers { get; set; } = null!;

        protected override void PreStart() => Timers.StartPeriodicTimer("register", "register", TimeSpan.Zero, TimeSpan.FromMilliseconds(500));
    }
}
