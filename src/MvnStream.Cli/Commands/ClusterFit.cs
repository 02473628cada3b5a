using System.Text.Json.Nodes;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;

namespace MvnStream.Cli.Commands;

/// <summary>
/// 'fit --workers N' (an embedded cluster in this process) and 'fit --cluster SEED' (a job submitted to
/// a running cluster from a client node): same job, same coordinator, same model file.
/// </summary>
internal static class ClusterFit
{
    public static async Task<int> RunAsync(FitCommand.FitArgs a, CancellationToken ct)
    {
        if (a.Workers > 0 && a.Cluster is not null) throw new UsageException("--workers starts a local cluster and --cluster uses a running one: give one of them");
        if (a.Workers < 0) throw new UsageException($"--workers {a.Workers}: must be >= 0");
        if (a.ShardsPerWorker <= 0) throw new UsageException($"--shards-per-worker {a.ShardsPerWorker}: must be positive");
        if (a.ThreadsPerWorker < 0) throw new UsageException($"--threads-per-worker {a.ThreadsPerWorker}: must be positive (or 0: each worker's own setting)");
        var summing = a.Summing.Trim().ToLowerInvariant() switch
        {
            "statistics" or "stats" => SummingMode.Statistics,
            "gradients" or "gradient" => SummingMode.Gradients,
            _ => throw new UsageException($"--summing '{a.Summing}': expected statistics or gradients"),
        };
        // Embedded: the file is local. Remote: the path is the workers' and may not exist here.
        var path = a.Cluster is null ? Path.GetFullPath(a.File) : a.File;
        if (a.Cluster is null) CommonOptions.RequireFile(a.File, "data file");
        RowReaderOptions reader;
        try { reader = CommonOptions.ReaderOptions(a.File, a.Format, a.Dim, a.OnBadRow); }
        catch (FormatException e) { throw new UsageException(e.Message); }
        var reg = CommonOptions.Regularization(a.Ridge, a.Shrinkage);
        var settings = new FitJobSettings(CommonOptions.Solver(a.Solver), CommonOptions.Param(a.Param), a.MaxIter, a.Tolerance, a.RelTolerance,
            a.LearningRate ?? 0, reg.Ridge, reg.Shrinkage, reg.ShrinkageIntensity, summing, a.ShardsPerWorker, Math.Max(1, a.Workers), a.WorkerWait,
            a.ThreadsPerWorker);
        var job = new SubmitFitJob(Guid.NewGuid().ToString("N")[..12], path, new ReaderSettings(reader.Format, reader.Dimension ?? 0, reader.OnBadRow), settings);
        var progress = new ConsoleProgress(a.Quiet);

        ClusterSession session;
        try { session = await ClusterSession.StartAsync(a.Workers, a.Cluster, a.Config, progress, ct, quietAkka: true, verbose: a.Verbose, settings: a.Settings,
                joinInBackground: true); }
        catch (UsageException e) { return FitCommand.Fail(e.Message, ExitCodes.Usage); }
        catch (TimeoutException e) { return FitCommand.Fail(e.Message, ExitCodes.Failure); }
        catch (OperationCanceledException) { return FitCommand.Fail("stopped by Ctrl-C before the cluster was up", ExitCodes.Cancelled); }

        await using (session)
        {
            // Until the coordinator first answers (at once: it says it is waiting for workers, if it must).
            var answerTimeout = TimeSpan.FromSeconds(Math.Max(30, (a.WorkerWait ?? 0) + 30));
            // --plot: the coordinator reports every solver iteration (FitJobRoundProgress), numbered by round when gradients are summed.
            var convergence = a.Plot is null ? null : new Plotting.ConvergencePlot();
            // The job is submitted while the embedded workers still join: it waits for their registrations, not for their
            // membership (docs/ARCHITECTURE.md, "Fitting a file"). A worker that cannot join fails the run as before.
            var run = FitJobRunner.RunAsync(session.Node, job, m =>
            {
                Show(progress, m, summing == SummingMode.Gradients);
                if (m is FitJobRoundProgress r) convergence?.Add(r.Round, r.GapPerRow);
            }, answerTimeout, ct);
            if (await Task.WhenAny(run, session.WorkersUp) != run && session.WorkersUp.IsFaulted)
            {
                var failure = session.WorkersUp.Exception!.InnerException!;
                if (failure is OperationCanceledException) return FitCommand.Fail("stopped by Ctrl-C before the cluster was up", ExitCodes.Cancelled);
                return FitCommand.Fail(failure.Message, failure is Akka.Configuration.ConfigurationException ? ExitCodes.Usage : ExitCodes.Failure);
            }
            var outcome = await run;
            progress.Flush(); // the last round line, if the rate limit held it back
            if (outcome.Failed is { } f) return FitCommand.Fail(f.Message, ExitCodes.For(f.Kind));
            var c = outcome.Completed!;
            var theta = c.Theta.ToParameters();
            var reason = StopReasons.Parse(c.StopReason);
            var model = new MvnModel
            {
                Theta = theta,
                N = c.N,
                Solver = settings.Solver.ToName(),
                Iterations = c.Iterations,
                NllPerRow = c.NllPerRow,
                Gap = c.GapPerRow,
                RejectedRows = c.RejectedRows,
                StopReason = reason,
            };
            model.Save(a.Out);
            if (convergence is not null)
            {
                if (convergence.Points.Count == 0) convergence.Add(summing == SummingMode.Gradients ? c.Rounds : c.Iterations, c.GapPerRow);
                string title = $"{Path.GetFileName(a.File)}: {settings.Solver.ToName()} on {Workers(c)}, d = {c.Theta.Dimension}, n = {c.N:N0}";
                string xLabel = summing == SummingMode.Gradients ? "cluster round (one objective evaluation each)" : "iteration";
                if (FitCommand.WritePlot(a, convergence, title, xLabel) is { } failed) return failed;
            }
            foreach (var r in c.Rejections) progress.Line("skipped " + r);
            Report(a, c, reason, settings, progress);
            // An unknown reason (a coordinator of another version) is reported as not converged: never a silent success.
            return FitCommand.ExitFor(reason ?? StopReason.MaxIterations, c.Iterations, c.GapPerRow, a.Out);
        }
    }

