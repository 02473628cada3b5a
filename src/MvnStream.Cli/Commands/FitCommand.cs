using System.CommandLine;
using System.Text.Json.Nodes;
using MvnStream.Cli.Plotting;
using MvnStream.Core;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Ingest;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;

namespace MvnStream.Cli.Commands;

/// <summary><c>mvnstream fit FILE</c>: statistics in one streaming pass, then the closed form or an iterative solver.</summary>
internal static class FitCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "Data file: csv, f64 or json (see --format)." };
        var output = new Option<string>("--out", "-o") { Description = "Output file: the model (JSON).", DefaultValueFactory = _ => "model.json", HelpName = "PATH" };
        var format = CommonOptions.Format();
        var dim = CommonOptions.Dim();
        var onBadRow = CommonOptions.OnBadRow();
        var solver = new Option<string>("--solver") { Description = "Solver: closed-form (exact; mu = xbar, S = M/n), gd (gradient descent, Barzilai-Borwein step + Armijo backtracking), adam, or lbfgs (L-BFGS with a Hager-Zhang line search).", DefaultValueFactory = _ => "lbfgs", HelpName = "closed-form|gd|adam|lbfgs" };
        var param = new Option<string>("--param") { Description = "Covariance factor: tril (lower-triangular Lambda, the Cholesky form; unique up to column signs) or full (the seed's full Lambda, unique only up to rotation).", DefaultValueFactory = _ => "tril", HelpName = "tril|full" };
        var maxIter = new Option<int>("--max-iter") { Description = "Iteration limit: of the iterative solvers; reaching it is reported, with the gap left.", DefaultValueFactory = _ => 5000, HelpName = "N" };
        var tolerance = new Option<double>("--tolerance") { Description = "Gradient tolerance: stop when the gradient puts mu within this many standard deviations, and every S_ij within this times sd_i sd_j, of the optimum (scale-free).", DefaultValueFactory = _ => 1e-10, HelpName = "TOL" };
        var relTolerance = CommonOptions.RelTolerance();
        var learningRate = new Option<double?>("--learning-rate") { Description = "Adam: cap on the step (in standard deviations); default: none, each fresh frame starts with the Fisher-scoring step.", HelpName = "LR" };
        var ridge = new Option<double>("--ridge") { Description = "Fit S + eps I instead of S (for singular or ill-conditioned data).", DefaultValueFactory = _ => 0.0, HelpName = "EPS" };
        var shrinkage = new Option<string>("--shrinkage") { Description = "Shrink S towards (tr S / d) I: auto (Ledoit-Wolf intensity from the statistics), none, or a fixed intensity in [0, 1].", DefaultValueFactory = _ => "none", HelpName = "auto|none|RHO" };
        var threads = new Option<int>("--threads") { Description = "Threads reading the file (each reads a byte range; statistics merge exactly).", DefaultValueFactory = _ => Environment.ProcessorCount, HelpName = "N" };
        var workers = new Option<int>("--workers") { Description = "Worker nodes of an embedded local cluster (real Akka.Cluster over TCP on loopback). With a coordinator; 0 = no cluster, read with --threads.", DefaultValueFactory = _ => 0, HelpName = "N" };
        var cluster = new Option<string?>("--cluster") { Description = "Run on a running cluster through this seed node, instead of an embedded one. FILE must be readable at that path on every worker.", HelpName = "akka.tcp://mvnstream@HOST:PORT" };
        var summing = new Option<string>("--summing") { Description = "Cluster runs: sum shard statistics once and differentiate at the coordinator (statistics), or sum the workers' partial gradients every round (gradients). Both give the same model.", DefaultValueFactory = _ => "statistics", HelpName = "statistics|gradients" };
        var threadsPerWorker = new Option<int>("--threads-per-worker") { Description = "Cluster runs: threads each worker reads its shards with. Default 0: the worker's own setting Node:WorkerThreads, which is every core of its node for a 'node' worker and this machine's cores divided among the workers for --workers N.", DefaultValueFactory = _ => 0, HelpName = "T" };
        var shardsPerWorker = new Option<int>("--shards-per-worker") { Description = "Cluster runs: byte-range shards per worker (more shards = finer reassignment when a worker is lost).", DefaultValueFactory = _ => 1, HelpName = "K" };
        var workerWait = Durations.Option("--worker-wait", "Cluster runs: how long to wait for workers before failing (with --workers: for all N). Default: the coordinator's setting Coordinator:WorkerWait (30 s unless its settings say otherwise).");
        var verbose = new Option<bool>("--verbose") { Description = "Also show Akka's own log (membership, remoting) at INFO on stderr; without it the client side shows Akka's errors only (setting Node:ClientLogLevel). Cluster runs." };
        var config = new Option<string?>("--config") { Description = "HOCON file of Akka's low-level knobs for this process's cluster node: with --cluster, the client node (TLS); see config/tls.example.hocon.", HelpName = "FILE" };
        var quiet = CommonOptions.Quiet();
        var json = CommonOptions.Json();
        var plot = new Option<string?>("--plot") { Description = "Also write a convergence plot (PNG): J - J* per row at every solver iteration, log scale (with --summing gradients placed at the cluster round it ended on).", HelpName = "PATH" };
        var plotSize = new Option<string?>("--plot-size") { Description = $"Size of the --plot image in pixels (default {PlotFiles.DefaultWidth}x{PlotFiles.DefaultHeight}).", HelpName = "WxH" };

        var cmd = new Command("fit", "Fit mu and Lambda (S = Lambda Lambda^T) to a data file and write the model JSON.")
        {
            file, output, format, dim, onBadRow, solver, param, maxIter, tolerance, relTolerance, learningRate, ridge, shrinkage, threads,
            workers, cluster, summing, shardsPerWorker, threadsPerWorker, workerWait, config, verbose, quiet, json, plot, plotSize,
        };
        // The solver and --config are settings (README "Configuration"): the flags given override MVNSTREAM__Solver__* variables and the settings files.
        cmd.SetAction((pr, ct) => Configuration.AppSettings.Run(pr, "fit", st => RunAsync(new FitArgs(
            pr.GetValue(file)!, pr.GetValue(output)!, pr.GetValue(format), pr.GetValue(dim), pr.GetValue(onBadRow)!,
            st.Solver.Solver, st.Solver.Param, st.Solver.MaxIter, st.Solver.Tolerance, st.Solver.RelTolerance,
            st.Solver.LearningRate, st.Solver.Ridge, st.Solver.Shrinkage, pr.GetValue(threads), pr.GetValue(quiet), pr.GetValue(json),
            pr.GetValue(workers), pr.GetValue(cluster), pr.GetValue(summing)!, pr.GetValue(shardsPerWorker), pr.GetValue(workerWait) is { } wait ? Durations.ParseSeconds(wait, "--worker-wait") : null, st.Node.Hocon, pr.GetValue(verbose),
            pr.GetValue(plot), pr.GetValue(plotSize), pr.GetValue(threadsPerWorker), st), ct)));
        return cmd;
    }

    internal sealed record FitArgs(string File, string Out, string? Format, int? Dim, string OnBadRow, string Solver, string Param,
        int MaxIter, double Tolerance, double RelTolerance, double? LearningRate, double Ridge, string Shrinkage, int Threads, bool Quiet, bool Json,
        int Workers, string? Cluster, string Summing, int ShardsPerWorker, double? WorkerWait, string? Config, bool Verbose = false,
        string? Plot = null, string? PlotSize = null, int ThreadsPerWorker = 0, Configuration.AppSettings? Settings = null)
    {
        /// <summary>The --plot image size (checked by <see cref="ValidateOptions"/>).</summary>
        public (int Width, int Height) PlotPixels => PlotSize is null ? (PlotFiles.DefaultWidth, PlotFiles.DefaultHeight) : PlotFiles.ParseSize(PlotSize, "--plot-size");
    }

    private static async Task<int> RunAsync(FitArgs a, CancellationToken ct)
    {
        // The options are checked before anything is read, for local and cluster runs alike.
        try { ValidateOptions(a); }
        catch (UsageException e) { return Fail(e.Message, ExitCodes.Usage); }
        if (a.Workers > 0 || a.Cluster is not null)
        {
            try { return await ClusterFit.RunAsync(a, ct); }
            catch (UsageException e) { return Fail(e.Message, ExitCodes.Usage); }
        }
        // Off the invoking thread: System.CommandLine installs its Ctrl-C handler only once the action returns its task.
        return await Task.Run(() => Run(a, ct), CancellationToken.None);
    }

    private static int Run(FitArgs a, CancellationToken ct)
    {
        var progress = new ConsoleProgress(a.Quiet);
        try
        {
            CommonOptions.RequireFile(a.File, "data file");
            if (a.Threads <= 0) throw new UsageException($"--threads {a.Threads}: must be positive");
            RowReaderOptions readerOptions;
            try { readerOptions = CommonOptions.ReaderOptions(a.File, a.Format, a.Dim, a.OnBadRow); }
            catch (FormatException e) { throw new UsageException(e.Message); }
            var options = Solving(a).ToFitOptions();

            var label = "read " + Path.GetFileName(a.File);
            var ingest = ShardAccumulator.AccumulateFile(a.File, readerOptions, a.Threads, p => progress.Ingest(label, p), ct);
            foreach (var r in ingest.Rejections) progress.Line("skipped " + r);
            if (ingest.RowsRejected > ingest.Rejections.Count)
                progress.Line($"... and {ingest.RowsRejected - ingest.Rejections.Count} more skipped rows");

            var stats = ingest.Statistics;
            if (stats.Count == 0) throw new InvalidDataException(ShardAccumulator.NoDataRowsMessage(a.File, ingest.RowsRejected));
            var convergence = a.Plot is null ? null : new ConvergencePlot();
            var fit = MvnFitter.Fit(stats, options, p =>
            {
                progress.Iteration(p);
                convergence?.Add(p.Iteration, p.GapPerRow);
            }, ct);
            progress.Flush();

            var model = new MvnModel
            {
                Theta = fit.Theta,
                N = stats.Count,
                Solver = fit.Solver.ToName(),
                Iterations = fit.Iterations,
                NllPerRow = fit.NllPerRow,
                Gap = fit.GapPerRow,
                RejectedRows = ingest.RowsRejected,
                StopReason = fit.Reason,
            };
            model.Save(a.Out);
            if (convergence is not null)
            {
                convergence.Add(fit.Iterations, fit.GapPerRow); // the final state, if the last progress was not it
                if (WritePlot(a, convergence, $"{Path.GetFileName(a.File)}: {fit.Solver.ToName()}, d = {stats.Dimension}, n = {stats.Count:N0}", "iteration") is { } failed) return failed;
            }
            Report(a, ingest, fit, progress);
            return ExitFor(fit.Reason, fit.Iterations, fit.GapPerRow, a.Out);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("mvnstream fit: stopped by Ctrl-C while reading; no model was written");
            return ExitCodes.Cancelled;
        }
        catch (UsageException e) { return Fail(e.Message, ExitCodes.Usage); }
        catch (BadRowException e) { return Fail(e.Message, ExitCodes.BadInput); }
        catch (InvalidDataException e) { return Fail(e.Message, ExitCodes.BadInput); }
        catch (DegenerateDataException e) { return Fail($"cannot fit {a.File}: {e.Message}", ExitCodes.Degenerate); }
        catch (IOException e) { return Fail(e.Message, ExitCodes.Failure); }
        catch (UnauthorizedAccessException e) { return Fail(e.Message, ExitCodes.Failure); }
    }

    /// <summary>
    /// Writes the --plot image; null when written (or not asked for), else the exit code after saying why it could not be
    /// (the path was checked before the fit, so this is an I/O failure of the moment: exit 1; the model is written).
    /// </summary>
    internal static int? WritePlot(FitArgs a, ConvergencePlot plot, string title, string xLabel)
    {
        if (a.Plot is null) return null;
        var (width, height) = a.PlotPixels;
        if (PlotFonts.MissingFontsNote() is { } note) Console.Error.WriteLine("mvnstream fit: " + note);
        try { PlotFiles.Write(a.Plot, plot.RenderPng(title, xLabel, width, height)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail($"cannot write the convergence plot {a.Plot}: {e.Message} (the model was written to {a.Out})", ExitCodes.Failure);
        }
        if (!a.Json && !a.Quiet) Console.Error.WriteLine(ConsoleProgress.Inv($"convergence plot ({plot.Points.Count} points) written to {a.Plot}"));
        return null;
    }

    /// <summary>J/n of the problem solved (with the regularisation term): J*/n plus the gap.</summary>
    private static double RegularisedObjectivePerRow(FitResult fit) => fit.OptimalValue / fit.N + fit.GapPerRow;

    /// <summary>The solver settings of a fit: the same builder as the stream's (<see cref="CommonOptions.SolverSettings"/>).</summary>
    internal static Cluster.Protocol.SolverSettings Solving(FitArgs a) =>
        CommonOptions.SolverSettings(a.Solver, a.Param, a.MaxIter, a.Tolerance, a.RelTolerance, a.LearningRate, a.Ridge, a.Shrinkage);

    private static void ValidateOptions(FitArgs a)
    {
        if (Directory.Exists(a.Out)) throw new UsageException($"--out {a.Out}: is a directory; give the path of the model file to write");
        Solving(a);
        if (a.PlotSize is not null && a.Plot is null) throw new UsageException("--plot-size is the size of the --plot image: give --plot PATH too");
        if (a.Plot is not null)
        {
            _ = a.PlotPixels;
            PlotFiles.CheckWritable(a.Plot, "--plot");
        }
    }

    /// <summary>
    /// The exit code of a fit whose model was written: 0 when it converged, 130 after Ctrl-C, 6 (not converged) otherwise;
    /// the last two say so on stderr. Shared by the local and the cluster fit.
    /// </summary>
    internal static int ExitFor(StopReason reason, int iterations, double gapPerRow, string outPath)
    {
        if (reason == StopReason.Cancelled)
        {
            Console.Error.WriteLine(ConsoleProgress.Inv($"mvnstream fit: stopped by Ctrl-C after {iterations} iterations; the best model so far (gap {gapPerRow:0.000e+00} per row, \"converged\": false) was written to {outPath}"));
            return ExitCodes.Cancelled;
        }
        if (StopReasons.IsConverged(reason)) return ExitCodes.Ok;
        Console.Error.WriteLine(ConsoleProgress.Inv($"mvnstream fit: {StopReasons.Describe(reason)} after {iterations} iterations (gap {gapPerRow:0.000e+00} per row); the model was written to {outPath} with \"converged\": false, \"stopReason\": \"{StopReasons.ToName(reason)}\""));
        return ExitCodes.NotConverged;
    }

    internal static int Fail(string message, int code)
    {
        Console.Error.WriteLine("mvnstream fit: " + message);
        return code;
    }

    private static void Report(FitArgs a, IngestResult ingest, FitResult fit, ConsoleProgress progress)
    {
        var stats = ingest.Statistics;
        string status = StopReasons.Describe(fit.Reason);
        if (a.Json)
        {
            var o = new JsonObject
            {
                ["file"] = a.File,
                ["model"] = Path.GetFullPath(a.Out),
                ["dimension"] = stats.Dimension,
                ["n"] = stats.Count,
                ["rejectedRows"] = ingest.RowsRejected,
                ["solver"] = fit.Solver.ToName(),
                ["parameterization"] = fit.Theta.Parameterization.ToName(),
                ["iterations"] = fit.Iterations,
                ["evaluations"] = fit.Evaluations,
                ["stopReason"] = StopReasons.ToName(fit.Reason),
                ["converged"] = fit.Converged,
                ["nllPerRow"] = fit.NllPerRow,
                ["gap"] = fit.GapPerRow,
                ["objectivePerRow"] = RegularisedObjectivePerRow(fit),
                ["gradientNorm"] = fit.GradientNorm,
                ["regularization"] = fit.Regularization.ToString(),
                ["shrinkage"] = fit.ShrinkageUsed,
                ["readSeconds"] = ingest.Elapsed.TotalSeconds,
                ["solveSeconds"] = fit.Elapsed.TotalSeconds,
                ["rowsPerSecond"] = ingest.Elapsed.TotalSeconds > 0 ? stats.Count / ingest.Elapsed.TotalSeconds : null,
            };
            Console.Out.WriteLine(o.ToJsonString());
            return;
        }
        if (progress.Quiet) return;
        Console.Out.WriteLine(ConsoleProgress.Inv($"fitted d={stats.Dimension} n={stats.Count:N0} ({ingest.RowsRejected:N0} rejected) with {fit.Solver.ToName()} ({fit.Theta.Parameterization.ToName()}): {fit.Iterations} iterations, {status}"));
        if (fit.Regularization.IsNone)
            Console.Out.WriteLine(ConsoleProgress.Inv($"J/n = {ConsoleProgress.Fixed(fit.NllPerRow, 12)}  J - J* = {fit.GapPerRow:0.000e+00} per row  |grad| = {fit.GradientNorm:0.000e+00}"));
        else
            // Two J/n exist: the data's NLL under the model (nllPerRow in the model file) and the regularised
            // objective that was minimised (what the progress lines show; the gap and |grad| are its).
            Console.Out.WriteLine(ConsoleProgress.Inv(
                $"J/n = {ConsoleProgress.Fixed(fit.NllPerRow, 12)} (data)  regularised J/n = {ConsoleProgress.Fixed(RegularisedObjectivePerRow(fit), 12)}  J - J* = {fit.GapPerRow:0.000e+00} per row  |grad| = {fit.GradientNorm:0.000e+00}"));
        if (!fit.Regularization.IsNone)
            Console.Out.WriteLine($"regularisation: {fit.Regularization}" + (fit.ShrinkageUsed is { } rho ? ConsoleProgress.Inv($" (intensity {rho:F6})") : ""));
        Console.Out.WriteLine(ConsoleProgress.Inv($"read {ingest.Elapsed.TotalSeconds:F2} s ({stats.Count / Math.Max(ingest.Elapsed.TotalSeconds, 1e-9):N0} rows/s), solve {fit.Elapsed.TotalSeconds:F2} s; model written to {a.Out}"));
    }
}
