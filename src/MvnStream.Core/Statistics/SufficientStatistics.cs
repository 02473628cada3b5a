using System.Buffers;
using System.Runtime.CompilerServices;
using MvnStream.Core.Numerics;

namespace MvnStream.Core.Statistics;

/// <summary>
/// Mergeable sufficient statistics of a multivariate normal sample, kept in the stable form of
/// docs/ARCHITECTURE.md, "The math": the total weight n, the mean xbar (d) and the scatter about the mean
/// M = sum_a w_a (x_a - xbar)(x_a - xbar)^T (d x d, symmetric, row-major).
/// Two further moments about the mean, T = sum_a w_a |z_a|^2 z_a (d) and Q = sum_a w_a |z_a|^4 with
/// z_a = x_a - xbar, are carried so that Ledoit-Wolf shrinkage can be computed from merged
/// statistics alone; they merge exactly too.
/// Per column, the smallest and largest value counted (<see cref="ColumnMin"/>, <see cref="ColumnMax"/>) are carried so
/// that "every value of column j is equal" is decided exactly (min == max), which the rounded scatter cannot do
/// (README, singular data); min and max merge exactly in any order.
/// </summary>
/// <remarks>
/// Merge (Chan et al.): n = n1 + n2, delta = xbar2 - xbar1, xbar = xbar1 + delta n2 / n,
/// M = M1 + M2 + delta delta^T n1 n2 / n. Batches are accumulated as a rank-k update of the block
/// centred at its own mean (lower triangle only) and then merged, never row by row.
/// With unit weights and no forgetting, <see cref="Weight"/> equals <see cref="Count"/>.
/// </remarks>
public sealed class SufficientStatistics
{
    private readonly double[] _mean;
    private readonly double[] _scatter;
    private readonly double[] _third;
    private readonly double[] _min;
    private readonly double[] _max;

    /// <summary>Creates empty statistics of dimension <paramref name="dimension"/>.</summary>
    public SufficientStatistics(int dimension)
    {
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be positive");
        Dimension = dimension;
        _mean = new double[dimension];
        _scatter = new double[dimension * dimension];
        _third = new double[dimension];
        _min = new double[dimension];
        _max = new double[dimension];
        ResetRange();
    }

    /// <summary>No value counted: min = +inf, max = -inf (the identities of min and max).</summary>
    private void ResetRange()
    {
        Array.Fill(_min, double.PositiveInfinity);
        Array.Fill(_max, double.NegativeInfinity);
    }

    /// <summary>d, the number of columns.</summary>
    public int Dimension { get; }

    /// <summary>Rows counted (unweighted, not decayed).</summary>
    public long Count { get; private set; }

    /// <summary>n of the formulas: the sum of the (possibly decayed) row weights.</summary>
    public double Weight { get; private set; }

    /// <summary>xbar, length d.</summary>
    public ReadOnlySpan<double> Mean => _mean;

    /// <summary>M, d x d row-major, symmetric.</summary>
    public ReadOnlySpan<double> Scatter => _scatter;

    /// <summary>T = sum w |z|^2 z about the mean, length d.</summary>
    public ReadOnlySpan<double> ThirdMoment => _third;

    /// <summary>
    /// Per column, the smallest value of the rows that carry weight (+inf when none): exact, not rounded, so
    /// <c>ColumnMin[j] == ColumnMax[j]</c> holds exactly when every value of column j is equal.
    /// </summary>
    public ReadOnlySpan<double> ColumnMin => _min;

    /// <summary>Per column, the largest value of the rows that carry weight (-inf when none).</summary>
    public ReadOnlySpan<double> ColumnMax => _max;

    /// <summary>Q = sum w |z|^4 about the mean.</summary>
    public double FourthMoment { get; private set; }

    /// <summary>True when no weight has been counted.</summary>
    public bool IsEmpty => Weight == 0;

