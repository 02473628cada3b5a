using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace MvnStream.Benchmarks;

/// <summary>
/// What going through the cluster costs a user, measured on the real executable against the single-process fit in
/// the same run (ratios, not absolute times; docs/ARCHITECTURE.md, "Fitting a file"):
/// <code>
/// dotnet run -c Release --project tests/MvnStream.Benchmarks -- cluster-start [--workers 1,2,4] [--reps 5] [--nodes 3]
/// dotnet run -c Release --project tests/MvnStream.Benchmarks -- cluster-load [--rows 11500000] [--dims 10] [--runs 1x2,2x1,4x1,1x1] [--threads 2] [--reps 3] [--file PATH]
/// </code>
/// <para><b>cluster-start.</b> A 150-row, 4-column csv. Alternately, <c>--reps</c> times: <c>mvnstream fit FILE</c> and
/// <c>mvnstream fit FILE --workers N</c> for each N, each a fresh process, wall time from start to exit. The fixed cost
/// is the median of the cluster runs minus the median of the single-process runs (target under 1 s for N &lt;= 4).
/// Then a separate-process cluster: <c>mvnstream node --role coordinator</c>, then <c>--nodes</c> worker processes
/// started together; measured from the last worker's start until every worker has logged that the coordinator
/// registered it (from then on a job is accepted at once with all of them; target 2 s); a <c>fit --cluster</c> client
/// then checks that its job is accepted on all of them.</para>
/// <para><b>cluster-load.</b> Generates (once, kept in /tmp) a csv of <c>--rows</c> x <c>--dims</c> with
/// <c>mvnstream generate</c>, then alternately, <c>--reps</c> times: <c>fit FILE --threads T</c> (the reference, T =
/// <c>--threads</c>, default every core) and <c>fit FILE --workers N --threads-per-worker P</c> for each <c>NxP</c> of
/// <c>--runs</c>. Reported: medians of the whole command's wall time and of the read (single: readSeconds; cluster:
/// loadSeconds), and the ratios to the reference (target: wall time at most 1.15x with the same total cores, N x P = T);
/// each run's fixed cost (wall time minus read), and the file size from which its ratio is within the target if the reads
/// grow with the file and the fixed costs stay (<see cref="MetFrom"/>).</para>
/// </summary>
public static class ClusterBenchmark
{
    private const double StartTargetSeconds = 1.0;
    private const double SeparateTargetSeconds = 2.0;
    private const double LoadTarget = 1.15;

