using BenchmarkDotNet.Running;

namespace MvnStream.Benchmarks;

/// <summary>
/// Entry point: BenchmarkDotNet's switcher over every benchmark class in this assembly.
/// </summary>
/// <remarks>
/// Run from the repository root, always in Release:
/// <code>
/// dotnet run -c Release --project tests/MvnStream.Benchmarks -- --filter '*'                 # full runs
/// dotnet run -c Release --project tests/MvnStream.Benchmarks -- --filter '*Accumulation*' --quick
/// dotnet run -c Release --project tests/MvnStream.Benchmarks -- --list flat                  # what exists
/// dotnet run -c Release --project tests/MvnStream.Benchmarks -- rounds                       # cluster round overhead (RoundBenchmarks)
/// dotnet run -c Release --project tests/MvnStream.Benchmarks -- serializer                   # d = 512 contribution to bytes and back (SerializerBenchmarks)
/// dotnet run -c Release --project tests/MvnStream.Benchmarks -- stream                       # broker -> model rows/s and memory (StreamBenchmark)
/// dotnet run -c Release --project tests/MvnStream.Benchmarks -- solvers                      # iterations to the fit targets vs cond(S*) (SolverBenchmark)
/// dotnet run -c Release --project tests/MvnStream.Benchmarks -- cluster-start                # fixed cost of --workers N, separate nodes' join (ClusterBenchmark)
/// dotnet run -c Release --project tests/MvnStream.Benchmarks -- cluster-load                 # fit --workers N vs fit --threads T on a large file (ClusterBenchmark)
/// </code>
/// <c>--quick</c> is shorthand for BenchmarkDotNet's <c>--job short</c> (3 warm-ups, 3 iterations, one
/// launch): minutes instead of tens of minutes, good enough for a manual check, not for publishing.
/// Any other BenchmarkDotNet argument (<c>--job</c>, <c>--filter</c>, <c>--exporters</c>, ...) passes through.
/// The exit code is non-zero when a benchmark failed (for example when OpenBLAS could not be loaded).
/// </remarks>
public static class Program
{
    public static int Main(string[] args)
    {
        // A cluster does not fit BenchmarkDotNet's process-per-benchmark model: its own Stopwatch harness.
        if (args.Length > 0 && args[0] == "rounds") return RoundBenchmarks.Run(args[1..]);
        if (args.Length > 0 && args[0] == "stream") return StreamBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "solvers") return SolverBenchmark.Run(args[1..]);
        if (args.Length > 0 && args[0] == "serializer") return SerializerBenchmarks.Run();
        if (args.Length > 0 && args[0] == "cluster-start") return ClusterBenchmark.RunStart(args[1..]);
        if (args.Length > 0 && args[0] == "cluster-load") return ClusterBenchmark.RunLoad(args[1..]);

        var expanded = new List<string>(args.Length + 1);
        foreach (var a in args)
        {
            if (a is "--quick" or "-q") { expanded.Add("--job"); expanded.Add("short"); }
            else expanded.Add(a);
        }

        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. expanded]).ToList();

        int failed = 0;
        foreach (var summary in summaries)
        {
            if (summary.HasCriticalValidationErrors)
            {
                failed++;
                Console.Error.WriteLine($"Benchmark run '{summary.Title}' had critical validation errors (see above).");
            }
            foreach (var report in summary.Reports)
            {
                if (report.Success) continue;
                failed++;
                Console.Error.WriteLine($"FAILED: {report.BenchmarkCase.DisplayInfo} (see its log above for the exception).");
            }
        }
        if (failed > 0 && !OpenBlas.IsAvailable())
            Console.Error.WriteLine("OpenBLAS (libopenblas.so.0) is not installed, which fails the OpenBLAS baselines: apt-get install libopenblas0");
        return failed == 0 ? 0 : 1;
    }
}