    /// <summary>Rebuilds statistics from their parts (deserialisation, checkpoints).</summary>
    public static SufficientStatistics FromParts(int dimension, long count, double weight,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> scatter, ReadOnlySpan<double> third, double fourth,
        ReadOnlySpan<double> columnMin, ReadOnlySpan<double> columnMax)
    {
        var s = new SufficientStatistics(dimension);
        if (mean.Length != dimension) throw new ArgumentException($"mean has {mean.Length} entries, expected {dimension}", nameof(mean));
        if (scatter.Length != dimension * dimension) throw new ArgumentException($"scatter has {scatter.Length} entries, expected {dimension * dimension}", nameof(scatter));
        if (third.Length != dimension) throw new ArgumentException($"third moment has {third.Length} entries, expected {dimension}", nameof(third));
        if (columnMin.Length != dimension || columnMax.Length != dimension)
            throw new ArgumentException($"column min/max have {columnMin.Length}/{columnMax.Length} entries, expected {dimension}", nameof(columnMin));
        if (count < 0 || weight < 0 || double.IsNaN(weight)) throw new ArgumentException("count and weight must be non-negative");
        s.Count = count;
        s.Weight = weight;
        mean.CopyTo(s._mean);
        scatter.CopyTo(s._scatter);
        third.CopyTo(s._third);
        columnMin.CopyTo(s._min);
        columnMax.CopyTo(s._max);
        s.FourthMoment = fourth;
        return s;
    }

    /// <summary>A deep copy.</summary>
    public SufficientStatistics Clone() =>
        FromParts(Dimension, Count, Weight, _mean, _scatter, _third, FourthMoment, _min, _max);

    /// <summary>Adds one row with weight <paramref name="weight"/>.</summary>
    public void Add(ReadOnlySpan<double> row, double weight = 1.0)
    {
        Span<double> w = [weight];
        AddBatch(row, 1, w);
    }

    /// <summary>
    /// Adds a block of <paramref name="rowCount"/> rows (row-major, rowCount x d) with optional per-row
    /// weights (empty span = unit weights). The block is centred at its own weighted mean, its scatter
    /// is accumulated as one rank-k update (lower triangle) and the result merged exactly.
    /// </summary>
    /// <remarks>
    /// This is <see cref="Merge"/> of the block's own statistics, done in place: with b the block mean,
    /// W its weight and delta = b - xbar, the rank-k update adds sum w (x - b)(x - b)^T straight into M's
    /// lower triangle (centring happens while the kernel packs its panels), the merge term
    /// delta delta^T n1 W / n is added while mirroring the triangle, and the block's third and fourth
    /// moments are summed directly about the merged mean. No copy of the block and no d x d scratch.
    /// </remarks>
    public void AddBatch(ReadOnlySpan<double> rows, int rowCount, ReadOnlySpan<double> weights = default) =>
        AddBatch(rows, rowCount, weights, null);

    /// <summary>
    /// <see cref="AddBatch(ReadOnlySpan{double}, int, ReadOnlySpan{double})"/> with the rank-k update
    /// supplied by the caller (null = <see cref="Syrk.AccumulateCentredLower"/>); the benchmarks pass an
    /// OpenBLAS dsyrk here to compare whole accumulations like for like.
    /// </summary>
    internal void AddBatch(ReadOnlySpan<double> rows, int rowCount, ReadOnlySpan<double> weights, CentredRankKUpdate? rankK)
    {
        int d = Dimension;
        if (rowCount < 0) throw new ArgumentOutOfRangeException(nameof(rowCount));
        if (rows.Length < (long)rowCount * d)
            throw new ArgumentException($"block holds {rows.Length} values, expected {rowCount} x {d}", nameof(rows));
        if (!weights.IsEmpty && weights.Length != rowCount)
            throw new ArgumentException($"{weights.Length} weights for {rowCount} rows", nameof(weights));
        if (rowCount == 0) return;
        // All weights are checked before anything is added, so a bad weight leaves the statistics unchanged.
        for (int r = 0; r < weights.Length; r++)
        {
            double w = weights[r];
            if (!(w >= 0) || double.IsInfinity(w)) throw new ArgumentException($"weight of row {r} is {w}; weights must be finite and non-negative", nameof(weights));
        }
        // Blocks larger than about half an L2 cache are added in chunks (each an exact merge), so that the
        // mean, correction, moment and packing passes over a chunk read it from cache, not memory. A chunk
        // keeps at least 16 d rows so that its O(d^2) merge work stays small beside its O(k d^2) update.
        int chunk = Math.Max(ChunkBytes / (8 * d), 16 * d);
        for (int r0 = 0; r0 < rowCount; r0 += chunk)
        {
            int kc = Math.Min(chunk, rowCount - r0);
            AddBlock(rows.Slice(r0 * d, kc * d), kc, weights.IsEmpty ? default : weights.Slice(r0, kc), rankK);
        }
    }

