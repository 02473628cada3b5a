using System.Runtime.InteropServices;
using CsCheck;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;

namespace MvnStream.Cluster.Tests.Protocol;

/// <summary>
/// CsCheck generators for every <see cref="IMvnMessage"/>: doubles over all bit patterns (NaN payloads,
/// signalling NaNs, -0.0, infinities, subnormals), strings with non-ASCII and astral code points,
/// occasional nulls, enum values outside the declared ones, and dimensions up to d = 512 with arrays
/// of the lengths the protocol uses (packed lower triangle d(d+1)/2, full d^2).
/// </summary>
internal static class MessageGenerators
{
    /// <summary>Bit patterns a serializer is most likely to get wrong.</summary>
    public static readonly double[] SpecialDoubles =
    [
        double.NaN,
        -double.NaN,
        BitConverter.Int64BitsToDouble(0x7FF0_0000_0000_0001), // signalling NaN
        BitConverter.Int64BitsToDouble(0x7FF8_0000_DEAD_BEEF), // quiet NaN with payload
        BitConverter.Int64BitsToDouble(unchecked((long)0xFFF4_0000_0000_1234)), // negative signalling NaN with payload
        0.0,
        -0.0,
        double.PositiveInfinity,
        double.NegativeInfinity,
        double.Epsilon,
        -double.Epsilon,
        BitConverter.Int64BitsToDouble(0x000F_FFFF_FFFF_FFFF), // largest subnormal
        double.MaxValue,
        double.MinValue,
        1.0,
        0.1,
    ];

    public static readonly Gen<double> Double = Gen.Frequency(
        (4, (IGen<double>)Gen.Double),
        (2, Gen.OneOf(SpecialDoubles)),
        (2, Gen.Long.Select(BitConverter.Int64BitsToDouble)));

    private static readonly Gen<int> CodePoint = Gen.Frequency(
        (6, (IGen<int>)Gen.Int[0x20, 0x7E]),
        (1, Gen.Int[0x00, 0x1F]),
        (2, Gen.Int[0x80, 0x7FF]),
        (2, Gen.Int[0x800, 0xD7FF]),
        (1, Gen.Int[0xE000, 0xFFFF]),
        (2, Gen.Int[0x10000, 0x10FFFF]));

    /// <summary>Valid UTF-16 text (lone surrogates are not representable in UTF-8), empty on 1 draw in 8.</summary>
    public static readonly Gen<string> NonNullString = Gen.Frequency(
        (1, (IGen<string>)Gen.Const("")),
        (7, CodePoint.Array[1, 24].Select(cps => string.Concat(cps.Select(char.ConvertFromUtf32)))));

    /// <summary>Strings as declared fields carry them: non-null nearly always; the wire also round-trips null.</summary>
    public static readonly Gen<string> String = Gen.Frequency(
        (30, (IGen<string>)NonNullString),
        (1, Gen.Const((string)null!)));

    public static readonly Gen<string[]> Strings = Gen.Frequency(
        (30, (IGen<string[]>)String.Array[0, 6]),
        (1, Gen.Const((string[])null!)));

    public static readonly Gen<int> Dimension = Gen.Frequency(
        (6, (IGen<int>)Gen.Int[0, 12]),
        (2, Gen.Int[13, 80]),
        (1, Gen.Const(512)));

    public static Gen<T> Enum<T>() where T : struct, Enum => Gen.Frequency(
        (6, (IGen<T>)Gen.Enum<T>()),
        (1, Gen.Int.Select(i => (T)System.Enum.ToObject(typeof(T), i))));

    /// <summary>An array of exactly <paramref name="length"/> doubles: element-wise from <see cref="Double"/> when short; from a seeded fill of random bits (plus every special value) when long, so d = 512 stays fast.</summary>
    public static Gen<double[]> Doubles(int length)
    {
        if (length <= 64) return Double.Array[length];
        return Gen.Int.Select(seed =>
        {
            var a = new double[length];
            var rng = new Random(seed);
            rng.NextBytes(MemoryMarshal.AsBytes(a.AsSpan()));
            foreach (var s in SpecialDoubles) a[rng.Next(length)] = s;
            return a;
        });
    }

    public static int Tril(int d) => d * (d + 1) / 2;

    public static Gen<int> LambdaLength(int d, Parameterization p) =>
        p switch
        {
            Parameterization.LowerTriangular => Gen.Const(Tril(d)),
            Parameterization.Full => Gen.Const(d * d),
            _ => Gen.Int[0, 20],
        };

