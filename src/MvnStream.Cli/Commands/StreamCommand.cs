using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using MvnStream.Cli.Http;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Kafka.Streaming;

namespace MvnStream.Cli.Commands;

/// <summary>
/// <c>mvnstream stream</c>: the online fit of a Kafka topic on the embedded cluster (or a running one),
/// exactly once per record across worker and coordinator failures (docs/ARCHITECTURE.md, "The offset ledger").
/// </summary>
internal static class StreamCommand
{
    internal sealed record StreamArgs(
        string? Bootstrap, string Topic, string? Format, int? Dim, string? Group, string Out, string? UntilIdle, long MaxRows,
        double Forgetting, string? ScoresTopic, string? DlqTopic, string? ModelTopic, string? Checkpoint, string SnapshotInterval,
        double AnomalyLevel, int Workers, string? Cluster, string Solver, string Param, int StepsPerUpdate, double Tolerance, int MaxIter,
        double? LearningRate, double Ridge, string Shrinkage, int BatchRows, string Linger, string BrokerTimeout, string[] KafkaProperties, string? KafkaConfig, bool Quiet, bool Json, string? Config, bool Verbose = false,
        string? Http = null, double RelTolerance = 0, Configuration.AppSettings? Settings = null);

    public static Command Create()
    {
        var bootstrap = CommonOptions.Bootstrap();
        var topic = new Option<string>("--topic", "-t") { Description = "Topic of rows: the input of the fit.", Required = true, HelpName = "TOPIC" };
        var format = CommonOptions.Encoding("Default csv.");
        var formatDeprecated = CommonOptions.Deprecated<string?>("--format", "--encoding");
        var dim = new Option<int?>("--dim") { Description = "Dimension d. Required for f64 records; otherwise the width most of the first records of the topic agree on, or the checkpoint's d when resuming.", HelpName = "D" };
        var group = new Option<string?>("--group", "-g") { Description = "Consumer group (default mvnstream-TOPIC). The checkpoint is keyed by group and topic.", HelpName = "GROUP" };
        var output = new Option<string>("--out", "-o") { Description = "Output file: model snapshots and the final model (JSON, with offsets and version).", DefaultValueFactory = _ => "model.json", HelpName = "PATH" };
        var untilIdle = Durations.Option("--until-idle", "Finish once no record has arrived for this long and every partition is read to its end (e.g. 10s). Default: run until Ctrl-C.");
        var maxRows = new Option<long>("--max-rows") { Description = "Finish once at least N rows are counted (contributions are never split, so a few more may be).", DefaultValueFactory = _ => 0, HelpName = "N" };
        var forgetting = new Option<double>("--forgetting") { Description = "Exponential forgetting factor per row in (0, 1]: older rows weigh factor^(rows after them). 1 = none; with it the model depends on arrival order.", DefaultValueFactory = _ => 1.0, HelpName = "F" };
        var scores = new Option<string?>("--scores-topic") { Description = "Write a score record (partition, offset, log-density, squared Mahalanobis distance, chi-square tail probability, anomaly flag) for every accepted record.", HelpName = "TOPIC" };
        var dlq = new Option<string?>("--dlq-topic") { Description = "Dead-letter topic for invalid records (original bytes; reason and source topic/partition/offset in headers). Default TOPIC.dlq; 'none' to drop them (still counted).", HelpName = "TOPIC" };
        var modelTopic = new Option<string?>("--model-topic") { Description = "Topic for model snapshots (JSON). Default TOPIC.model; 'none' for none.", HelpName = "TOPIC" };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Where the coordinator checkpoints {theta, optimiser state, statistics, offset ledger, counters}: kafka:TOPIC (default kafka:TOPIC.checkpoints), file:PATH, or none.", HelpName = "SPEC" };
        var snapshot = Durations.Option("--snapshot-interval", "How often model snapshots and checkpoints are written.", "1s");
        var anomaly = new Option<double>("--anomaly-level") { Description = "A scored record is an anomaly when its chi-square tail probability is below this.", DefaultValueFactory = _ => 0.001, HelpName = "P" };
        var workers = new Option<int>("--workers") { Description = "Worker nodes of an embedded local cluster (real Akka.Cluster over TCP on loopback). Each is one consumer-group member.", DefaultValueFactory = _ => 3, HelpName = "N" };
        var cluster = new Option<string?>("--cluster") { Description = "Run on a running cluster through this seed node, instead of an embedded one.", HelpName = "akka.tcp://mvnstream@HOST:PORT" };
        var solver = new Option<string>("--solver") { Description = "Solver: of the online updates and of the final convergence, gd, adam or lbfgs.", DefaultValueFactory = _ => "lbfgs", HelpName = "gd|adam|lbfgs" };
        var param = new Option<string>("--param") { Description = "Covariance factor: tril (lower-triangular Lambda) or full.", DefaultValueFactory = _ => "tril", HelpName = "tril|full" };
        var steps = new Option<int>("--steps-per-update") { Description = "At most this many warm-started solver iterations after each merge (fewer when the fit reaches --tolerance first).", DefaultValueFactory = _ => 25, HelpName = "K" };
        var tolerance = new Option<double>("--tolerance") { Description = "Gradient tolerance: solves stop when the gradient puts mu within this many standard deviations, and every S_ij within this times sd_i sd_j, of the optimum (scale-free).", DefaultValueFactory = _ => 1e-10, HelpName = "TOL" };
        var relTolerance = CommonOptions.RelTolerance();
        var maxIter = new Option<int>("--max-iter") { Description = "Iteration limit: of the final convergence.", DefaultValueFactory = _ => 5000, HelpName = "N" };
        var lr = new Option<double?>("--learning-rate") { Description = "Adam: cap on the step (in standard deviations); default: none, each fresh frame starts with the Fisher-scoring step.", HelpName = "LR" };
        var ridge = new Option<double>("--ridge") { Description = "Fit S + eps I instead of S (for singular or ill-conditioned data).", DefaultValueFactory = _ => 0.0, HelpName = "EPS" };
        var shrinkage = new Option<string>("--shrinkage") { Description = "Shrink S towards (tr S / d) I: auto (Ledoit-Wolf), none, or an intensity in [0, 1].", DefaultValueFactory = _ => "none", HelpName = "auto|none|RHO" };
        var batch = new Option<int>("--batch-rows") { Description = "Rows per contribution (per partition).", DefaultValueFactory = _ => 4096, HelpName = "N" };
        var linger = Durations.Option("--linger", "Longest a partition's pending rows wait before they are sent.", "200ms");
        var brokerTimeout = Durations.Option("--broker-timeout", "How long the stream waits while no Kafka broker is reachable (the workers say so meanwhile) before it stops with an error (exit 1); what was merged is checkpointed.", "60s");
        var kafkaProps = CommonOptions.KafkaProperty();
        var kafkaConfig = CommonOptions.KafkaConfig();
        var config = new Option<string?>("--config") { Description = "HOCON file of Akka's low-level knobs for this process's cluster node: with --cluster, the client node (TLS); see config/tls.example.hocon.", HelpName = "FILE" };
        var verbose = new Option<bool>("--verbose") { Description = "Also show Akka's own log (membership, remoting) at INFO on stderr; without it the client side shows Akka's errors only (setting Node:ClientLogLevel)." };
        var quiet = CommonOptions.Quiet();
        var json = CommonOptions.Json();
        var http = HttpEndpointSpec.Option();

        var cmd = new Command("stream", "Fit a model online from a Kafka topic, every record counted exactly once; write snapshots to a file and a model topic, optionally score records.")
        {
            bootstrap, topic, format, formatDeprecated, dim, group, output, untilIdle, maxRows, forgetting, scores, dlq, modelTopic, checkpoint, snapshot, anomaly,
            workers, cluster, solver, param, steps, tolerance, relTolerance, maxIter, lr, ridge, shrinkage, batch, linger, brokerTimeout, kafkaProps, kafkaConfig, config, verbose, quiet, json, http,
        };
        // The solver, the stream's tunables, Kafka, --config and --http are settings (README "Configuration"): the flags
        // given override MVNSTREAM__Section__Key variables and the settings files.
        cmd.SetAction((pr, ct) => Configuration.AppSettings.Run(pr, "stream", st => RunAsync(new StreamArgs(
            st.Kafka.Bootstrap, pr.GetValue(topic)!, CommonOptions.Renamed(pr, format, formatDeprecated, "stream"), pr.GetValue(dim), pr.GetValue(group), pr.GetValue(output)!,
            pr.GetValue(untilIdle), pr.GetValue(maxRows), pr.GetValue(forgetting), pr.GetValue(scores), pr.GetValue(dlq), pr.GetValue(modelTopic),
            pr.GetValue(checkpoint), st.Stream.SnapshotInterval, pr.GetValue(anomaly), pr.GetValue(workers), pr.GetValue(cluster), st.Solver.Solver,
            st.Solver.Param, st.Stream.StepsPerUpdate, st.Solver.Tolerance, st.Solver.MaxIter, st.Solver.LearningRate, st.Solver.Ridge,
            st.Solver.Shrinkage, st.Stream.BatchRows, st.Stream.Linger, st.Stream.BrokerTimeout, st.KafkaProperties(), st.Kafka.PropertiesFile, pr.GetValue(quiet), pr.GetValue(json),
            st.Node.Hocon, pr.GetValue(verbose), pr.GetValue(cluster) is null ? st.HttpGiven(true) : pr.GetValue(http), st.Solver.RelTolerance, st), ct)));
        return cmd;
    }