    private const int ChunkBytes = 512 * 1024;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot read path, optimised at once (docs/ARCHITECTURE.md, "Fitting a file")
    private void AddBlock(ReadOnlySpan<double> rows, int k, ReadOnlySpan<double> weights, CentredRankKUpdate? rankK)
    {
        int d = Dimension;
        bool weighted = !weights.IsEmpty;
        double wsum = k;
        if (weighted)
        {
            wsum = 0;
            for (int r = 0; r < k; r++) wsum += weights[r];
            if (wsum == 0) { Count += k; return; }
        }

        var scratch = _work ??= new double[3 * d];
        var blockMean = scratch.AsSpan(0, d);
        var delta = scratch.AsSpan(d, d);
        var work = scratch.AsSpan(2 * d, d);
        double n1 = Weight, n2 = wsum, n = n1 + n2;
        double c = 0; // n1 n2 / n, the weight of the merge term delta delta^T
        unsafe
        {
            fixed (double* x = rows, w = weights, b = blockMean, corr = work, mean = _mean, third = _third)
            {
                double* wp = weighted ? w : null;
                // Block mean b, with a second pass for the centring correction so that b is exact to
                // rounding even when |b| >> spread (the residuals sum to ~0 but not exactly).
                blockMean.Clear();
                BlockKernels.AddColumnSums(x, k, d, wp, null, b);
                double inv = 1.0 / wsum;
                for (int j = 0; j < d; j++) b[j] *= inv;
                work.Clear();
                BlockKernels.AddColumnSums(x, k, d, wp, b, corr);
                for (int j = 0; j < d; j++) b[j] += corr[j] * inv;

                if (n1 == 0)
                {
                    // Nothing counted with weight yet: the block's statistics replace whatever is here.
                    blockMean.CopyTo(_mean);
                    Array.Clear(_scatter);
                    Array.Clear(_third);
                    FourthMoment = 0;
                    ResetRange();
                }
                else
                {
                    for (int j = 0; j < d; j++) delta[j] = b[j] - mean[j];
                    double f1 = n2 / n; // the counted statistics move by delta*f1
                    // Shift the counted third/fourth moments to the merged mean (uses M before the update).
                    FourthMoment = ShiftHigherMomentsInPlace(_scatter, _third, FourthMoment, n1, delta, -f1, d, work);
                    for (int j = 0; j < d; j++) mean[j] += delta[j] * f1;
                    c = n1 * n2 / n;
                }
                // The block's moments summed directly about the merged mean.
                FourthMoment += BlockKernels.AddCentredMoments(x, k, d, wp, mean, third);
                // Column min and max (rows of weight 0 are not counted), while the block is in cache: O(k d) compares.
                fixed (double* lo = _min, hi = _max) BlockKernels.UpdateColumnRange(x, k, d, wp, lo, hi);
            }
        }
        if (rankK is null) Syrk.AccumulateCentredLower(rows, k, d, blockMean, weights, _scatter);
        else rankK(rows, k, d, blockMean, weights, _scatter);
        BlockKernels.AddToLowerAndMirror(_scatter, d, default, c, delta);
        Weight = n;
        Count += k;
    }

    /// <summary>
    /// A rank-k update lower(M) += sum_r w_r (x_r - c)(x_r - c)^T from raw rows (k x d), centre c and
    /// weights (empty = unit); the strict upper triangle of M is ignored.
    /// </summary>
    internal delegate void CentredRankKUpdate(ReadOnlySpan<double> rows, int k, int d, ReadOnlySpan<double> centre,
        ReadOnlySpan<double> weights, Span<double> lower);

    /// <summary>Scratch of 3d doubles for AddBatch and Merge (block mean, delta, a work vector).</summary>
    private double[]? _work;

    /// <summary>
    /// Adds a block under exponential forgetting: existing statistics are decayed by
    /// factor^rowCount and row i of the block (0-based) gets weight factor^(rowCount - 1 - i), so
    /// that every row ever counted carries weight factor^(rows that arrived after it).
    /// </summary>
    public void AddBatchWithForgetting(ReadOnlySpan<double> rows, int rowCount, double factor)
    {
        if (!(factor > 0 && factor <= 1)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "forgetting factor must be in (0, 1]");
        if (factor == 1) { AddBatch(rows, rowCount); return; }
        if (rowCount == 0) return;
        var w = ArrayPool<double>.Shared.Rent(rowCount);
        try
        {
            double p = 1;
            for (int i = rowCount - 1; i >= 0; i--) { w[i] = p; p *= factor; }
            Decay(p);
            AddBatch(rows, rowCount, w.AsSpan(0, rowCount));
        }
        finally { ArrayPool<double>.Shared.Return(w); }
    }

