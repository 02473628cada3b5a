using System.Buffers;
using MvnStream.Core.Numerics;

namespace MvnStream.Core.Statistics;

/// <summary>
/// Mergeable sufficient statistics of a multivariate normal sample, kept in the stable form of
/// DESIGN §1: the total weight n, the mean xbar (d) and the scatter about the mean
/// M = sum_a w_a (x_a - xbar)(x_a - xbar)^T (d x d, symmetric, row-major).
/// Two further moments about the mean, T = sum_a w_a |z_a|^2 z_a (d) and Q = sum_a w_a |z_a|^4 with
/// z_a = x_a - xbar, are carried so that Ledoit-Wolf shrinkage can be computed from merged
/// statistics alone; they merge exactly too.
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

    /// <summary>Creates empty statistics of dimension <paramref name="dimension"/>.</summary>
    public SufficientStatistics(int dimension)
    {
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be positive");
        Dimension = dimension;
        _mean = new double[dimension];
        _scatter = new double[dimension * dimension];
        _third = new double[dimension];
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

    /// <summary>Q = sum w |z|^4 about the mean.</summary>
    public double FourthMoment { get; private set; }

    /// <summary>True when no weight has been counted.</summary>
    public bool IsEmpty => Weight == 0;

    /// <summary>Rebuilds statistics from their parts (deserialisation, checkpoints).</summary>
    public static SufficientStatistics FromParts(int dimension, long count, double weight,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> scatter, ReadOnlySpan<double> third, double fourth)
    {
        var s = new SufficientStatistics(dimension);
        if (mean.Length != dimension) throw new ArgumentException($"mean has {mean.Length} entries, expected {dimension}", nameof(mean));
        if (scatter.Length != dimension * dimension) throw new ArgumentException($"scatter has {scatter.Length} entries, expected {dimension * dimension}", nameof(scatter));
        if (third.Length != dimension) throw new ArgumentException($"third moment has {third.Length} entries, expected {dimension}", nameof(third));
        if (count < 0 || weight < 0 || double.IsNaN(weight)) throw new ArgumentException("count and weight must be non-negative");
        s.Count = count;
        s.Weight = weight;
        mean.CopyTo(s._mean);
        scatter.CopyTo(s._scatter);
        third.CopyTo(s._third);
        s.FourthMoment = fourth;
        return s;
    }

    /// <summary>A deep copy.</summary>
    public SufficientStatistics Clone() =>
        FromParts(Dimension, Count, Weight, _mean, _scatter, _third, FourthMoment);

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
    public void AddBatch(ReadOnlySpan<double> rows, int rowCount, ReadOnlySpan<double> weights = default)
    {
        int d = Dimension;
        if (rowCount < 0) throw new ArgumentOutOfRangeException(nameof(rowCount));
        if (rows.Length < (long)rowCount * d)
            throw new ArgumentException($"block holds {rows.Length} values, expected {rowCount} x {d}", nameof(rows));
        if (!weights.IsEmpty && weights.Length != rowCount)
            throw new ArgumentException($"{weights.Length} weights for {rowCount} rows", nameof(weights));
        if (rowCount == 0) return;

        // One scratch accumulator per instance: a d = 512 block would otherwise allocate 2 MiB per call.
        var batch = _scratch ??= new SufficientStatistics(d);
        batch.Reset();
        batch.AccumulateBlock(rows[..(rowCount * d)], rowCount, weights);
        Merge(batch);
    }

    private SufficientStatistics? _scratch;

    private void Reset()
    {
        Count = 0;
        Weight = 0;
        FourthMoment = 0;
        Array.Clear(_mean);
        Array.Clear(_scatter);
        Array.Clear(_third);
    }

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
            FourthMoment = other.FourthMoment;
            Weight = other.Weight;
            Count = counted + other.Count;
            return;
        }

        int d = Dimension;
        double n1 = Weight, n2 = other.Weight, n = n1 + n2;
        double f1 = n2 / n, f2 = n1 / n; // shard 1 moves by delta*f1, shard 2 by -delta*f2
        Span<double> delta = d <= 1024 ? stackalloc double[d] : new double[d];
        for (int i = 0; i < d; i++) delta[i] = other._mean[i] - _mean[i];

        // Shift the higher moments of both shards to the merged mean (exact identities, see ShiftMoments),
        // using each shard's own M before M is combined.
        ShiftHigherMoments(_scatter, _third, FourthMoment, n1, delta, -f1, d, out double q1, out var t1);
        ShiftHigherMoments(other._scatter, other._third, other.FourthMoment, n2, delta, f2, d, out double q2, out var t2);
        for (int i = 0; i < d; i++) _third[i] = t1[i] + t2[i];
        FourthMoment = q1 + q2;

        double c = n1 * n2 / n;
        for (int i = 0; i < d; i++)
        {
            var mi = _scatter.AsSpan(i * d, d);
            Syrk.Axpy(1.0, other._scatter.AsSpan(i * d, d), mi);
            Syrk.Axpy(delta[i] * c, delta, mi);
        }
        for (int i = 0; i < d; i++) _mean[i] += delta[i] * f1;
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
    /// </summary>
    private static void ShiftHigherMoments(double[] m, double[] t, double q, double w, ReadOnlySpan<double> delta,
        double shift, int d, out double qOut, out double[] tOut)
    {
        tOut = new double[d];
        double trace = 0, ss = 0, sms = 0, ts = 0;
        for (int i = 0; i < d; i++) trace += m[i * d + i];
        for (int i = 0; i < d; i++)
        {
            double si = shift * delta[i];
            ss += si * si;
            ts += t[i] * si;
            double ms = shift * Dense.Dot(m.AsSpan(i * d, d), delta);
            sms += si * ms;
            tOut[i] = t[i] + 2 * ms + si * trace;
        }
        for (int i = 0; i < d; i++) tOut[i] += w * ss * shift * delta[i];
        qOut = q + 4 * sms + w * ss * ss + 4 * ts + 2 * ss * trace;
    }

    /// <summary>Accumulates a block into these (empty) statistics: weighted mean, centred rank-k update, moments.</summary>
    private void AccumulateBlock(ReadOnlySpan<double> rows, int k, ReadOnlySpan<double> weights)
    {
        int d = Dimension;
        bool weighted = !weights.IsEmpty;
        double wsum = 0;
        if (weighted)
        {
            for (int r = 0; r < k; r++)
            {
                double w = weights[r];
                if (!(w >= 0) || double.IsInfinity(w)) throw new ArgumentException($"weight of row {r} is {w}; weights must be finite and non-negative", nameof(weights));
                wsum += w;
                Syrk.Axpy(w, rows.Slice(r * d, d), _mean);
            }
            if (wsum == 0) { Count = k; return; }
        }
        else
        {
            wsum = k;
            for (int r = 0; r < k; r++) Syrk.Axpy(1.0, rows.Slice(r * d, d), _mean);
        }
        double inv = 1.0 / wsum;
        for (int j = 0; j < d; j++) _mean[j] *= inv;
        // Second pass over the block for the centring correction keeps the mean exact to rounding
        // even when |xbar| >> spread (sum of residuals is ~0 but not exactly).
        Span<double> corr = d <= 1024 ? stackalloc double[d] : new double[d];
        corr.Clear();
        for (int r = 0; r < k; r++)
        {
            double w = weighted ? weights[r] : 1.0;
            AddWeightedResidual(corr, w, rows.Slice(r * d, d), _mean);
        }
        for (int j = 0; j < d; j++) _mean[j] += corr[j] * inv;

        var z = ArrayPool<double>.Shared.Rent(k * d);
        try
        {
            double fourth = 0;
            for (int r = 0; r < k; r++)
            {
                double w = weighted ? weights[r] : 1.0;
                var zr = z.AsSpan(r * d, d);
                double q = CentreAndSquaredNorm(rows.Slice(r * d, d), _mean, zr);
                double wq = w * q;
                fourth += wq * q;
                Syrk.Axpy(wq, zr, _third);
                if (weighted && w != 1.0) Scale(zr, Math.Sqrt(w));
            }
            Syrk.AccumulateLower(z.AsSpan(0, k * d), k, d, _scatter);
            FourthMoment = fourth;
        }
        finally { ArrayPool<double>.Shared.Return(z); }
        MirrorLowerToUpper(_scatter, d);
        Weight = wsum;
        Count = k;

        // Vector256 forms of the per-row loops (all spans of length d). Element by element they do the
        // same IEEE operations as the scalar loops they replace (no fused multiply-add), so the mean,
        // z and the sqrt(w) scaling are bit-for-bit unchanged; only q = |z|^2 is summed in 8
        // interleaved partial sums instead of left to right (a rounding-level difference).
        static void AddWeightedResidual(Span<double> acc, double w, ReadOnlySpan<double> row, ReadOnlySpan<double> mean)
        {
            // acc += w * (row - mean)
            int n = acc.Length, j = 0;
            if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated && n >= 4 && row.Length >= n && mean.Length >= n)
            {
                ref double a = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(acc);
                ref double x = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(row);
                ref double mu = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(mean);
                var vw = System.Runtime.Intrinsics.Vector256.Create(w);
                for (; j <= n - 4; j += 4)
                {
                    var diff = System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref x, (nuint)j) - System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref mu, (nuint)j);
                    System.Runtime.Intrinsics.Vector256.StoreUnsafe(System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref a, (nuint)j) + vw * diff, ref a, (nuint)j);
                }
            }
            for (; j < n; j++) acc[j] += w * (row[j] - mean[j]);
        }

        static double CentreAndSquaredNorm(ReadOnlySpan<double> row, ReadOnlySpan<double> mean, Span<double> z)
        {
            // z = row - mean; returns |z|^2
            int n = z.Length, j = 0;
            double q = 0;
            if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated && n >= 4 && row.Length >= n && mean.Length >= n)
            {
                ref double x = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(row);
                ref double mu = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(mean);
                ref double zz = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(z);
                var s0 = System.Runtime.Intrinsics.Vector256<double>.Zero;
                var s1 = System.Runtime.Intrinsics.Vector256<double>.Zero;
                for (; j <= n - 8; j += 8)
                {
                    var v0 = System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref x, (nuint)j) - System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref mu, (nuint)j);
                    var v1 = System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref x, (nuint)(j + 4)) - System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref mu, (nuint)(j + 4));
                    System.Runtime.Intrinsics.Vector256.StoreUnsafe(v0, ref zz, (nuint)j);
                    System.Runtime.Intrinsics.Vector256.StoreUnsafe(v1, ref zz, (nuint)(j + 4));
                    s0 += v0 * v0;
                    s1 += v1 * v1;
                }
                if (j <= n - 4)
                {
                    var v0 = System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref x, (nuint)j) - System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref mu, (nuint)j);
                    System.Runtime.Intrinsics.Vector256.StoreUnsafe(v0, ref zz, (nuint)j);
                    s0 += v0 * v0;
                    j += 4;
                }
                q = System.Runtime.Intrinsics.Vector256.Sum(s0 + s1);
            }
            for (; j < n; j++)
            {
                double v = row[j] - mean[j];
                z[j] = v;
                q += v * v;
            }
            return q;
        }

        static void Scale(Span<double> z, double factor)
        {
            // z *= factor
            int n = z.Length, j = 0;
            if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated && n >= 4)
            {
                ref double zz = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(z);
                var vf = System.Runtime.Intrinsics.Vector256.Create(factor);
                for (; j <= n - 4; j += 4)
                    System.Runtime.Intrinsics.Vector256.StoreUnsafe(System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref zz, (nuint)j) * vf, ref zz, (nuint)j);
            }
            for (; j < n; j++) z[j] *= factor;
        }
    }

    internal static void MirrorLowerToUpper(Span<double> m, int d)
    {
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++)
                m[i * d + j] = m[j * d + i];
    }
}
