using System.Globalization;
using Confluent.Kafka;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Kafka.Streaming;
using MvnStream.Kafka.Tests.Support;
using MvnStream.Tests.Shared;
using Xunit.Abstractions;

namespace MvnStream.Kafka.Tests;

/// <summary>
/// A stream worker whose node is unreachable for a few seconds (a long GC pause, a stalled VM, a network blip) but comes
/// back before the split-brain resolver downs it stays a cluster member, and its Kafka consumer stays a consumer-group
/// member that keeps its partitions. The stream coordinator used to forget such a worker for good: it was never told to
/// stop or to release the job, so its consumer went on holding partitions for a finished job, and every later job on the
/// group ran without it and starved on the partitions it held. Real parts: four ActorSystems over TCP on loopback, the
/// development broker, and Akka.Remote's throttler transport to cut the link (as Akka's multi-node tests do).
/// </summary>
[Collection("broker")]
public sealed class StreamWorkerReachabilityTests(BrokerFixture fixture, ITestOutputHelper output) : IDisposable
{
    private const int D = 3, Seed = 2718;

    private readonly string _dir = Directory.CreateTempSubdirectory("mvnstream-reach-").FullName;
    private readonly Random _rng = new(Seed);
    private readonly List<(double[] Row, int Partition, long Offset)> _rows = [];

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    private async Task<(EmbeddedCluster Cluster, StreamingNode Streaming, LinkBlip Blip)> StartClusterAsync()
    {
        var cluster = await EmbeddedCluster.StartAsync(3, LinkBlip.Hocon);
        foreach (var w in cluster.Workers) StreamingNode.Attach(w);
        var streaming = StreamingNode.Attach(cluster.Coordinator);
        return (cluster, streaming, new LinkBlip(cluster, cluster.Workers[2], output));
    }

    /// <summary>
    /// Job 1 on a new topic and group, running until stopped (Ctrl-C) with a file checkpoint: 2000 rows merged by the 3
    /// workers, then the link to one worker cut and 1000 more rows produced while it is. Rows arriving while the link is
    /// cut: the cut-off worker reads its partitions' share, and its contributions are lost on the way; its intake
    /// re-synchronises through the ledger once they time out.
    /// </summary>
    private async Task<(string Topic, string Group, string Checkpoint, string Ctx, List<string> Problems, JobEvents Events, Task<StreamJobOutcome> Job)>
        StartJobAndCutAsync(StreamingNode streaming, LinkBlip blip, CancellationToken stop)
    {
        string topic = Topics.New("reach"), group = "reach-" + Guid.NewGuid().ToString("N")[..8];
        string checkpoint = Path.Combine(_dir, "checkpoint.bin");
        string ctx = $"seed {Seed}, d = {D}, topic {topic}, group {group}, worker {blip.VictimId} cut off";
        var problems = new List<string>();
        Produce(topic, 2000);
        var events = new JobEvents(output, "job 1");
        var job = StreamJobRunner.RunAsync(streaming, new StartStreamJob("reach-1", Settings(topic, group, checkpoint, untilIdle: 0)), events.Add,
            TimeSpan.FromSeconds(60), stop);
        await events.WaitAsync(m => m is StreamJobStatus { Rows: 2000, Workers: 3 }, TimeSpan.FromSeconds(60),
            "job 1 merged the first 2000 rows with 3 workers", fail: true, problems);
        await blip.CutAsync();
        Produce(topic, 1000);
        await events.WaitAsync(m => m is StreamJobStatus { Workers: 2 }, TimeSpan.FromSeconds(10),
            "job 1's status counts 2 live workers while one is unreachable", fail: false, problems);
        return (topic, group, checkpoint, ctx, problems, events, job);
    }