    public static int RunStart(string[] args)
    {
        int[] workers = args.Contains("--separate-only") ? [] : Ints(Arg(args, "--workers") ?? "1,2,4");
        int reps = int.Parse(Arg(args, "--reps") ?? "5", CultureInfo.InvariantCulture);
        int nodes = int.Parse(Arg(args, "--nodes") ?? "3", CultureInfo.InvariantCulture);
        var cli = Cli.Locate();
        var dir = Directory.CreateTempSubdirectory("mvnstream-cluster-start-");
        try
        {
            string csv = Path.Combine(dir.FullName, "small.csv");
            Cli.Run(cli, ["generate", "--dim", "4", "--rows", "150", "--out", csv], TimeSpan.FromMinutes(2)).Expect(0, "generate");
            string model = Path.Combine(dir.FullName, "model.json");
            Console.WriteLine($"cluster-start: {Environment.ProcessorCount} cores, 150 rows x 4, {reps} repetitions, alternating; one warm-up each");
            var single = new List<double>();
            var cluster = workers.ToDictionary(n => n, _ => new List<double>());
            for (int rep = -1; rep < reps; rep++)
            {
                var s = Cli.Run(cli, ["fit", csv, "--quiet", "--out", model], TimeSpan.FromMinutes(2)).Expect(0, "fit");
                if (rep >= 0) single.Add(s.Seconds);
                foreach (int n in workers)
                {
                    var c = Cli.Run(cli, ["fit", csv, "--quiet", "--out", model, "--workers", n.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromMinutes(2)).Expect(0, $"fit --workers {n}");
                    if (rep >= 0) cluster[n].Add(c.Seconds);
                }
            }
            double reference = Median(single);
            Console.WriteLine();
            Console.WriteLine("| run | median wall time | runs | fixed cost (minus fit FILE) | target |");
            Console.WriteLine("|---|---|---|---|---|");
            Console.WriteLine(Inv($"| fit FILE | {reference:F2} s | {Join(single)} | | |"));
            bool ok = true;
            foreach (int n in workers)
            {
                double m = Median(cluster[n]), cost = m - reference;
                ok &= n > 4 || cost < StartTargetSeconds;
                Console.WriteLine(Inv($"| fit FILE --workers {n} | {m:F2} s | {Join(cluster[n])} | {cost:F2} s | {(cost < StartTargetSeconds ? "met" : "NOT met")} (< {StartTargetSeconds:F0} s) |"));
            }

            Console.WriteLine();
            var separate = new List<double>();
            for (int rep = 0; rep < Math.Max(1, reps / 2); rep++)
            {
                double s = SeparateProcesses(cli, dir.FullName, csv, nodes);
                separate.Add(s);
            }
            double sm = Median(separate);
            ok &= sm < SeparateTargetSeconds;
            Console.WriteLine(Inv($"separate processes (coordinator + {nodes} workers): last worker start -> all registered: median {sm:F2} s ({Join(separate)}); target {SeparateTargetSeconds:F0} s: {(sm < SeparateTargetSeconds ? "met" : "NOT met")}"));
            return ok ? 0 : 2;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Seconds from the last worker process's start until every worker logged its registration.</summary>
    private static double SeparateProcesses(string cli, string dir, string csv, int nodes)
    {
        string info = Path.Combine(dir, "info.hocon");
        File.WriteAllText(info, "akka.loglevel = INFO\n");
        var all = new List<Cli.Running>();
        try
        {
            var coordinator = Cli.Start(cli, ["node", "--role", "coordinator", "--port", "0"]);
            all.Add(coordinator);
            string upLine = coordinator.WaitFor(l => l.StartsWith("node up at ", StringComparison.Ordinal), stdout: true, TimeSpan.FromSeconds(60), "coordinator up");
            string address = upLine.Split(' ')[3];
            var workers = new List<Cli.Running>();
            for (int i = 0; i < nodes; i++)
            {
                var w = Cli.Start(cli, ["node", "--role", "worker", "--seed-node", address, "--config", info]);
                workers.Add(w);
                all.Add(w);
            }
            var lastStart = workers.Max(w => w.Started);
            // A worker may be registered before its own node is Up (the coordinator announces itself to joining nodes), so
            // "node up" (stdout) can come after "registered" (stderr): both are awaited.
            foreach (var w in workers)
            {
                w.WaitFor(l => l.Contains("registered with coordinator", StringComparison.Ordinal), stdout: false, TimeSpan.FromSeconds(60), "worker registered");
                w.WaitFor(l => l.StartsWith("node up at ", StringComparison.Ordinal), stdout: true, TimeSpan.FromSeconds(60), "worker node up");
            }
            TimeSpan At(Cli.Running w, string text) => w.LineTimes.First(x => x.Line.Contains(text, StringComparison.Ordinal)).At;
            var lastRegistered = workers.Max(w => At(w, "registered with coordinator"));
            double seconds = (lastRegistered - lastStart).TotalSeconds;
            Console.WriteLine("  workers (s after their own start): " + string.Join("; ", workers.Select(w =>
                Inv($"node up {(At(w, "node up at") - w.Started).TotalSeconds:F2}, registered {(At(w, "registered with coordinator") - w.Started).TotalSeconds:F2}"))));
            var fit = Cli.Run(cli, ["fit", csv, "--cluster", address, "--out", Path.Combine(dir, "cluster.json")], TimeSpan.FromMinutes(2)).Expect(0, "fit --cluster");
            string accepted = fit.Stderr.Split('\n').FirstOrDefault(l => l.StartsWith("job accepted:", StringComparison.Ordinal)) ?? "(no 'job accepted' line)";
            Console.WriteLine(Inv($"  separate: {seconds:F2} s from the last worker's start to all {nodes} registered; client: {accepted.Trim()}; client wall time {fit.Seconds:F2} s"));
            if (!accepted.Contains($"{nodes} workers", StringComparison.Ordinal))
                throw new InvalidOperationException($"the job was not accepted on all {nodes} workers: {accepted}");
            return seconds;
        }
        finally
        {
            foreach (var p in all) p.Kill();
        }
    }

    public static int RunLoad(string[] args)
    {
        long rows = long.Parse(Arg(args, "--rows") ?? "11500000", CultureInfo.InvariantCulture);
        int dims = int.Parse(Arg(args, "--dims") ?? "10", CultureInfo.InvariantCulture);
        int threads = int.Parse(Arg(args, "--threads") ?? Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        int reps = int.Parse(Arg(args, "--reps") ?? "3", CultureInfo.InvariantCulture);
        var runs = (Arg(args, "--runs") ?? $"1x{threads},2x{Math.Max(1, threads / 2)},4x{Math.Max(1, threads / 4)},1x1")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => r.Split('x')).Select(p => (Workers: int.Parse(p[0], CultureInfo.InvariantCulture), Threads: int.Parse(p[1], CultureInfo.InvariantCulture))).ToList();
        var cli = Cli.Locate();
        string file = Arg(args, "--file") ?? Path.Combine(Path.GetTempPath(), $"mvnstream-cluster-load-{rows}x{dims}.csv");
        if (!File.Exists(file))
        {
            Console.WriteLine($"generating {file} ({rows:N0} rows x {dims}) ...");
            // Written under another name and renamed when complete: an interrupted run leaves no half file to be reused.
            string partial = file + ".partial";
            Cli.Run(cli, ["generate", "--dim", dims.ToString(CultureInfo.InvariantCulture), "--rows", rows.ToString(CultureInfo.InvariantCulture), "--format", "csv", "--out", partial], TimeSpan.FromHours(1)).Expect(0, "generate");
            File.Move(partial, file);
        }
        long bytes = new FileInfo(file).Length;
        Console.WriteLine(Inv($"cluster-load: {file}, {bytes / 1e9:F2} GB, {Environment.ProcessorCount} cores; reference fit --threads {threads}; {reps} repetitions, alternating, after one warm-up (page cache)"));
        string model = Path.Combine(Path.GetTempPath(), $"mvnstream-cluster-load-{Environment.ProcessId}.json");
        var refWall = new List<double>();
        var refRead = new List<double>();
        var wall = runs.ToDictionary(r => r, _ => new List<double>());
        var read = runs.ToDictionary(r => r, _ => new List<double>());
        double[]? refMu = null;
        try
        {
            for (int rep = -1; rep < reps; rep++)
            {
                var s = Cli.Run(cli, ["fit", file, "--json", "--out", model, "--threads", threads.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromHours(1)).Expect(0, "fit --threads");
                var sj = JsonNode.Parse(s.Stdout)!;
                refMu ??= Mu(model);
                if (rep >= 0)
                {
                    refWall.Add(s.Seconds);
                    refRead.Add(sj["readSeconds"]!.GetValue<double>());
                }
                foreach (var r in runs)
                {
                    var c = Cli.Run(cli, ["fit", file, "--json", "--out", model, "--workers", r.Workers.ToString(CultureInfo.InvariantCulture),
                        "--threads-per-worker", r.Threads.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromHours(1)).Expect(0, $"fit --workers {r.Workers}");
                    var cj = JsonNode.Parse(c.Stdout)!;
                    var used = cj["shardReadThreads"]!.AsArray().Select(x => x!.GetValue<int>()).ToArray();
                    if (used.Any(t => t != r.Threads)) throw new InvalidOperationException($"asked for {r.Threads} threads per worker, the shards were read with {string.Join(",", used)}");
                    double diff = Mu(model).Zip(refMu).Max(p => Math.Abs(p.First - p.Second) / Math.Max(1, Math.Abs(p.Second)));
                    if (diff > 1e-12) throw new InvalidOperationException($"the cluster's mu differs from the single-process fit's by {diff:E2} (relative)");
                    if (rep >= 0)
                    {
                        wall[r].Add(c.Seconds);
                        read[r].Add(cj["loadSeconds"]!.GetValue<double>());
                    }
                }
            }
        }
        finally
        {
            File.Delete(model);
        }
        double rw = Median(refWall), rr = Median(refRead);
        Console.WriteLine();
        Console.WriteLine("| run | total cores | wall time (median) | read | wall / reference | read / reference | fixed cost | target (same cores) | met from |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        Console.WriteLine(Inv($"| fit --threads {threads} (reference) | {threads} | {rw:F2} s | {rr:F2} s | 1 | 1 | {rw - rr:F2} s | | |"));
        bool ok = true;
        foreach (var r in runs)
        {
            double w = Median(wall[r]), l = Median(read[r]);
            bool same = r.Workers * r.Threads == threads;
            string verdict = same ? (w / rw <= LoadTarget ? "met" : "NOT met") + Inv($" (<= {LoadTarget:F2})") : "other cores";
            if (same) ok &= w / rw <= LoadTarget;
            Console.WriteLine(Inv($"| fit --workers {r.Workers} --threads-per-worker {r.Threads} | {r.Workers * r.Threads} | {w:F2} s | {l:F2} s | {w / rw:F2} | {l / rr:F2} | {w - l:F2} s | {verdict} | {(same ? MetFrom(bytes, rw, rr, w, l) : "")} |"));
        }
        Console.WriteLine(Inv($"runs (wall, s): reference {Join(refWall)}; ") + string.Join("; ", runs.Select(r => $"{r.Workers}x{r.Threads} {Join(wall[r])}")));
        Console.WriteLine(Inv($"runs (read, s): reference {Join(refRead)}; ") + string.Join("; ", runs.Select(r => $"{r.Workers}x{r.Threads} {Join(read[r])}")));
        Console.WriteLine("fixed cost: wall time minus read (start-up, the job's hand-over, the solve, the model written, the stop). "
            + "met from: the file size from which the wall ratio is within the target, if the read scales with the file and the fixed costs stay as measured.");
        return ok ? 0 : 2;
    }

    /// <summary>
    /// The file size from which a cluster run with wall time <paramref name="wall"/> and read <paramref name="read"/> is within
    /// <see cref="LoadTarget"/> of the reference (<paramref name="refWall"/>, <paramref name="refRead"/>) on a file of
    /// <paramref name="bytes"/>: both reads grow with the file, the fixed costs (wall minus read) do not. At k times the size,
    /// (fc + k read) / (fr + k refRead) &lt;= target when k (target refRead - read) &gt;= fc - target fr.
    /// </summary>
    private static string MetFrom(long bytes, double refWall, double refRead, double wall, double read)
    {
        double fc = wall - read, fr = refWall - refRead;
        double slack = LoadTarget * refRead - read, need = fc - LoadTarget * fr;
        if (need <= 0) return "any size";
        if (slack <= 0) return "never: the read alone is over the target";
        double k = need / slack;
        return Inv($"{k * bytes / 1e9:F1} GB");
    }

    private static double[] Mu(string model) => JsonNode.Parse(File.ReadAllText(model))!["mu"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static int[] Ints(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static string Join(IEnumerable<double> xs) => string.Join(", ", xs.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)));

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>The mvnstream executable of this checkout, run as child processes.</summary>
    private static class Cli
    {
        public static string Locate()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (!File.Exists(Path.Combine(dir.FullName, "MvnStream.sln"))) continue;
                var dll = Path.Combine(dir.FullName, "src", "MvnStream.Cli", "bin", "Release", "net10.0", "mvnstream.dll");
                if (File.Exists(dll)) return dll;
                throw new FileNotFoundException($"{dll} is missing: build the solution in Release first (dotnet build MvnStream.sln -c Release)");
            }
            throw new DirectoryNotFoundException("cannot find the repository (MvnStream.sln) above " + AppContext.BaseDirectory);
        }

        public sealed record Result(int ExitCode, double Seconds, string Stdout, string Stderr, string What)
        {
            public Result Expect(int code, string what) => ExitCode == code ? this
                : throw new InvalidOperationException($"{what} exited with {ExitCode}, expected {code}:\n{Stderr}");
        }

        private static ProcessStartInfo Info(string cli, IEnumerable<string> args)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(cli);
            foreach (var a in args) psi.ArgumentList.Add(a);
            return psi;
        }

        public static Result Run(string cli, string[] args, TimeSpan timeout)
        {
            var sw = Stopwatch.StartNew();
            using var p = Process.Start(Info(cli, args))!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeout))
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException($"mvnstream {string.Join(' ', args)} ran longer than {timeout}");
            }
            p.WaitForExit();
            double seconds = sw.Elapsed.TotalSeconds;
            return new Result(p.ExitCode, seconds, stdout.Result, stderr.Result, string.Join(' ', args));
        }

        public static Running Start(string cli, string[] args) => new(Process.Start(Info(cli, args))!);

        /// <summary>A long-running child (a node): its lines with the time each arrived.</summary>
        public sealed class Running
        {
            private readonly Process _process;
            private readonly object _gate = new();
            private readonly List<(string Line, TimeSpan At, bool Stdout)> _lines = [];

            private static readonly Stopwatch Clock = Stopwatch.StartNew();

            public Running(Process process)
            {
                _process = process;
                Started = Clock.Elapsed;
                process.OutputDataReceived += (_, e) => Add(e.Data, true);
                process.ErrorDataReceived += (_, e) => Add(e.Data, false);
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
            }

            /// <summary>When the process was started (a monotonic clock common to all children).</summary>
            public TimeSpan Started { get; }

            public IReadOnlyList<(string Line, TimeSpan At)> LineTimes
            {
                get { lock (_gate) return _lines.Select(l => (l.Line, l.At)).ToList(); }
            }

            private void Add(string? line, bool stdout)
            {
                if (line is null) return;
                lock (_gate)
                {
                    _lines.Add((line, Clock.Elapsed, stdout));
                    Monitor.PulseAll(_gate);
                }
            }

            public string WaitFor(Func<string, bool> match, bool stdout, TimeSpan timeout, string what)
            {
                var deadline = DateTime.UtcNow + timeout;
                lock (_gate)
                {
                    while (true)
                    {
                        foreach (var l in _lines)
                            if (l.Stdout == stdout && match(l.Line)) return l.Line;
                        var left = deadline - DateTime.UtcNow;
                        if (left <= TimeSpan.Zero || _process.HasExited)
                            throw new TimeoutException($"{what}: not seen within {timeout} (process {(_process.HasExited ? "exited" : "running")}):\n{string.Join('\n', _lines.Select(x => x.Line))}");
                        Monitor.Wait(_gate, left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
                    }
                }
            }

            public void Kill()
            {
                try
                {
                    if (!_process.HasExited) _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(10_000);
                }
                catch (InvalidOperationException) { }
                _process.Dispose();
            }
        }
    }
}