    private static async Task<int> RunAsync(StreamArgs a, CancellationToken ct)
    {
        var progress = new ConsoleProgress(a.Quiet);
        StreamJobSettings settings;
        // Without --dim, d comes from the topic's first record: the cluster starts meanwhile, so the consumers join as soon
        // as the first rows arrive (a stream started before its producer must not start reading seconds behind it).
        Task<ClusterSession>? early = null;
        try { settings = await BuildSettingsAsync(a, progress, ct, () => early = StartSessionAsync(a, progress, ct)); }
        catch (Exception e) when (e is UsageException or OperationCanceledException or KafkaException)
        {
            if (early is not null)
            {
                try { await (await early).DisposeAsync(); }
                catch (Exception) when (early.IsFaulted || early.IsCanceled) { } // its failure is not the one to report
            }
            return e switch
            {
                UsageException => Fail(e.Message, ExitCodes.Usage),
                OperationCanceledException => Fail("stopped by Ctrl-C before the stream started", ExitCodes.Cancelled),
                _ => Fail("Kafka: " + e.Message, ExitCodes.Failure),
            };
        }
        var job = new StartStreamJob(Guid.NewGuid().ToString("N")[..12], settings);
        return await RunJobAsync(a, job, progress, null, ct, session: early);
    }

    private static async Task<ClusterSession> StartSessionAsync(StreamArgs a, ConsoleProgress progress, CancellationToken ct)
    {
        // The coordinator's HTTP endpoint (docs/ARCHITECTURE.md, "HTTP, metrics and dashboard"): embedded clusters only (with
        // --cluster the coordinator node serves it: node --http), served from the coordinator node's own host ("Hosting").
        var http = a.Cluster is null && HttpEndpointSpec.Parse(a.Http, HttpEndpointSpec.CoordinatorDefault) is { } spec
            ? HttpServer.Hosting(_ => (spec, HttpRole.StreamCoordinator), n => progress.Line("note: " + n)) : null;
        var session = await ClusterSession.StartAsync(a.Cluster is null ? a.Workers : 0, a.Cluster, a.Config, progress, ct, quietAkka: true, verbose: a.Verbose, settings: a.Settings,
            coordinatorHost: http);
        session.Streaming(); // the workers register while d is still being learned
        return session;
    }