    private static void Show(ConsoleProgress progress, IMvnMessage m, bool rounds)
    {
        switch (m)
        {
            case FitJobAccepted x:
                progress.Line($"job accepted: {x.Workers} workers, {x.Shards} shards, {x.FileBytes:N0} bytes, d = {x.Dimension}");
                break;
            case FitJobNotice x:
                progress.Line("note: " + x.Message);
                break;
            case FitJobLoadProgress x:
                progress.Line(ConsoleProgress.Inv($"load: {x.Rows,12:N0} rows  {x.Rows / Math.Max(x.Seconds, 1e-9),12:N0} rows/s  {x.Bytes / 1e6 / Math.Max(x.Seconds, 1e-9),7:F1} MB/s  shards {x.ShardsLoaded}/{x.Shards}  {x.Seconds:F1} s"));
                break;
            case FitJobRoundProgress x:
                progress.Round(x, rounds);
                break;
        }
    }

    /// <summary>"3 workers", or, when workers were lost or shards moved, how many started and how many held shards at the end.</summary>
    internal static string Workers(FitJobCompleted c)
    {
        static string Count(int n, string what) => ConsoleProgress.Inv($"{n} {what}{(n == 1 ? "" : "s")}");
        if (c.WorkersLost == 0 && c.ShardsReassigned == 0) return Count(c.WorkersUsed, "worker");
        return $"{Count(c.WorkersUsed, "worker")} at the start, {c.WorkersAtEnd.ToString(System.Globalization.CultureInfo.InvariantCulture)} at the end "
            + $"({c.WorkersLost.ToString(System.Globalization.CultureInfo.InvariantCulture)} lost, {Count(c.ShardsReassigned, "shard")} reassigned)";
    }