    [Fact]
    public async Task A_worker_unreachable_for_a_moment_counts_again_is_stopped_and_released_and_runs_the_next_job()
    {
        var (cluster, streaming, blip) = await StartClusterAsync();
        await using var _ = cluster;
        using var stop1 = new CancellationTokenSource();
        var (topic, group, checkpoint, ctx, problems, events1, job1) = await StartJobAndCutAsync(streaming, blip, stop1.Token);
        await blip.RestoreAsync();

        await events1.WaitAsync(m => m is StreamJobStatus { Workers: 3 }, TimeSpan.FromSeconds(10),
            "job 1's status counts 3 workers again once the worker is reachable", fail: false, problems);
        Produce(topic, 1000);
        await events1.WaitAsync(m => m is StreamJobStatus { Rows: 4000 }, TimeSpan.FromSeconds(60),
            "job 1 merged all 4000 rows (the cut-off worker's share re-read through the ledger)", fail: false, problems);
        await stop1.CancelAsync();
        var outcome1 = await job1.WaitAsync(TimeSpan.FromSeconds(60));
        CheckFinished(outcome1, 4000, "job 1", ctx, events1, problems);
        // The stop waits for the worker again (it drains and confirms), instead of leaving it out.
        if (events1.Notices.FirstOrDefault(n => n.Contains("did not confirm the stop", StringComparison.Ordinal)) is { } late)
            problems.Add($"job 1's stop did not hear from every worker: '{late}'");

        // No consumer of job 1 still holds partitions of the group (it would read them for a job that is over).
        await CheckGroupReleasedAsync(topic, group, problems);

        // Job 2 on the same group and checkpoint (a restart of the stream): it must run on all three workers.
        Produce(topic, 1000);
        await RunNextJobAsync(streaming, topic, group, checkpoint, restoredRows: 4000, ctx, problems);

        Assert.True(problems.Count == 0, $"{problems.Count} problem(s) ({ctx}):\n  - {string.Join("\n  - ", problems)}");
    }

    [Fact]
    public async Task A_job_stopped_while_a_worker_is_unreachable_does_not_wait_for_it_and_the_worker_is_released_once_reachable()
    {
        var (cluster, streaming, blip) = await StartClusterAsync();
        await using var _ = cluster;
        using var stop1 = new CancellationTokenSource();
        var (topic, group, checkpoint, ctx, problems, events1, job1) = await StartJobAndCutAsync(streaming, blip, stop1.Token);
        // Stopped while the worker is cut off: the stop does not wait for it (it may be dead; the stop timeout is 20 s), and
        // the job counts exactly what its ledger covers: the cut-off worker's share of the last rows is left for the next run.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await stop1.CancelAsync();
        var outcome1 = await job1.WaitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"job 1 stopped in {clock.Elapsed.TotalSeconds:F1} s");
        var f1 = CheckFinished(outcome1, null, "job 1", ctx, events1, problems);
        if (events1.Notices.FirstOrDefault(n => n.Contains("did not confirm the stop", StringComparison.Ordinal)) is { } late)
            problems.Add($"job 1's stop waited for the unreachable worker: '{late}'");
        await blip.RestoreAsync();

        // The job ended while the worker was cut off, so it may never have heard the stop or the release: once reachable it
        // must be told, or its consumer holds partitions of the group for a job that is over (until some later job replaces it).
        await CheckGroupReleasedAsync(topic, group, problems);
        Produce(topic, 1000);
        await RunNextJobAsync(streaming, topic, group, checkpoint, restoredRows: f1?.Rows ?? -1, ctx, problems);