    /// <summary>Runs a stream job on an embedded cluster or through --cluster; also used by 'demo'.</summary>
    /// <param name="session">The cluster, when it was started already (while the dimension was learned); else started here.</param>
    internal static async Task<int> RunJobAsync(StreamArgs a, StartStreamJob job, ConsoleProgress progress, Action<IMvnMessage>? observer, CancellationToken ct, bool showStatus = true,
        Task<ClusterSession>? session = null)
    {
        ClusterSession cluster;
        try { cluster = await (session ?? StartSessionAsync(a, progress, ct)); }
        catch (UsageException e) { return Fail(e.Message, ExitCodes.Usage); }
        catch (TimeoutException e) { return Fail(e.Message, ExitCodes.Failure); }
        catch (OperationCanceledException) { return Fail("stopped by Ctrl-C before the cluster was up", ExitCodes.Cancelled); }

        await using (cluster)
        {
            var streaming = cluster.Streaming();
            if (HttpServer.Url(cluster.Node.Host) is { } url) Console.Error.WriteLine($"http: serving at {url} (dashboard; /model, /metrics, /health/ready)");
            progress.Line($"streaming {job.Settings.Topic} (d = {job.Settings.Dimension}, {job.Settings.Format.ToName()}) from {job.Settings.Bootstrap}, group {job.Settings.Group}, checkpoint {job.Settings.Checkpoint}");
            var outcome = await StreamJobRunner.RunAsync(streaming, job, m =>
            {
                observer?.Invoke(m);
                if (showStatus || m is not StreamJobStatus) Show(progress, m);
            }, a.Settings?.StreamClient() ?? StreamClientOptions.Default, ct);
            if (outcome.Failed is { } f) return Fail(f.Message, ExitCodes.For(f.Kind));
            var done = outcome.Finished!;
            if (done.Theta is null)
            {
                // No model is a failure, never exit 0: 3 when no record held a valid row (as fit), else 4 (too few rows for d, or singular).
                Report(a, done, null, progress);
                string why = done.Rows == 0
                    ? $"no valid rows: {done.RejectedRecords:N0} records were rejected{(string.IsNullOrEmpty(job.Settings.DeadLetterTopic) ? "" : $" (see the dead-letter topic {job.Settings.DeadLetterTopic})")}"
                    : NoModelReason(done);
                return Fail(ConsoleProgress.Inv($"no model was written: {why}"), done.Rows == 0 ? ExitCodes.BadInput : ExitCodes.Degenerate);
            }
            var solved = StopReasons.Parse(done.SolveStopReason);
            if (done.Theta is not null)
            {
                var model = new MvnModel
                {
                    Theta = done.Theta.ToParameters(),
                    N = done.Rows,
                    Solver = job.Settings.Solver.ToName(),
                    Iterations = done.Iterations,
                    NllPerRow = done.NllPerRow,
                    Gap = done.GapPerRow,
                    RejectedRows = done.RejectedRecords,
                    Offsets = done.PartitionKeys.Select((k, i) => (k, i)).ToDictionary(x => x.k, x => new OffsetRange(done.PartitionStarts[x.i], done.PartitionNexts[x.i])),
                    Version = done.Version,
                    StopReason = solved,
                };
                model.Save(a.Out);
            }
            Report(a, done, solved, progress);
            if (done.LostRecords > 0) return ExitCodes.DataLost; // the louder problem wins; the summary says both
            if (done.Theta is not null && !(solved is { } r && StopReasons.IsConverged(r)))
            {
                Console.Error.WriteLine($"mvnstream stream: the final model is {(solved is { } s ? StopReasons.Describe(s) : "NOT converged: the last solve's stop reason is unknown")} after {done.Iterations} final iterations; {a.Out} says \"converged\": false");
                return ExitCodes.NotConverged;
            }
            return ExitCodes.Ok;
        }
    }

    /// <param name="beforeProbe">Called once the arguments are valid and d must be learned from the topic, just before that starts.</param>
    internal static async Task<StreamJobSettings> BuildSettingsAsync(StreamArgs a, ConsoleProgress progress, CancellationToken ct, Action? beforeProbe = null)
    {
        if (string.IsNullOrWhiteSpace(a.Topic)) throw new UsageException("--topic is empty");
        if (a.Cluster is not null && a.Http is not null)
            throw new UsageException("--http with --cluster: the coordinator node serves HTTP (mvnstream node --role coordinator --http ADDRESS:PORT)");
        HttpEndpointSpec.Parse(a.Http, HttpEndpointSpec.CoordinatorDefault); // a malformed --http fails before anything starts
        RowFormat format;
        try { format = a.Format is null ? RowFormat.Csv : RowFormats.Parse(a.Format); }
        catch (FormatException e) { throw new UsageException(e.Message); }
        if (a.Dim is { } dd && dd <= 0) throw new UsageException($"--dim {dd}: must be positive");
        if (format == RowFormat.F64 && a.Dim is null) throw new UsageException("--encoding f64 records carry no dimension: give --dim D");
        if (!(a.Forgetting > 0 && a.Forgetting <= 1)) throw new UsageException($"--forgetting {a.Forgetting}: must be in (0, 1]");
        if (!(a.AnomalyLevel > 0 && a.AnomalyLevel < 1)) throw new UsageException($"--anomaly-level {a.AnomalyLevel}: must be in (0, 1)");
        if (a.BatchRows <= 0) throw new UsageException($"--batch-rows {a.BatchRows}: must be positive");
        if (a.StepsPerUpdate < 0) throw new UsageException($"--steps-per-update {a.StepsPerUpdate}: must be >= 0");
        if (a.MaxRows < 0) throw new UsageException($"--max-rows {a.MaxRows}: must be >= 0");
        var solving = Solving(a);
        if (solving.Kind == SolverKind.ClosedForm) throw new UsageException("--solver closed-form is not an online solver: use gd, adam or lbfgs (the final model is checked against the closed form anyway)");
        double untilIdle = a.UntilIdle is null ? 0 : Durations.ParseSeconds(a.UntilIdle, "--until-idle");
        double snapshot = Durations.ParseSeconds(a.SnapshotInterval, "--snapshot-interval");
        double linger = Durations.ParseSeconds(a.Linger, "--linger") * 1000;
        double brokerTimeout = Durations.ParseSeconds(a.BrokerTimeout, "--broker-timeout");
        if (brokerTimeout < 1) throw new UsageException($"--broker-timeout {a.BrokerTimeout}: must be at least 1 s");
        // The tunables travel to the workers with the job (StreamTunables), never in the librdkafka settings list.
        var tunables = (a.Settings?.Tunables() ?? StreamTunables.Default) with { BrokerTimeoutSeconds = brokerTimeout };
        string bootstrap = CommonOptions.KafkaBootstrap(a.Bootstrap, a.KafkaProperties, a.KafkaConfig);
        string[] props = CommonOptions.KafkaProperties(bootstrap, a.KafkaProperties, a.KafkaConfig);
        string group = a.Group ?? "mvnstream-" + a.Topic;
        string checkpoint = a.Checkpoint ?? $"kafka:{a.Topic}.checkpoints";
        if (!(checkpoint == "none" || checkpoint.StartsWith("file:", StringComparison.Ordinal) || checkpoint.StartsWith("kafka:", StringComparison.Ordinal)))
            throw new UsageException($"--checkpoint '{checkpoint}': expected kafka:TOPIC, file:PATH or none");
        if (checkpoint.StartsWith("file:", StringComparison.Ordinal)) checkpoint = "file:" + Path.GetFullPath(checkpoint[5..]);
        if (a.Dim is null) beforeProbe?.Invoke();
        int d = a.Dim ?? await TopicProbe.LearnDimensionAsync(bootstrap, a.Topic, format, props, progress, ct, tunables);
        // Learned from the records, not given: a checkpoint being resumed says what d is (the coordinator decides).
        if (a.Dim is null) props = [.. props, TopicProbe.InferredKey + "=true"];
        static string Topic(string? given, string fallback) => given is null ? fallback : given == "none" ? "" : given;
        return new StreamJobSettings(bootstrap, a.Topic, group, format, d, a.Forgetting, Topic(a.ModelTopic, a.Topic + ".model"),
            Topic(a.ScoresTopic, ""), Topic(a.DlqTopic, a.Topic + ".dlq"), a.AnomalyLevel, checkpoint, Path.GetFullPath(a.Out), snapshot, untilIdle,
            a.MaxRows, a.StepsPerUpdate, solving.Kind, solving.Parameterization, solving.MaxIterations, solving.GradientTolerance, solving.LearningRate,
            solving.Ridge, solving.Shrinkage, solving.ShrinkageIntensity, a.BatchRows, linger, props, solving.RelativeTolerance, tunables);
    }

    /// <summary>The solver settings of a stream: the same builder as the fit's (<see cref="CommonOptions.SolverSettings"/>).</summary>
    internal static SolverSettings Solving(StreamArgs a) =>
        CommonOptions.SolverSettings(a.Solver, a.Param, a.MaxIter, a.Tolerance, a.RelTolerance, a.LearningRate, a.Ridge, a.Shrinkage);

    private static void Show(ConsoleProgress progress, IMvnMessage m)
    {
        switch (m)
        {
            case StreamJobStarted x:
                progress.Line(x.Restored
                    ? $"job running (epoch {x.Epoch}): resumed from the checkpoint with {x.RestoredRows:N0} rows, model version {x.RestoredVersion}; {x.Workers} workers"
                    : $"job running (epoch {x.Epoch}): {x.Workers} workers");
                break;
            case StreamJobNotice x:
                progress.Line("note: " + x.Message);
                break;
            case StreamJobStatus x:
                progress.Line(ConsoleProgress.Inv($"stream  rows {x.Rows,12:N0}  {x.RowsPerSecond,10:N0} rows/s  lag {x.Lag,9:N0}  J/n {Figure(x.NllPerRow, 14, "F9")}  J-J* {Figure(x.GapPerRow, 9, "0.00e+00")}  v{x.Version,-5}  rejected {x.RejectedRecords:N0}  lost {x.LostRecords:N0}  dup {x.Duplicates:N0}  refused {x.Refused:N0}  workers {x.Workers}  unread {x.MaxUnreadSeconds:F1} s  {x.Seconds:F1} s"));
                break;
        }
    }

    /// <summary>Why the coordinator wrote no model (the "no model: ..." part of its stop reason).</summary>
    private static string NoModelReason(StreamJobFinished f)
    {
        const string marker = "no model: ";
        int i = f.StopReason.IndexOf(marker, StringComparison.Ordinal);
        return i >= 0 ? f.StopReason[(i + marker.Length)..] : ConsoleProgress.Inv($"{f.Rows:N0} rows could not be fitted");
    }

    /// <summary>A number for a progress line, right-aligned in <paramref name="width"/>; "-" when there is none yet (never NaN).</summary>
    internal static string Figure(double value, int width, string format) =>
        (!double.IsFinite(value) ? "-"
            : format.Length > 1 && format[0] == 'F' && int.TryParse(format.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int decimals)
                ? ConsoleProgress.Fixed(value, decimals) // a huge figure in scientific notation, never 200 digits
                : value.ToString(format, CultureInfo.InvariantCulture)).PadLeft(width);

    /// <summary>
    /// Offsets the ledger covers that held no data record (transaction markers, aborted transactions, compacted keys):
    /// covered offsets (next - start - lost) minus the records counted (accepted + rejected).
    /// </summary>
    internal static long OffsetsWithoutRecord(StreamJobFinished f)
    {
        long covered = 0;
        for (int i = 0; i < f.PartitionNexts.Length; i++) covered += f.PartitionNexts[i] - f.PartitionStarts[i];
        return Math.Max(0, covered - f.LostRecords - f.AcceptedRecords - f.RejectedRecords);
    }

    private static void Report(StreamArgs a, StreamJobFinished f, StopReason? solved, ConsoleProgress progress)
    {
        long noRecord = OffsetsWithoutRecord(f);
        if (a.Json)
        {
            var o = new JsonObject
            {
                ["topic"] = a.Topic,
                ["model"] = Path.GetFullPath(a.Out),
                ["n"] = f.Rows,
                ["weight"] = f.Weight,
                ["acceptedRecords"] = f.AcceptedRecords,
                ["rejectedRecords"] = f.RejectedRecords,
                ["lostRecords"] = f.LostRecords,
                ["offsetsWithoutRecord"] = noRecord,
                ["version"] = f.Version,
                ["iterations"] = f.Iterations,
                ["nllPerRow"] = double.IsFinite(f.NllPerRow) ? f.NllPerRow : null,
                ["gap"] = double.IsFinite(f.GapPerRow) ? f.GapPerRow : null,
                ["converged"] = f.Theta is not null && solved is { } r && StopReasons.IsConverged(r),
                ["stopReason"] = solved is { } s ? StopReasons.ToName(s) : null,
                ["finishedBecause"] = f.StopReason,
            };
            Console.Out.WriteLine(o.ToJsonString());
        }
        else if (!progress.Quiet)
        {
            Console.Out.WriteLine(ConsoleProgress.Inv($"stream finished ({f.StopReason}): n = {f.Rows:N0} rows from {f.AcceptedRecords:N0} accepted records, {f.RejectedRecords:N0} rejected, {f.LostRecords:N0} lost{(noRecord > 0 ? $", {noRecord:N0} offsets without a record (transaction markers, aborted transactions or compaction)" : "")}; model version {f.Version}"));
            if (f.Theta is not null)
                Console.Out.WriteLine(ConsoleProgress.Inv($"J/n = {Figure(f.NllPerRow, 0, "F12")}  J - J* = {Figure(f.GapPerRow, 0, "0.000e+00")} per row after {f.Iterations} final iterations, {(solved is { } s ? StopReasons.Describe(s) : "NOT converged (the last solve's stop reason is unknown)")}; model written to {a.Out}"));
        }
        if (f.LostRecords > 0)
            Console.Error.WriteLine($"mvnstream stream: WARNING: {f.LostRecords:N0} records were deleted by the broker before they were read and are NOT in the model");
    }

    private static int Fail(string message, int code)
    {
        Console.Error.WriteLine("mvnstream stream: " + message);
        return code;
    }
}
