using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MvnStream.Core.Statistics;

/// <summary>
/// The O(k d) and O(d^2) passes of <see cref="SufficientStatistics.AddBatch"/> around the rank-k kernel:
/// weighted column sums, the third and fourth moments about a centre, the symmetric matrix-vector
/// product of the moment shift, and the rank-1 merge term fused with mirroring the lower triangle.
/// Rows are k x d row-major; weights are per row (null = unit weights).
/// </summary>
/// <remarks>
/// The row passes take four rows (two for the moments) per step and keep Vector256 partial sums, so the
/// per-row cost at small d is a few instructions rather than a call and a store-to-load dependency per
/// row. Summation order therefore differs from a row-by-row loop: results agree to rounding.
/// </remarks>
internal static unsafe class BlockKernels
{
    /// <summary>
    /// lo[j] = min(lo[j], x[r, j]) and hi[j] = max(hi[j], x[r, j]) over the rows r of positive weight (<paramref name="w"/>
    /// null: every row). The values are finite (rows are validated before they are counted), so the native min/max
    /// instructions are exact here; -0.0 and 0.0 compare equal, as they should for "every value is equal".
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void UpdateColumnRange(double* x, int k, int d, double* w, double* lo, double* hi)
    {
        if (w != null)
        {
            // Weighted blocks (forgetting) are not the hot path: row by row, skipping rows that carry no weight.
            for (int r = 0; r < k; r++)
                if (w[r] > 0) UpdateColumnRange(x + (nint)r * d, 1, d, null, lo, hi);
            return;
        }
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j + 8 <= d; j += 8)
            {
                // Four rows per step, each its own chain, so the loop is bound by throughput, not by min/max latency.
                var mn0 = Vector512.Load(lo + j);
                var mx0 = Vector512.Load(hi + j);
                var mn1 = mn0;
                var mx1 = mx0;
                double* p = x + j;
                int r = 0;
                for (; r + 4 <= k; r += 4, p += 4 * (nint)d)
                {
                    var v0 = Vector512.Load(p);
                    var v1 = Vector512.Load(p + d);
                    var v2 = Vector512.Load(p + 2 * (nint)d);
                    var v3 = Vector512.Load(p + 3 * (nint)d);
                    mn0 = Vector512.MinNative(mn0, Vector512.MinNative(v0, v1));
                    mx0 = Vector512.MaxNative(mx0, Vector512.MaxNative(v0, v1));
                    mn1 = Vector512.MinNative(mn1, Vector512.MinNative(v2, v3));
                    mx1 = Vector512.MaxNative(mx1, Vector512.MaxNative(v2, v3));
                }
                for (; r < k; r++, p += d)
                {
                    var v = Vector512.Load(p);
                    mn0 = Vector512.MinNative(mn0, v);
                    mx0 = Vector512.MaxNative(mx0, v);
                }
                Vector512.MinNative(mn0, mn1).Store(lo + j);
                Vector512.MaxNative(mx0, mx1).Store(hi + j);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j + 4 <= d; j += 4)
            {
                // Four rows per step, each its own chain, so the loop is bound by throughput, not by min/max latency.
                var mn0 = Vector256.Load(lo + j);
                var mx0 = Vector256.Load(hi + j);
                var mn1 = mn0;
                var mx1 = mx0;
                double* p = x + j;
                int r = 0;
                for (; r + 4 <= k; r += 4, p += 4 * (nint)d)
                {
                    var v0 = Vector256.Load(p);
                    var v1 = Vector256.Load(p + d);
                    var v2 = Vector256.Load(p + 2 * (nint)d);
                    var v3 = Vector256.Load(p + 3 * (nint)d);
                    mn0 = Vector256.MinNative(mn0, Vector256.MinNative(v0, v1));
                    mx0 = Vector256.MaxNative(mx0, Vector256.MaxNative(v0, v1));
                    mn1 = Vector256.MinNative(mn1, Vector256.MinNative(v2, v3));
                    mx1 = Vector256.MaxNative(mx1, Vector256.MaxNative(v2, v3));
                }
                for (; r < k; r++, p += d)
                {
                    var v = Vector256.Load(p);
                    mn0 = Vector256.MinNative(mn0, v);
                    mx0 = Vector256.MaxNative(mx0, v);
                }
                Vector256.MinNative(mn0, mn1).Store(lo + j);
                Vector256.MaxNative(mx0, mx1).Store(hi + j);
            }
        }
        for (; j < d; j++)
        {
            double mn = lo[j], mx = hi[j];
            for (int r = 0; r < k; r++)
            {
                double v = x[(nint)r * d + j];
                if (v < mn) mn = v;
                if (v > mx) mx = v;
            }
            lo[j] = mn;
            hi[j] = mx;
        }
    }

    /// <summary>acc[j] += sum_r w_r (x[r, j] - c[j]); <paramref name="c"/> null means c = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddColumnSums(double* x, int k, int d, double* w, double* c, double* acc)
    {
        int r = 0;
        for (; r + 4 <= k; r += 4)
        {
            double* x0 = x + (nint)r * d, x1 = x0 + d, x2 = x1 + d, x3 = x2 + d;
            double w0 = 1, w1 = 1, w2 = 1, w3 = 1;
            if (w != null) { w0 = w[r]; w1 = w[r + 1]; w2 = w[r + 2]; w3 = w[r + 3]; }
            int j = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; j + 8 <= d; j += 8)
                {
                    var a0 = Vector512.Load(x0 + j);
                    var a1 = Vector512.Load(x1 + j);
                    var a2 = Vector512.Load(x2 + j);
                    var a3 = Vector512.Load(x3 + j);
                    if (c != null)
                    {
                        var cv = Vector512.Load(c + j);
                        a0 -= cv; a1 -= cv; a2 -= cv; a3 -= cv;
                    }
                    if (w != null) { a0 *= w0; a1 *= w1; a2 *= w2; a3 *= w3; }
                    Vector512.Store(Vector512.Load(acc + j) + ((a0 + a1) + (a2 + a3)), acc + j);
                }
            }
            if (Vector256.IsHardwareAccelerated)
            {
                for (; j + 4 <= d; j += 4)
                {
                    var a0 = Vector256.Load(x0 + j);
                    var a1 = Vector256.Load(x1 + j);
                    var a2 = Vector256.Load(x2 + j);
                    var a3 = Vector256.Load(x3 + j);
                    if (c != null)
                    {
                        var cv = Vector256.Load(c + j);
                        a0 -= cv; a1 -= cv; a2 -= cv; a3 -= cv;
                    }
                    if (w != null) { a0 *= w0; a1 *= w1; a2 *= w2; a3 *= w3; }
                    Vector256.Store(Vector256.Load(acc + j) + ((a0 + a1) + (a2 + a3)), acc + j);
                }
            }
            for (; j < d; j++)
            {
                double cj = c == null ? 0 : c[j];
                double a0 = x0[j] - cj, a1 = x1[j] - cj, a2 = x2[j] - cj, a3 = x3[j] - cj;
                if (w != null) { a0 *= w0; a1 *= w1; a2 *= w2; a3 *= w3; }
                acc[j] += (a0 + a1) + (a2 + a3);
            }
        }
        for (; r < k; r++)
        {
            double* xr = x + (nint)r * d;
            double wr = w == null ? 1 : w[r];
            for (int j = 0; j < d; j++)
            {
                double a = xr[j] - (c == null ? 0 : c[j]);
                acc[j] += w == null ? a : wr * a;
            }
        }
    }

    /// <summary>
    /// With y_r = x_r - c: third[j] += sum_r w_r |y_r|^2 y_r[j]; returns sum_r w_r |y_r|^4.
    /// </summary>
    /// <remarks>
    /// Four rows per step: their four |y|^2 are reduced together (one horizontal add for four rows), and
    /// third is loaded and stored once per four rows.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double AddCentredMoments(double* x, int k, int d, double* w, double* c, double* third)
    {
        double fourth = 0;
        int r = 0;
        if (Avx.IsSupported && d >= 4)
        {
            var f4 = Vector256<double>.Zero;
            for (; r + 4 <= k; r += 4)
            {
                double* x0 = x + (nint)r * d, x1 = x0 + d, x2 = x1 + d, x3 = x2 + d;
                var s0 = Vector256<double>.Zero;
                var s1 = Vector256<double>.Zero;
                var s2 = Vector256<double>.Zero;
                var s3 = Vector256<double>.Zero;
                int j = 0;
                if (Vector512.IsHardwareAccelerated && d >= 8)
                {
                    var u0 = Vector512<double>.Zero;
                    var u1 = Vector512<double>.Zero;
                    var u2 = Vector512<double>.Zero;
                    var u3 = Vector512<double>.Zero;
                    for (; j + 8 <= d; j += 8)
                    {
                        var cv = Vector512.Load(c + j);
                        var y0 = Vector512.Load(x0 + j) - cv;
                        var y1 = Vector512.Load(x1 + j) - cv;
                        var y2 = Vector512.Load(x2 + j) - cv;
                        var y3 = Vector512.Load(x3 + j) - cv;
                        u0 = Vector512.FusedMultiplyAdd(y0, y0, u0);
                        u1 = Vector512.FusedMultiplyAdd(y1, y1, u1);
                        u2 = Vector512.FusedMultiplyAdd(y2, y2, u2);
                        u3 = Vector512.FusedMultiplyAdd(y3, y3, u3);
                    }
                    s0 = u0.GetLower() + u0.GetUpper();
                    s1 = u1.GetLower() + u1.GetUpper();
                    s2 = u2.GetLower() + u2.GetUpper();
                    s3 = u3.GetLower() + u3.GetUpper();
                }
                for (; j + 4 <= d; j += 4)
                {
                    var cv = Vector256.Load(c + j);
                    var y0 = Vector256.Load(x0 + j) - cv;
                    var y1 = Vector256.Load(x1 + j) - cv;
                    var y2 = Vector256.Load(x2 + j) - cv;
                    var y3 = Vector256.Load(x3 + j) - cv;
                    s0 = MulAdd(y0, y0, s0);
                    s1 = MulAdd(y1, y1, s1);
                    s2 = MulAdd(y2, y2, s2);
                    s3 = MulAdd(y3, y3, s3);
                }
                // [q0, q1, q2, q3] from the four partial-sum vectors.
                var h01 = Avx.HorizontalAdd(s0, s1);
                var h23 = Avx.HorizontalAdd(s2, s3);
                var q = Avx.Permute2x128(h01, h23, 0x20) + Avx.Permute2x128(h01, h23, 0x31);
                for (int jt = j; jt < d; jt++)
                {
                    double cj = c[jt];
                    double y0 = x0[jt] - cj, y1 = x1[jt] - cj, y2 = x2[jt] - cj, y3 = x3[jt] - cj;
                    q += Vector256.Create(y0 * y0, y1 * y1, y2 * y2, y3 * y3);
                }
                var a = w == null ? q : q * Vector256.Load(w + r);
                f4 = MulAdd(a, q, f4);

                var a0 = Vector256.Create(a.GetElement(0));
                var a1 = Vector256.Create(a.GetElement(1));
                var a2 = Vector256.Create(a.GetElement(2));
                var a3 = Vector256.Create(a.GetElement(3));
                j = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    var b0 = Vector512.Create(a.GetElement(0));
                    var b1 = Vector512.Create(a.GetElement(1));
                    var b2 = Vector512.Create(a.GetElement(2));
                    var b3 = Vector512.Create(a.GetElement(3));
                    for (; j + 8 <= d; j += 8)
                    {
                        var cv = Vector512.Load(c + j);
                        var t = Vector512.FusedMultiplyAdd(b0, Vector512.Load(x0 + j) - cv, Vector512.FusedMultiplyAdd(b1, Vector512.Load(x1 + j) - cv,
                            Vector512.FusedMultiplyAdd(b2, Vector512.Load(x2 + j) - cv, b3 * (Vector512.Load(x3 + j) - cv))));
                        Vector512.Store(Vector512.Load(third + j) + t, third + j);
                    }
                }
                for (; j + 4 <= d; j += 4)
                {
                    var cv = Vector256.Load(c + j);
                    var t = MulAdd(a0, Vector256.Load(x0 + j) - cv, MulAdd(a1, Vector256.Load(x1 + j) - cv,
                        MulAdd(a2, Vector256.Load(x2 + j) - cv, a3 * (Vector256.Load(x3 + j) - cv))));
                    Vector256.Store(Vector256.Load(third + j) + t, third + j);
                }
                for (; j < d; j++)
                {
                    double cj = c[j];
                    third[j] += a.GetElement(0) * (x0[j] - cj) + a.GetElement(1) * (x1[j] - cj)
                        + a.GetElement(2) * (x2[j] - cj) + a.GetElement(3) * (x3[j] - cj);
                }
            }
            fourth = Vector256.Sum(f4);
        }
        for (; r < k; r++)
        {
            double* xr = x + (nint)r * d;
            double q = SquaredDistance(xr, c, d);
            double a = w == null ? q : w[r] * q;
            fourth += a * q;
            for (int j = 0; j < d; j++) third[j] += a * (xr[j] - c[j]);
        }
        return fourth;
    }

    /// <summary>a * b + c, fused where the hardware has FMA (a rounding-level difference).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> MulAdd(Vector256<double> a, Vector256<double> b, Vector256<double> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;

    /// <summary>|x - c|^2 over d entries (two interleaved Vector256 partial sums).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double SquaredDistance(double* x, double* c, int d)
    {
        int j = 0;
        double q = 0;
        if (Vector256.IsHardwareAccelerated && d >= 4)
        {
            var s0 = Vector256<double>.Zero;
            var s1 = Vector256<double>.Zero;
            for (; j + 8 <= d; j += 8)
            {
                var v0 = Vector256.Load(x + j) - Vector256.Load(c + j);
                var v1 = Vector256.Load(x + j + 4) - Vector256.Load(c + j + 4);
                s0 += v0 * v0;
                s1 += v1 * v1;
            }
            if (j + 4 <= d)
            {
                var v0 = Vector256.Load(x + j) - Vector256.Load(c + j);
                s0 += v0 * v0;
                j += 4;
            }
            q = Vector256.Sum(s0 + s1);
        }
        for (; j < d; j++)
        {
            double v = x[j] - c[j];
            q += v * v;
        }
        return q;
    }

    /// <summary>y = M v for symmetric M (d x d row-major, both triangles valid).</summary>
    public static void SymmetricTimes(ReadOnlySpan<double> m, int d, ReadOnlySpan<double> v, Span<double> y)
    {
        for (int i = 0; i < d; i++) y[i] = Numerics.Dense.Dot(m.Slice(i * d, d), v);
    }

    /// <summary>
    /// For j &lt;= i: M[i, j] = M[i, j] + O[i, j] + (delta_i c) delta_j (O omitted when empty; the rank-1
    /// term omitted when c == 0), then M[j, i] = M[i, j], so M leaves exactly symmetric. Works on 4 x 4
    /// blocks: the four rows of a block below the diagonal are updated as vectors, transposed in
    /// registers and stored as four rows of the upper triangle.
    /// </summary>
    public static void AddToLowerAndMirror(Span<double> m, int d, ReadOnlySpan<double> other, double c, ReadOnlySpan<double> delta)
    {
        if (m.Length < d * d || (!other.IsEmpty && other.Length < d * d) || (c != 0 && delta.Length < d))
            throw new ArgumentException("matrix or vector shorter than the dimension");
        bool hasOther = !other.IsEmpty;
        bool rankOne = c != 0;
        fixed (double* mp = m, op = other, dp = delta)
        {
            // Whole 4 x 4 blocks (rows and columns below d4), in tiles of Tile x Tile so that the
            // transposed stores into the upper triangle stay in cache.
            const int Tile = 16;
            int d4 = Avx.IsSupported ? d & ~3 : 0;
            for (int ti = 0; ti < d4; ti += Tile)
            for (int tj = 0; tj <= ti; tj += Tile)
            {
                for (int i0 = ti; i0 < Math.Min(ti + Tile, d4); i0 += 4)
                {
                    double* m0 = mp + (nint)i0 * d, m1 = m0 + d, m2 = m1 + d, m3 = m2 + d;
                    double* o0 = op + (nint)i0 * d, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
                    var c0 = Vector256.Create(rankOne ? dp[i0] * c : 0);
                    var c1 = Vector256.Create(rankOne ? dp[i0 + 1] * c : 0);
                    var c2 = Vector256.Create(rankOne ? dp[i0 + 2] * c : 0);
                    var c3 = Vector256.Create(rankOne ? dp[i0 + 3] * c : 0);
                    int jEnd = Math.Min(tj + Tile, i0);
                    for (int j0 = tj; j0 < jEnd; j0 += 4)
                    {
                        var r0 = Vector256.Load(m0 + j0);
                        var r1 = Vector256.Load(m1 + j0);
                        var r2 = Vector256.Load(m2 + j0);
                        var r3 = Vector256.Load(m3 + j0);
                        if (hasOther)
                        {
                            r0 += Vector256.Load(o0 + j0);
                            r1 += Vector256.Load(o1 + j0);
                            r2 += Vector256.Load(o2 + j0);
                            r3 += Vector256.Load(o3 + j0);
                        }
                        if (rankOne)
                        {
                            var dv = Vector256.Load(dp + j0);
                            r0 += c0 * dv; r1 += c1 * dv; r2 += c2 * dv; r3 += c3 * dv;
                        }
                        Vector256.Store(r0, m0 + j0);
                        Vector256.Store(r1, m1 + j0);
                        Vector256.Store(r2, m2 + j0);
                        Vector256.Store(r3, m3 + j0);
                        // 4 x 4 transpose: column t of the block becomes row j0 + t of the upper triangle.
                        var l01 = Avx.UnpackLow(r0, r1);   // r0[0] r1[0] r0[2] r1[2]
                        var h01 = Avx.UnpackHigh(r0, r1);  // r0[1] r1[1] r0[3] r1[3]
                        var l23 = Avx.UnpackLow(r2, r3);
                        var h23 = Avx.UnpackHigh(r2, r3);
                        Vector256.Store(Avx.Permute2x128(l01, l23, 0x20), mp + (nint)j0 * d + i0);
                        Vector256.Store(Avx.Permute2x128(h01, h23, 0x20), mp + (nint)(j0 + 1) * d + i0);
                        Vector256.Store(Avx.Permute2x128(l01, l23, 0x31), mp + (nint)(j0 + 2) * d + i0);
                        Vector256.Store(Avx.Permute2x128(h01, h23, 0x31), mp + (nint)(j0 + 3) * d + i0);
                    }
                    // The 4 x 4 diagonal block (in the diagonal tile), element by element.
                    if (tj == ti)
                        for (int i = i0; i < i0 + 4; i++) UpdateAndMirrorRow(mp, op, dp, d, i, i0, i + 1, hasOther, rankOne, c);
                }
            }
            // Rows past d4 (d not a multiple of 4, or no AVX), element by element.
            for (int i = d4; i < d; i++) UpdateAndMirrorRow(mp, op, dp, d, i, 0, i + 1, hasOther, rankOne, c);
        }
    }

    private static void UpdateAndMirrorRow(double* mp, double* op, double* dp, int d, int i, int jFrom, int jTo,
        bool hasOther, bool rankOne, double c)
    {
        double* mi = mp + (nint)i * d;
        double* oi = op + (nint)i * d;
        double dic = rankOne ? dp[i] * c : 0;
        for (int j = jFrom; j < jTo; j++)
        {
            double v = mi[j];
            if (hasOther) v += oi[j];
            if (rankOne) v += dic * dp[j];
            mi[j] = v;
            mp[(nint)j * d + i] = v;
        }
    }
}