        Assert.True(problems.Count == 0, $"{problems.Count} problem(s) ({ctx}):\n  - {string.Join("\n  - ", problems)}");
    }

    /// <summary>
    /// A consumer of our own joins the group (same assignor as the workers', without committing): it is given all four
    /// partitions only when no other member is left, i.e. every worker closed the finished job's consumer.
    /// </summary>
    private async Task CheckGroupReleasedAsync(string topic, string group, List<string> problems)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = fixture.Bootstrap,
            GroupId = group,
            EnableAutoCommit = false,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            SessionTimeoutMs = 6000,
            HeartbeatIntervalMs = 500,
        };
        await Task.Run(() =>
        {
            using var consumer = new ConsumerBuilder<Ignore, Ignore>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
            consumer.Subscribe(topic);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (consumer.Assignment.Count < 4 && clock.Elapsed < TimeSpan.FromSeconds(20)) consumer.Consume(100);
            string text = $"a consumer of our own in group {group} was given {consumer.Assignment.Count} of the 4 partitions after {clock.Elapsed.TotalSeconds:F1} s";
            output.WriteLine(text);
            if (consumer.Assignment.Count < 4) problems.Add(text + ": another member (a worker still consuming for the finished job) holds the rest");
            consumer.Close();
        });
    }

    /// <summary>The next run of the stream (same group and checkpoint, until idle): on three workers, and it counts every row produced.</summary>
    private async Task RunNextJobAsync(StreamingNode streaming, string topic, string group, string checkpoint, long restoredRows, string ctx, List<string> problems)
    {
        var events2 = new JobEvents(output, "job 2");
        using var stop2 = new CancellationTokenSource(TimeSpan.FromSeconds(60)); // if never idle: stop it and report what it counted
        var outcome2 = await StreamJobRunner.RunAsync(streaming, new StartStreamJob("reach-2", Settings(topic, group, checkpoint, untilIdle: 2)), events2.Add,
            TimeSpan.FromSeconds(60), stop2.Token).WaitAsync(TimeSpan.FromSeconds(120));
        var started = events2.All.OfType<StreamJobStarted>().FirstOrDefault();
        if (started is not { Workers: 3, Restored: true } || started.RestoredRows != restoredRows)
            problems.Add($"job 2 started as {started?.ToString() ?? "(no StreamJobStarted)"}; expected 3 workers, restored {restoredRows} rows");
        if (stop2.IsCancellationRequested) problems.Add("job 2 never became idle within 60 s (a partition of the group was held by a consumer that does not count for it)");
        CheckFinished(outcome2, _rows.Count, "job 2", ctx, events2, problems);
    }

    private StreamJobSettings Settings(string topic, string group, string checkpoint, double untilIdle) =>
        new(fixture.Bootstrap, topic, group, RowFormat.Csv, D, Forgetting: 1, ModelTopic: "", ScoresTopic: "", DeadLetterTopic: "", AnomalyLevel: 0.001,
            Checkpoint: "file:" + checkpoint, ModelFile: Path.Combine(_dir, "model.json"), SnapshotIntervalSeconds: 0.5, UntilIdleSeconds: untilIdle,
            MaxRows: 0, StepsPerUpdate: 5, Solver: SolverKind.Lbfgs, Parameterization: Parameterization.LowerTriangular, MaxIterations: 5000,
            GradientTolerance: 1e-12, LearningRate: 0.05, Ridge: 0, Shrinkage: ShrinkageMode.None, ShrinkageIntensity: 0, BatchRows: 200,
            LingerMilliseconds: 100, KafkaProperties: []);

    /// <summary>Produces <paramref name="count"/> CSV rows round-robin over the 4 partitions and remembers them and their offsets for the oracle.</summary>
    private void Produce(string topic, int count)
    {
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = fixture.Bootstrap, LingerMs = 5, EnableIdempotence = true })
            .SetLogHandler((_, _) => { }).Build();
        var rows = new (double[] Row, int Partition, long Offset)[count];
        string? error = null;
        for (int i = 0; i < count; i++)
        {
            int k = i;
            var row = Enumerable.Range(0, D).Select(j => Math.Round(2 * j + (_rng.NextDouble() - 0.5) * (j + 1), 6)).ToArray();
            producer.Produce(new TopicPartition(topic, i % 4),
                new Message<Null, string> { Value = string.Join(',', row.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) },
                r =>
                {
                    if (r.Error.IsError) error ??= r.Error.Reason;
                    rows[k] = (row, r.Partition.Value, r.Offset.Value);
                });
        }
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        Assert.True(error is null, $"producing to {topic} failed: {error}");
        _rows.AddRange(rows);
    }

    /// <summary>
    /// The job finished having counted exactly the rows in the offset ranges its ledger reports, each once (and, when
    /// <paramref name="n"/> is given, all <paramref name="n"/> produced so far), and its model is their sample mean and
    /// biased covariance (two-pass, computed here), relative 1e-9: the final solve converges to a gradient norm of 1e-12.
    /// </summary>
    private StreamJobFinished? CheckFinished(StreamJobOutcome outcome, int? n, string what, string ctx, JobEvents events, List<string> problems)
    {
        if (outcome.Finished is not { } f)
        {
            problems.Add($"{what} failed: {outcome.Failed?.Message}");
            return null;
        }
        output.WriteLine($"{what} finished: {f.Rows} rows, {f.AcceptedRecords} accepted, version {f.Version}; {f.StopReason}");
        var covered = f.PartitionKeys.Select((key, i) => (Partition: int.Parse(key[(key.LastIndexOf('/') + 1)..], CultureInfo.InvariantCulture), Start: f.PartitionStarts[i], Next: f.PartitionNexts[i])).ToList();
        var rows = _rows.Where(r => covered.Any(c => c.Partition == r.Partition && r.Offset >= c.Start && r.Offset < c.Next)).Select(r => r.Row).ToList();
        if (f.Rows != rows.Count || f.AcceptedRecords != rows.Count || f.LostRecords != 0 || (n is { } all && rows.Count != all))
        {
            problems.Add($"{what} counted {f.Rows} rows ({f.AcceptedRecords} accepted, {f.LostRecords} lost); its ledger covers {rows.Count} of the {_rows.Count} rows produced"
                + (n is null ? "" : $"; expected all {n}"));
            return f;
        }
        int count = rows.Count;
        var mean = new double[D];
        foreach (var r in rows) for (int j = 0; j < D; j++) mean[j] += r[j] / count;
        var cov = new double[D * D];
        foreach (var r in rows)
            for (int i = 0; i < D; i++)
                for (int j = 0; j < D; j++) cov[i * D + j] += (r[i] - mean[i]) * (r[j] - mean[j]) / count;
        var theta = f.Theta!.ToParameters();
        double dm = Relative(theta.Mu, mean), ds = Relative(theta.Covariance(), cov);
        if (!(dm <= 1e-9 && ds <= 1e-9)) problems.Add($"{what}: model vs its {count} rows: mu {dm:E2}, covariance {ds:E2} relative (tolerance 1e-9) ({ctx}); notices: {string.Join(" | ", events.Notices)}");
        return f;
    }

    private static double Relative(double[] a, double[] b) =>
        Math.Sqrt(a.Select((v, i) => (v - b[i]) * (v - b[i])).Sum()) / Math.Sqrt(b.Sum(v => v * v));

    /// <summary>A job's events as they come; a test waits for one that has not happened yet.</summary>
    private sealed class JobEvents(ITestOutputHelper output, string name)
    {
        private readonly Lock _gate = new();
        private readonly List<IMvnMessage> _all = [];
        private readonly List<(Func<IMvnMessage, bool> Match, TaskCompletionSource Done)> _waiters = [];

        public IReadOnlyList<IMvnMessage> All
        {
            get { lock (_gate) return _all.ToList(); }
        }

        public IReadOnlyList<string> Notices => All.OfType<StreamJobNotice>().Select(n => n.Message).ToList();

        public void Add(IMvnMessage m)
        {
            if (m is StreamJobNotice notice) output.WriteLine($"{name} note: {notice.Message}");
            lock (_gate)
            {
                _all.Add(m);
                foreach (var w in _waiters.Where(w => w.Match(m)).ToList())
                {
                    w.Done.TrySetResult();
                    _waiters.Remove(w);
                }
            }
        }

        /// <summary>Waits for a future event matching <paramref name="match"/>; a timeout fails the test (<paramref name="fail"/>) or is noted as a problem.</summary>
        public async Task WaitAsync(Func<IMvnMessage, bool> match, TimeSpan timeout, string what, bool fail, List<string> problems)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate) _waiters.Add((match, done));
            try
            {
                await done.Task.WaitAsync(timeout);
                output.WriteLine($"{name}: {what}");
            }
            catch (TimeoutException)
            {
                var last = All.OfType<StreamJobStatus>().LastOrDefault();
                string text = $"not within {timeout.TotalSeconds:F0} s: {what} (last status: {(last is null ? "none" : $"{last.Rows} rows, {last.Workers} workers")})";
                output.WriteLine($"{name}: {text}");
                Assert.False(fail, text);
                problems.Add(text);
            }
        }
    }
}