    /// <summary>Statistics of dimension <paramref name="d"/> (the scatter as its packed lower triangle).</summary>
    public static Gen<StatisticsData> StatisticsOf(int d) =>
        Gen.Select(Gen.Long, Double, Doubles(d), Doubles(Tril(d)), Doubles(d), Double, Doubles(d), Doubles(d),
            (n, w, mean, scatter, third, fourth, min, max) => new StatisticsData(d, n, w, mean, scatter, third, fourth, min, max));

    public static readonly Gen<StatisticsData> Statistics = Dimension.SelectMany(StatisticsOf);

    /// <summary>theta of dimension <paramref name="d"/> with <paramref name="lambdaLength"/> packed Lambda entries.</summary>
    public static Gen<ThetaData> ThetaOf(int d, Parameterization p, int lambdaLength) =>
        Gen.Select(Doubles(d), Doubles(lambdaLength), (mu, lambda) => new ThetaData(d, p, mu, lambda));

    public static readonly Gen<ThetaData> Theta =
        Gen.SelectMany(Dimension, Enum<Parameterization>(), (d, p) => LambdaLength(d, p).SelectMany(n => ThetaOf(d, p, n)));

    /// <summary>int[] of up to 40 elements, null on 1 draw in 31 (the wire round-trips null arrays).</summary>
    public static readonly Gen<int[]> Int32s = Gen.Frequency(
        (30, (IGen<int[]>)Gen.Int.Array[0, 40]),
        (1, Gen.Const((int[])null!)));

    /// <summary>long[] of up to 40 elements, null on 1 draw in 31.</summary>
    public static readonly Gen<long[]> Int64s = Gen.Frequency(
        (30, (IGen<long[]>)Gen.Long.Array[0, 40]),
        (1, Gen.Const((long[])null!)));

    public static readonly Gen<ReaderSettings> Reader =
        Gen.Select(Enum<RowFormat>(), Gen.Int, Enum<BadRowPolicy>(), (f, d, p) => new ReaderSettings(f, d, p));

    /// <summary>A double or (one time in four) none: e.g. a setting the client leaves to the coordinator.</summary>
    public static readonly Gen<double?> OptionalDouble =
        Gen.Frequency((3, (IGen<double?>)Double.Select(x => (double?)x)), (1, Gen.Const((double?)null)));

    public static readonly Gen<FitJobSettings> Settings =
        Gen.Select(Enum<SolverKind>(), Enum<Parameterization>(), Gen.Int, Double, Double, Double, Double, Enum<ShrinkageMode>(), Double,
                Enum<SummingMode>(), Gen.Int, Gen.Int, OptionalDouble,
                (solver, p, maxIt, gtol, rtol, lr, ridge, shrink, intensity, summing, perWorker, minWorkers, wait) =>
                    new FitJobSettings(solver, p, maxIt, gtol, rtol, lr, ridge, shrink, intensity, summing, perWorker, minWorkers, wait));

    public static readonly Gen<StreamTunables> Tunables =
        Gen.Select(Gen.Select(Double, Gen.Int, Gen.Int, Double, Double, Double, Double, Double), Gen.Select(Gen.Int, Double, Double, Double),
            Gen.Select(Double, Double, Double, Double, Double, Double, Double),
            (a, b, c) => new StreamTunables(a.Item1, a.Item2, a.Item3, a.Item4, a.Item5, a.Item6, a.Item7, a.Item8, b.Item1, b.Item2, b.Item3, b.Item4,
                c.Item1, c.Item2, c.Item3, c.Item4, c.Item5, c.Item6, c.Item7));

    public static readonly Gen<StreamJobSettings> StreamSettings =
        Gen.Select(
            Gen.Select(String, String, String, Enum<RowFormat>(), Gen.Int, Double, String, String),
            Gen.Select(String, Double, String, String, Double, Double, Gen.Long, Gen.Int),
            Gen.Select(Enum<SolverKind>(), Enum<Parameterization>(), Gen.Int, Double, Double, Double, Enum<ShrinkageMode>(), Double),
            Gen.Select(Gen.Int, Double, Strings, Double),
            Gen.Frequency((1, Gen.Const((StreamTunables?)null)), (3, Tunables.Select(t => (StreamTunables?)t))),
            (a, b, c, e, t) => new StreamJobSettings(a.Item1, a.Item2, a.Item3, a.Item4, a.Item5, a.Item6, a.Item7, a.Item8,
                b.Item1, b.Item2, b.Item3, b.Item4, b.Item5, b.Item6, b.Item7, b.Item8,
                c.Item1, c.Item2, c.Item3, c.Item4, c.Item5, c.Item6, c.Item7, c.Item8,
                e.Item1, e.Item2, e.Item3, e.Item4, t));