    /// <summary>Multiplies every weight counted so far by <paramref name="factor"/> (forgetting); the mean is unchanged.</summary>
    public void Decay(double factor)
    {
        if (!(factor >= 0 && factor <= 1)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "decay factor must be in [0, 1]");
        if (factor == 1) return;
        Weight *= factor;
        FourthMoment *= factor;
        for (int i = 0; i < _scatter.Length; i++) _scatter[i] *= factor;
        for (int i = 0; i < _third.Length; i++) _third[i] *= factor;
    }

    /// <summary>Merges <paramref name="other"/> into this (exact; order does not matter up to rounding).</summary>
    public void Merge(SufficientStatistics other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Dimension != Dimension)
            throw new ArgumentException($"cannot merge statistics of dimension {other.Dimension} into dimension {Dimension}", nameof(other));
        if (other.Weight == 0)
        {
            Count += other.Count;
            return;
        }
        if (Weight == 0)
        {
            long counted = Count;
            other._mean.CopyTo(_mean, 0);
            other._scatter.CopyTo(_scatter, 0);
            other._third.CopyTo(_third, 0);
            other._min.CopyTo(_min, 0);
            other._max.CopyTo(_max, 0);
            FourthMoment = other.FourthMoment;
            Weight = other.Weight;
            Count = counted + other.Count;
            return;
        }

        if (ReferenceEquals(other, this)) other = Clone();

        int d = Dimension;
        double n1 = Weight, n2 = other.Weight, n = n1 + n2;
        double f1 = n2 / n, f2 = n1 / n; // shard 1 moves by delta*f1, shard 2 by -delta*f2
        var scratch = _work ??= new double[3 * d];
        var delta = scratch.AsSpan(d, d);
        var work = scratch.AsSpan(2 * d, d);
        var otherThird = scratch.AsSpan(0, d);
        for (int i = 0; i < d; i++) delta[i] = other._mean[i] - _mean[i];

        // Shift the higher moments of both shards to the merged mean (exact identities, see
        // ShiftHigherMomentsInPlace), using each shard's own M before M is combined.
        double q1 = ShiftHigherMomentsInPlace(_scatter, _third, FourthMoment, n1, delta, -f1, d, work);
        other._third.CopyTo(otherThird);
        double q2 = ShiftHigherMomentsInPlace(other._scatter, otherThird, other.FourthMoment, n2, delta, f2, d, work);
        for (int i = 0; i < d; i++) _third[i] += otherThird[i];
        FourthMoment = q1 + q2;

        // M = M1 + M2 + delta delta^T n1 n2 / n: one pass over the lower triangle, mirrored.
        BlockKernels.AddToLowerAndMirror(_scatter, d, other._scatter, n1 * n2 / n, delta);
        for (int i = 0; i < d; i++) _mean[i] += delta[i] * f1;
        for (int i = 0; i < d; i++)
        {
            _min[i] = Math.Min(_min[i], other._min[i]);
            _max[i] = Math.Max(_max[i], other._max[i]);
        }
        Weight = n;
        Count += other.Count;
    }

    /// <summary>Merged copy of two statistics.</summary>
    public static SufficientStatistics operator +(SufficientStatistics a, SufficientStatistics b)
    {
        var r = a.Clone();
        r.Merge(b);
        return r;
    }

    /// <summary>
    /// Moments about a new centre c = xbar - shift * delta (so the centred rows y = z + shift * delta):
    /// with s = shift * delta (y = z + s) and sum w z = 0,
    /// T' = T + 2 M s + s tr(M) + W |s|^2 s and
    /// Q' = Q + 4 s^T M s + W |s|^4 + 4 T.s + 2 |s|^2 tr(M).
    /// <paramref name="t"/> becomes T'; returns Q'. <paramref name="work"/> (d) receives M delta.
    /// </summary>
    private static double ShiftHigherMomentsInPlace(ReadOnlySpan<double> m, Span<double> t, double q, double w,
        ReadOnlySpan<double> delta, double shift, int d, Span<double> work)
    {
        BlockKernels.SymmetricTimes(m, d, delta, work);
        double trace = 0, ss = 0, sms = 0, ts = 0;
        for (int i = 0; i < d; i++) trace += m[i * d + i];
        for (int i = 0; i < d; i++)
        {
            double si = shift * delta[i];
            ss += si * si;
            ts += t[i] * si;
            double ms = shift * work[i];
            sms += si * ms;
            t[i] = t[i] + 2 * ms + si * trace;
        }
        for (int i = 0; i < d; i++) t[i] += w * ss * shift * delta[i];
        return q + 4 * sms + w * ss * ss + 4 * ts + 2 * ss * trace;
    }
}