    /// <summary>" (shards read with 2 threads each)", or the threads of each shard when they differ.</summary>
    private static string ReadThreads(FitJobCompleted c)
    {
        var t = c.ShardReadThreads ?? [];
        if (t.Length == 0 || t.All(x => x <= 0)) return "";
        return t.Distinct().Count() == 1
            ? ConsoleProgress.Inv($" (shards read with {t[0]} thread{(t[0] == 1 ? "" : "s")} each)")
            : " (threads per shard: " + string.Join(", ", t.Select(x => x.ToString(System.Globalization.CultureInfo.InvariantCulture))) + ")";
    }

    private static void Report(FitCommand.FitArgs a, FitJobCompleted c, StopReason? reason, FitJobSettings settings, ConsoleProgress progress)
    {
        if (a.Json)
        {
            var o = new JsonObject
            {
                ["file"] = a.File,
                ["model"] = Path.GetFullPath(a.Out),
                ["dimension"] = c.Theta.Dimension,
                ["n"] = c.N,
                ["rejectedRows"] = c.RejectedRows,
                ["solver"] = settings.Solver.ToName(),
                ["parameterization"] = settings.Parameterization.ToName(),
                ["summing"] = settings.Summing.ToString().ToLowerInvariant(),
                ["iterations"] = c.Iterations,
                ["evaluations"] = c.Evaluations,
                ["rounds"] = c.Rounds,
                ["stopReason"] = reason is { } r ? StopReasons.ToName(r) : c.StopReason,
                ["converged"] = reason is { } rc && StopReasons.IsConverged(rc),
                ["nllPerRow"] = c.NllPerRow,
                ["gap"] = c.GapPerRow,
                ["gradientNorm"] = c.GradientNorm,
                ["workers"] = c.WorkersUsed,
                ["workersLost"] = c.WorkersLost,
                ["workersAtEnd"] = c.WorkersAtEnd,
                ["shardsReassigned"] = c.ShardsReassigned,
                ["shardReadThreads"] = new JsonArray((c.ShardReadThreads ?? []).Select(t => (JsonNode)t).ToArray()),
                ["loadSeconds"] = c.LoadSeconds,
                ["solveSeconds"] = c.SolveSeconds,
            };
            Console.Out.WriteLine(o.ToJsonString());
            return;
        }
        if (progress.Quiet) return;
        // Gradient summing counts its cluster rounds (each objective evaluation is one); statistics summing has none: the
        // shards' statistics were summed once and the solver iterated at the coordinator (its progress lines are iterations).
        string rounds = settings.Summing == SummingMode.Gradients ? ConsoleProgress.Inv($", {c.Rounds} rounds") : "";
        string status = reason is { } sr ? StopReasons.Describe(sr) : StopReasons.Describe(c.StopReason);
        Console.Out.WriteLine(ConsoleProgress.Inv($"fitted d={c.Theta.Dimension} n={c.N:N0} ({c.RejectedRows:N0} rejected) with {settings.Solver.ToName()} ({settings.Parameterization.ToName()}), {settings.Summing.ToString().ToLowerInvariant()} summed, on {Workers(c)}: {c.Iterations} iterations{rounds}, {status}"));
        Console.Out.WriteLine(ConsoleProgress.Inv($"J/n = {ConsoleProgress.Fixed(c.NllPerRow, 12)}  J - J* = {c.GapPerRow:0.000e+00} per row  |grad| = {c.GradientNorm:0.000e+00}  shards reassigned: {c.ShardsReassigned}"));
        Console.Out.WriteLine(ConsoleProgress.Inv($"load {c.LoadSeconds:F2} s{ReadThreads(c)}, solve {c.SolveSeconds:F2} s; model written to {a.Out}"));
    }
}