    private static Gen<IMvnMessage> Up<T>(Gen<T> gen) where T : IMvnMessage => gen.Select(m => (IMvnMessage)m);

    /// <summary>One generator per message type; a test checks every IMvnMessage in the assembly has one.</summary>
    public static readonly IReadOnlyDictionary<Type, Gen<IMvnMessage>> ByType = new Dictionary<Type, Gen<IMvnMessage>>
    {
        [typeof(SubmitFitJob)] = Up(Gen.Select(String, String, Reader, Settings, (id, path, r, s) => new SubmitFitJob(id, path, r, s))),
        [typeof(FitJobAccepted)] = Up(Gen.Select(String, Gen.Int, Gen.Int, Gen.Long, Gen.Int, (id, w, s, b, d) => new FitJobAccepted(id, w, s, b, d))),
        [typeof(CancelFitJob)] = Up(String.Select(id => new CancelFitJob(id))),
        [typeof(FitJobLoadProgress)] = Up(Gen.Select(String, Gen.Long, Gen.Long, Gen.Int, Gen.Int, Double,
            (id, rows, bytes, loaded, shards, secs) => new FitJobLoadProgress(id, rows, bytes, loaded, shards, secs))),
        [typeof(FitJobRoundProgress)] = Up(Gen.Select(String, Gen.Long, Gen.Int, Gen.Int, Double, Double, Double, Double, Double,
            (id, round, answered, workers, nll, gap, norm, ms, secs) => new FitJobRoundProgress(id, round, answered, workers, nll, gap, norm, ms, secs))),
        [typeof(FitJobNotice)] = Up(Gen.Select(String, String, (id, msg) => new FitJobNotice(id, msg))),
        [typeof(FitJobCompleted)] = Up(Gen.Select(
            Gen.Select(String, Theta, Gen.Long, Gen.Long, Strings, Gen.Int, Gen.Int, Gen.Long),
            Gen.Select(String, Gen.Bool, Double, Double, Double, Double, Double, Double),
            Gen.Select(Gen.Int, Gen.Int, Gen.Int, Gen.Int),
            (a, b, c) => new FitJobCompleted(a.Item1, a.Item2, a.Item3, a.Item4, a.Item5, a.Item6, a.Item7, a.Item8,
                b.Item1, b.Item2, b.Item3, b.Item4, b.Item5, b.Item6, b.Item7, b.Item8, c.Item1, c.Item2, c.Item3, c.Item4))),
        [typeof(FitJobFailed)] = Up(Gen.Select(String, Enum<JobErrorKind>(), String, (id, k, msg) => new FitJobFailed(id, k, msg))),
        [typeof(RegisterWorker)] = Up(String.Select(id => new RegisterWorker(id))),
        [typeof(WorkerRegistered)] = Up(String.Select(id => new WorkerRegistered(id))),
        [typeof(CoordinatorAvailable)] = Up(String.Select(id => new CoordinatorAvailable(id))),
        [typeof(DescribeFile)] = Up(Gen.Select(String, String, Reader, (id, path, r) => new DescribeFile(id, path, r))),
        [typeof(FileDescribed)] = Up(Gen.Select(String, Gen.Long, Gen.Int, Gen.Bool, (id, len, d, s) => new FileDescribed(id, len, d, s))),
        [typeof(FileDescribeFailed)] = Up(Gen.Select(String, Enum<JobErrorKind>(), String, (id, k, msg) => new FileDescribeFailed(id, k, msg))),
        [typeof(LoadShard)] = Up(Gen.Select(String, Gen.Int, String, Gen.Long, Gen.Long, Reader, Gen.Bool,
            (id, shard, path, start, end, r, ret) => new LoadShard(id, shard, path, start, end, r, ret))),
        [typeof(ShardLoadProgress)] = Up(Gen.Select(String, Gen.Int, Gen.Long, Gen.Long, (id, shard, rows, bytes) => new ShardLoadProgress(id, shard, rows, bytes))),
        [typeof(ShardLoaded)] = Up(Gen.Select(String, Gen.Int, Gen.Long, Gen.Long, Strings, Gen.Long, Double, Statistics.Null(0.2),
            (id, shard, rows, rejected, reasons, bytes, secs, stats) => new ShardLoaded(id, shard, rows, rejected, reasons, bytes, secs, stats))),
        [typeof(ShardLoadFailed)] = Up(Gen.Select(String, Gen.Int, Enum<JobErrorKind>(), String, (id, shard, k, msg) => new ShardLoadFailed(id, shard, k, msg))),
        [typeof(ComputePartialGradient)] = Up(Gen.Select(String, Gen.Long, Gen.Int.Array[0, 40], Theta,
            (id, round, shards, theta) => new ComputePartialGradient(id, round, shards, theta))),
        [typeof(PartialGradientComputed)] = Up(
            Gen.SelectMany(Dimension, Gen.Bool, (d, full) =>
                Gen.Select(String, Gen.Long, Gen.Int, Double, Doubles(d), Doubles(full ? d * d : Tril(d)), Double,
                    (id, round, shard, j, gmu, glambda, ms) => new PartialGradientComputed(id, round, shard, j, gmu, glambda, ms)))),
        [typeof(ReleaseJob)] = Up(String.Select(id => new ReleaseJob(id))),
        // Streaming.
        [typeof(StartStreamJob)] = Up(Gen.Select(String, StreamSettings, (id, s) => new StartStreamJob(id, s))),
        [typeof(StreamJobStarted)] = Up(Gen.Select(String, Gen.Long, Gen.Bool, Gen.Long, Gen.Long, Gen.Int,
            (id, epoch, restored, rows, version, workers) => new StreamJobStarted(id, epoch, restored, rows, version, workers))),
        [typeof(StreamJobStatus)] = Up(Gen.Select(
            Gen.Select(String, Gen.Long, Gen.Long, Gen.Long, Gen.Long, Gen.Long, Gen.Long, Gen.Long),
            Gen.Select(Gen.Long, Gen.Int, Gen.Int, Double, Gen.Long, Double, Double, Double),
            Gen.Select(Theta.Null(0.2), Double, Double),
            (a, b, c) => new StreamJobStatus(a.Item1, a.Item2, a.Item3, a.Item4, a.Item5, a.Item6, a.Item7, a.Item8,
                b.Item1, b.Item2, b.Item3, b.Item4, b.Item5, b.Item6, b.Item7, b.Item8, c.Item1, c.Item2, c.Item3))),
        [typeof(StreamJobNotice)] = Up(Gen.Select(String, String, (id, msg) => new StreamJobNotice(id, msg))),
        [typeof(StopStreamJob)] = Up(String.Select(id => new StopStreamJob(id))),
        [typeof(StreamJobFinished)] = Up(Gen.Select(
            Gen.Select(String, Theta.Null(0.2), Gen.Long, Double, Gen.Long, Gen.Long, Gen.Long, Gen.Long),
            Gen.Select(Gen.Int, Double, Double, String, Strings, Int64s, Int64s, String),
            (a, b) => new StreamJobFinished(a.Item1, a.Item2, a.Item3, a.Item4, a.Item5, a.Item6, a.Item7, a.Item8,
                b.Item1, b.Item2, b.Item3, b.Item4, b.Item5, b.Item6, b.Item7, b.Item8))),
        [typeof(StreamJobFailed)] = Up(Gen.Select(String, Enum<JobErrorKind>(), String, (id, k, msg) => new StreamJobFailed(id, k, msg))),
        [typeof(StartConsuming)] = Up(Gen.Select(String, Gen.Long, StreamSettings, (id, epoch, s) => new StartConsuming(id, epoch, s))),
        [typeof(LedgerQuery)] = Up(Gen.Select(String, Gen.Long, String, Gen.Int, Gen.Long,
            (id, epoch, topic, p, low) => new LedgerQuery(id, epoch, topic, p, low))),
        [typeof(LedgerPosition)] = Up(Gen.Select(String, Gen.Long, String, Gen.Int, Gen.Long,
            (id, epoch, topic, p, next) => new LedgerPosition(id, epoch, topic, p, next))),
        [typeof(PartitionContribution)] = Up(Gen.Select(
            Gen.Select(String, Gen.Long, String, Gen.Int, Gen.Long, Gen.Long, Gen.Long, Gen.Long),
            Statistics.Null(0.2),
            (a, stats) => new PartitionContribution(a.Item1, a.Item2, a.Item3, a.Item4, a.Item5, a.Item6, a.Item7, a.Item8, stats))),
        [typeof(ContributionAck)] = Up(Gen.Select(String, Gen.Long, String, Gen.Int, Gen.Long, Gen.Long, Enum<ContributionOutcome>(), Gen.Long,
            (id, epoch, topic, p, from, to, outcome, next) => new ContributionAck(id, epoch, topic, p, from, to, outcome, next))),
        [typeof(RecordsLost)] = Up(Gen.Select(String, Gen.Long, String, Gen.Int, Gen.Long, Gen.Long,
            (id, epoch, topic, p, next, low) => new RecordsLost(id, epoch, topic, p, next, low))),
        [typeof(ModelUpdated)] = Up(Gen.Select(String, Gen.Long, Gen.Long, Theta, (id, epoch, version, theta) => new ModelUpdated(id, epoch, version, theta))),
        [typeof(CommitOffsets)] = Up(Gen.Select(String, Gen.Long, String, Int32s, Int64s,
            (id, epoch, topic, partitions, offsets) => new CommitOffsets(id, epoch, topic, partitions, offsets))),
        [typeof(StopConsuming)] = Up(Gen.Select(String, Gen.Long, (id, epoch) => new StopConsuming(id, epoch))),
        [typeof(ConsumingStopped)] = Up(Gen.Select(String, Gen.Long, String, (id, epoch, worker) => new ConsumingStopped(id, epoch, worker))),
        [typeof(WorkerStreamStatus)] = Up(Gen.Select(String, Gen.Long, String, Int32s, Int64s, Gen.Bool, String.Null(0.3), Int64s,
            (id, epoch, worker, partitions, lag, atEnd, error, unread) => new WorkerStreamStatus(id, epoch, worker, partitions, lag, atEnd, error, unread))),
    };

