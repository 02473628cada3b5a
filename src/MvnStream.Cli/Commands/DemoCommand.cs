using System.CommandLine;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Fitting;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;
using MvnStream.Kafka;
using MvnStream.Kafka.Broker;
using MvnStream.Kafka.Producing;

namespace MvnStream.Cli.Commands;

/// <summary>
/// <c>mvnstream demo</c>: one command, no setup. The embedded development broker, a local cluster
/// (coordinator + workers), a producer streaming rows from a known N(mu*, S*), a live view, and a final
/// comparison of the streamed model against the truth and against the closed-form MLE of exactly the rows produced.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var dim = new Option<int>("--dim") { Description = "Dimension d. Of the synthetic rows.", DefaultValueFactory = _ => 5, HelpName = "D" };
        var rows = new Option<long>("--rows") { Description = "Number of rows: the rows to stream.", DefaultValueFactory = _ => 200_000, HelpName = "N" };
        var rate = new Option<double>("--rate") { Description = "Rows per second produced (0 = as fast as possible). The development broker keeps only 5 MB per partition, so keep the producer near the consumers.", DefaultValueFactory = _ => 50_000, HelpName = "ROWS_PER_S" };
        var workers = new Option<int>("--workers") { Description = "Worker nodes of an embedded local cluster (real Akka.Cluster over TCP on loopback). Each is one consumer-group member.", DefaultValueFactory = _ => 3, HelpName = "N" };
        var seed = new Option<long>("--seed") { Description = "Seed of mu*, S* and the rows: the same seed gives the same rows in 'generate', 'produce --synthetic' and 'demo'.", DefaultValueFactory = _ => 1, HelpName = "S" };
        var forgetting = new Option<double>("--forgetting") { Description = "Exponential forgetting factor per row in (0, 1]: older rows weigh factor^(rows after them). 1 = none.", DefaultValueFactory = _ => 1.0, HelpName = "F" };
        var output = new Option<string?>("--out", "-o") { Description = "Output file: the streamed model. Default: demo-model.json in a new directory under the system's temporary directory (the demo writes nothing else, and nothing in the working directory).", HelpName = "PATH" };
        var http = Http.HttpEndpointSpec.Option();
        var cmd = new Command("demo", "Stream synthetic rows from a known N(mu*, S*) through the embedded development broker into a local cluster and compare the online fit with the truth and the closed-form MLE.")
        {
            dim, rows, rate, workers, seed, forgetting, output, http,
        };
        // --http and the stream's internal tunables are settings (README "Configuration"); the demo's own stream choices stay here.
        cmd.SetAction((pr, ct) => Configuration.AppSettings.Run(pr, "demo", st => RunAsync(pr.GetValue(dim), pr.GetValue(rows), pr.GetValue(rate), pr.GetValue(workers), pr.GetValue(seed), pr.GetValue(forgetting), pr.GetValue(output),
            st.HttpGiven(true), ct, st)));
        return cmd;
    }

    /// <summary>Passes rows through and keeps the statistics of exactly what was handed to the producer.</summary>
    private sealed class StatisticsTee(IRowSource inner) : IRowSource
    {
        public SufficientStatistics Statistics { get; } = new(inner.Dimension);
        public int Dimension => inner.Dimension;
        public string Description => inner.Description;

        public int ReadRows(Span<double> destination, int maxRows)
        {
            int n = inner.ReadRows(destination, maxRows);
            lock (Statistics) Statistics.AddBatch(destination[..(n * Dimension)], n);
            return n;
        }
    }

    private static async Task<int> RunAsync(int d, long rows, double rate, int workers, long seed, double forgetting, string? given, string? http, CancellationToken ct, Configuration.AppSettings? appSettings = null)
    {
        if (d <= 0 || d > 64) return Fail($"--dim {d}: the demo takes 1..64", ExitCodes.Usage);
        if (rows <= d) return Fail($"--rows {rows}: need more rows than dimensions", ExitCodes.Usage);
        if (rate < 0) return Fail($"--rate {rate}: must be >= 0", ExitCodes.Usage);
        try { Http.HttpEndpointSpec.Parse(http, Http.HttpEndpointSpec.CoordinatorDefault); }
        catch (UsageException e) { return Fail(e.Message, ExitCodes.Usage); }
        // Never the working directory (a demo run from a clone must leave the clone as it was): a fresh temporary directory unless --out says where.
        string output = Path.GetFullPath(given ?? Path.Combine(Directory.CreateTempSubdirectory("mvnstream-demo-").FullName, "demo-model.json"));
        var progress = new ConsoleProgress(false);
        progress.Line($"the streamed model will be written to {output}");
        using var broker = DevelopmentBroker.Start(1);
        progress.Line($"development broker at {broker.Bootstrap} ({DevelopmentBroker.Description})");
        var truth = new SyntheticSource(d, seed);
        const string topic = "demo-rows";
        var kafka = KafkaClientSettings.Create(broker.Bootstrap);
        // A first few rows create the topic; the rest wait until every partition has a consumer, because the
        // development broker keeps only a window per partition and a producer far ahead of the group loses rows.
        long warmUp = Math.Min(rows, 100);
        var first = new StatisticsTee(new SyntheticRowSource(truth, warmUp));
        using (var starter = new RowProducer(kafka, new RowProducerOptions { Topic = topic }))
            await starter.RunAsync(first, null, ct);
        var consumersReady = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tee = new StatisticsTee(new SyntheticRowSource(truth, rows - warmUp));
        using var producer = new RowProducer(kafka, new RowProducerOptions { Topic = topic, RowsPerSecond = rate });
        using var stopProducer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var produced = consumersReady.Task.ContinueWith(_ =>
        {
            progress.Line($"producing {rows:N0} rows of N(mu*, S*) (d = {d}, seed {seed}) to '{topic}' at {(rate > 0 ? $"{rate:N0} rows/s" : "full speed")}");
            return producer.Run(tee, null, stopProducer.Token);
        }, stopProducer.Token, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);

        var args = new StreamCommand.StreamArgs(broker.Bootstrap, topic, "csv", d, "mvnstream-demo", output, "3s", 0, forgetting, null, null, null, "none",
            "1s", 0.001, workers, null, "lbfgs", "tril", 5, 1e-10, 5000, 0.05, 0, "none", 4096, "100ms", "60s", [], null, false, false, null, Http: http, Settings: appSettings);
        var settings = await StreamCommand.BuildSettingsAsync(args, progress, ct);
        var job = new StartStreamJob(Guid.NewGuid().ToString("N")[..12], settings);
        var mu = truth.Mu;
        var s = truth.Covariance;
        int code = await StreamCommand.RunJobAsync(args, job, progress, m =>
        {
            if (m is not StreamJobStatus x) return;
            if (x.Partitions >= DevelopmentBroker.PartitionsPerTopic) consumersReady.TrySetResult();
            // Before the first model there is no J, gap or distance to show: dashes, never NaN.
            var theta = x.Theta?.ToParameters();
            string muError = StreamCommand.Figure(theta is null ? double.NaN : MuError(theta, mu), 9, "0.00e+00");
            string covError = StreamCommand.Figure(theta is null ? double.NaN : CovError(theta, s), 9, "0.00e+00");
            progress.Line(ConsoleProgress.Inv($"demo  rows {x.Rows,10:N0}  {x.RowsPerSecond,9:N0} rows/s  lag {x.Lag,7:N0}  J/n {StreamCommand.Figure(x.NllPerRow, 11, "F6")}  J-J* {StreamCommand.Figure(x.GapPerRow, 9, "0.00e+00")}  |mu - mu*| {muError}  |S - S*|/|S*| {covError}  model v{x.Version}  {x.Seconds,5:F1} s"));
        }, ct, showStatus: false);
        stopProducer.Cancel();
        ProduceSummary? summary = null;
        try { summary = await produced; }
        catch (OperationCanceledException) { }
        // A final model that did not converge (exit 6, said on stderr) is still compared with the truth and the closed form.
        if ((code != ExitCodes.Ok && code != ExitCodes.NotConverged) || !File.Exists(output)) return code;

        var model = MvnModel.Load(output);
        var all = first.Statistics + tee.Statistics;
        var mle = MvnFitter.Fit(all, new FitOptions { Solver = new SolverOptions { Kind = SolverKind.ClosedForm } });
        var streamed = model.Theta;
        Console.Out.WriteLine();
        Console.Out.WriteLine(ConsoleProgress.Inv($"rows produced {all.Count:N0} (delivered {warmUp + (summary?.Delivered ?? 0):N0}), rows in the model {model.N:N0}"));
        Console.Out.WriteLine("                              |mu - mu*|    |S - S*|_F/|S*|_F   vs closed-form MLE of the produced rows");
        Console.Out.WriteLine(ConsoleProgress.Inv($"  {$"streamed model (v{model.Version})",-28}{MuError(streamed, mu),10:0.000e+00}    {CovError(streamed, s),10:0.000e+00}          mu {RelError(streamed.Mu, mle.Theta.Mu),9:0.00e+00}  S {RelError(streamed.Covariance(), mle.Theta.Covariance()),9:0.00e+00} (relative)"));
        Console.Out.WriteLine(ConsoleProgress.Inv($"  closed-form MLE             {MuError(mle.Theta, mu),10:0.000e+00}    {CovError(mle.Theta, s),10:0.000e+00}"));
        Console.Out.WriteLine(ConsoleProgress.Inv($"  sampling error ~ sqrt(d/n)  {Math.Sqrt((double)d / Math.Max(1, model.N)),10:0.000e+00}"));
        Console.Out.WriteLine($"model written to {output}");
        return code;
    }

    private static double MuError(MvnParameters theta, double[] mu) =>
        Math.Sqrt(theta.Mu.Select((v, i) => (v - mu[i]) * (v - mu[i])).Sum());

    private static double CovError(MvnParameters theta, double[] s)
    {
        var c = theta.Covariance();
        return Math.Sqrt(c.Select((v, i) => (v - s[i]) * (v - s[i])).Sum()) / Math.Sqrt(s.Sum(v => v * v));
    }

    private static double RelError(double[] a, double[] b) =>
        Math.Sqrt(a.Select((v, i) => (v - b[i]) * (v - b[i])).Sum()) / Math.Sqrt(b.Sum(v => v * v));

    private static int Fail(string message, int code)
    {
        Console.Error.WriteLine("mvnstream demo: " + message);
        return code;
    }
}
