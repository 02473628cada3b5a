using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using BenchmarkDotNet.Attributes;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Benchmarks;

/// <summary>
/// The wire serializer on the largest streaming message: a d = 512 PartitionContribution (statistics: mean, packed
/// lower triangle of the scatter, third moments; ~1 MiB), to bytes and back.
/// <c>dotnet run -c Release --project tests/MvnStream.Benchmarks -- --filter '*SerializerBenchmarks*'</c>, or
/// <c>-- serializer</c> for the minimum and median of 300 timed calls each (the minimum is what a loaded machine distorts least).
/// </summary>
[MemoryDiagnoser]
public class SerializerBenchmarks
{
    private ActorSystem _system = null!;
    private MvnStreamSerializer _serializer = null!;
    private PartitionContribution _message = null!;
    private byte[] _bytes = null!;

    [GlobalSetup]
    public void Setup()
    {
        const int d = 512;
        var rng = new Random(512);
        double[] Fill(int n)
        {
            var a = new double[n];
            for (int i = 0; i < n; i++) a[i] = rng.NextDouble();
            return a;
        }
        _system = ActorSystem.Create("serializer-benchmark", "akka.actor.provider = local\nakka.loglevel = WARNING");
        _serializer = new MvnStreamSerializer((ExtendedActorSystem)_system);
        _message = new PartitionContribution("job-1", 3, "rows", 11, 1_000_000, 1_100_000, 99_997, 3,
            new StatisticsData(d, 99_997, 95_000.25, Fill(d), Fill(d * (d + 1) / 2), Fill(d), 1.5, Fill(d), Fill(d)));
        _bytes = _serializer.ToBinary(_message);
    }

    [GlobalCleanup]
    public void Cleanup() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    [Benchmark]
    public int ToBinary() => _serializer.ToBinary(_message).Length;

    [Benchmark]
    public object FromBinary() => _serializer.FromBinary(_bytes, "PC");

    /// <summary>The "serializer" mode: minimum and median milliseconds of 300 calls each way.</summary>
    public static int Run()
    {
        var b = new SerializerBenchmarks();
        b.Setup();
        try
        {
            foreach (var (name, call) in new (string, Func<object>)[] { ("ToBinary", () => b.ToBinary()), ("FromBinary", b.FromBinary) })
            {
                var times = new List<double>();
                for (int i = 0; i < 330; i++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    call();
                    if (i >= 30) times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
                times.Sort();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: min {times[0]:F3} ms, median {times[times.Count / 2]:F3} ms ({b._bytes.Length:N0} bytes)"));
            }
            return 0;
        }
        finally { b.Cleanup(); }
    }
}