    /// <summary>Every concrete IMvnMessage type in MvnStream.Cluster.</summary>
    public static IReadOnlyList<Type> AllMessageTypes { get; } =
        typeof(IMvnMessage).Assembly.GetTypes()
            .Where(t => typeof(IMvnMessage).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false })
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .ToArray();

    /// <summary>A d = 512 ShardLoaded with statistics (~1 MiB of doubles) and a fixed seed.</summary>
    public static ShardLoaded LargeShardLoaded(int seed = 512)
    {
        const int d = 512;
        return new ShardLoaded("job-ü-🚀", 7, 1_000_000, 3, ["row 17: 'abc' is not a number", "ligne 42: champ vide é"], 123_456_789, 12.5,
            new StatisticsData(d, 1_000_000, 999_999.5, Fill(d, seed), Fill(Tril(d), seed + 1), Fill(d, seed + 2), -0.0, Fill(d, seed + 3), Fill(d, seed + 4)),
            Threads: 3, DataPort: 40123);
    }

    /// <summary>A d = 512 PartialGradientComputed with a full-Lambda gradient (d^2 = 262144 doubles, 2 MiB).</summary>
    public static PartialGradientComputed LargeFullGradient(int seed = 1024)
    {
        const int d = 512;
        return new PartialGradientComputed("job-ü-🚀", 42, 3, double.NaN, Fill(d, seed), Fill(d * d, seed + 1), 3.25);
    }

    /// <summary>A d = 512 PartitionContribution with statistics (~1 MiB of doubles) and a fixed seed.</summary>
    public static PartitionContribution LargePartitionContribution(int seed = 2048)
    {
        const int d = 512;
        return new PartitionContribution("job-ü-🚀", 3, "topic-é", 11, 1_000_000, 1_100_000, 99_997, 3,
            new StatisticsData(d, 99_997, 95_000.25, Fill(d, seed), Fill(Tril(d), seed + 1), Fill(d, seed + 2), double.NaN, Fill(d, seed + 3), Fill(d, seed + 4)));
    }

    /// <summary>Random bit patterns, with every special value planted at the start.</summary>
    public static double[] Fill(int length, int seed)
    {
        var a = new double[length];
        new Random(seed).NextBytes(MemoryMarshal.AsBytes(a.AsSpan()));
        SpecialDoubles.AsSpan(0, Math.Min(length, SpecialDoubles.Length)).CopyTo(a);
        return a;
    }
}
