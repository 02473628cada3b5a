using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;

namespace MvnStream.Cluster.Protocol;

/// <summary>
/// Sufficient statistics on the wire: the symmetric scatter travels as its packed lower triangle
/// (row-major, i &gt;= j, d(d+1)/2 values), halving a d = 512 message to about 1 MiB. <paramref name="ColumnMin"/> and
/// <paramref name="ColumnMax"/> (d each) decide exactly whether a column is constant (SufficientStatistics.ColumnMin).
/// </summary>
public sealed record StatisticsData([Field(1)] int Dimension, [Field(2)] long Count, [Field(3)] double Weight, [Field(4)] double[] Mean,
    [Field(5)] double[] ScatterLower, [Field(6)] double[] Third, [Field(7)] double Fourth, [Field(8)] double[] ColumnMin, [Field(9)] double[] ColumnMax)
{
    public static StatisticsData From(SufficientStatistics s)
    {
        ArgumentNullException.ThrowIfNull(s);
        int d = s.Dimension;
        var lower = new double[d * (d + 1) / 2];
        var m = s.Scatter;
        int o = 0;
        for (int i = 0; i < d; i++)
        {
            m.Slice(i * d, i + 1).CopyTo(lower.AsSpan(o));
            o += i + 1;
        }
        return new StatisticsData(d, s.Count, s.Weight, s.Mean.ToArray(), lower, s.ThirdMoment.ToArray(), s.FourthMoment,
            s.ColumnMin.ToArray(), s.ColumnMax.ToArray());
    }

    public SufficientStatistics ToStatistics()
    {
        int d = Dimension;
        if (ScatterLower.Length != d * (d + 1) / 2) throw new InvalidDataException($"scatter has {ScatterLower.Length} values, expected {d * (d + 1) / 2} for d = {d}");
        var m = new double[d * d];
        int o = 0;
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++, o++)
            {
                m[i * d + j] = ScatterLower[o];
                m[j * d + i] = ScatterLower[o];
            }
        if (ColumnMin is null || ColumnMax is null || ColumnMin.Length != d || ColumnMax.Length != d)
            throw new InvalidDataException($"column min/max have {ColumnMin?.Length ?? 0}/{ColumnMax?.Length ?? 0} values, expected {d} each");
        return SufficientStatistics.FromParts(d, Count, Weight, Mean, m, Third, Fourth, ColumnMin, ColumnMax);
    }
}

/// <summary>theta on the wire: mu and the free entries of Lambda (packed lower triangle for tril, all d^2 for full).</summary>
public sealed record ThetaData([Field(1)] int Dimension, [Field(2)] Parameterization Parameterization, [Field(3)] double[] Mu, [Field(4)] double[] LambdaPacked)
{
    public static ThetaData From(MvnParameters theta)
    {
        ArgumentNullException.ThrowIfNull(theta);
        int d = theta.Dimension;
        var x = new double[MvnParameters.PackedLength(d, theta.Parameterization)];
        theta.Pack(x);
        return new ThetaData(d, theta.Parameterization, x[..d], x[d..]);
    }

    public MvnParameters ToParameters()
    {
        int d = Dimension;
        var x = new double[d + LambdaPacked.Length];
        if (x.Length != MvnParameters.PackedLength(d, Parameterization)) throw new InvalidDataException($"theta has {x.Length} values, expected {MvnParameters.PackedLength(d, Parameterization)}");
        Mu.CopyTo(x, 0);
        LambdaPacked.CopyTo(x, d);
        return MvnParameters.Unpack(x, d, Parameterization);
    }
}

/// <summary>How workers decode a data file (d is always known by the time a shard is assigned).</summary>
public sealed record ReaderSettings([Field(1)] RowFormat Format, [Field(2)] int Dimension, [Field(3)] BadRowPolicy OnBadRow)
{
    public RowReaderOptions ToOptions() => new() { Format = Format, Dimension = Dimension > 0 ? Dimension : null, OnBadRow = OnBadRow };
}

/// <summary>docs/ARCHITECTURE.md, "Fitting a file": sum statistics once and differentiate at the coordinator, or sum workers' partial gradients every round.</summary>
public enum SummingMode
{
    Statistics = 0,
    Gradients = 1,
}

/// <summary>
/// Everything a fit job needs besides the data: solver, parameterization, regularisation, summing mode.
/// <paramref name="WorkerWaitSeconds"/>: how long to wait for <paramref name="MinWorkers"/> workers; null: the coordinator's
/// mvnstream.coordinator.worker-wait. <paramref name="ThreadsPerWorker"/>: threads each worker reads its shards with;
/// 0: each worker's own mvnstream.worker.threads.
/// </summary>
public sealed record FitJobSettings(
    [Field(1)] SolverKind Solver,
    [Field(2)] Parameterization Parameterization,
    [Field(3)] int MaxIterations,
    [Field(4)] double GradientTolerance,
    [Field(5)] double RelativeTolerance,
    [Field(6)] double LearningRate,
    [Field(7)] double Ridge,
    [Field(8)] ShrinkageMode Shrinkage,
    [Field(9)] double ShrinkageIntensity,
    [Field(10)] SummingMode Summing,
    [Field(11)] int ShardsPerWorker,
    [Field(12)] int MinWorkers,
    [Field(13)] double? WorkerWaitSeconds,
    [Field(14)] int ThreadsPerWorker = 0)
{
    /// <summary>The solver settings, as the stream's (one builder: <see cref="SolverSettings"/>).</summary>
    public SolverSettings Solving => new(Solver, Parameterization, MaxIterations, GradientTolerance, RelativeTolerance, LearningRate, Ridge, Shrinkage, ShrinkageIntensity);

    public FitOptions ToFitOptions() => Solving.ToFitOptions();
}

/// <summary>Why a job failed, so the client can choose its exit code.</summary>
public enum JobErrorKind
{
    Failure = 0,
    Usage = 1,
    BadInput = 2,
    Degenerate = 3,
    NoWorkers = 4,
    Cancelled = 5,
}
