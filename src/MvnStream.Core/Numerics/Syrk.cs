using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MvnStream.Core.Numerics;

/// <summary>
/// Symmetric rank-k update of the lower triangle: M[i, j] += sum_r Z[r, i] Z[r, j] for j &lt;= i,
/// with Z a row-major k x d block and M a row-major d x d matrix. The strict upper triangle of M is
/// not touched. This is the hot loop of statistics accumulation (docs/ARCHITECTURE.md, "The math": accumulate batches as a
/// rank-k update, one triangle).
/// </summary>
/// <remarks>
/// The fast path is a GEMM-style blocked kernel (x64 with FMA and AVX2; AVX-512 when the runtime
/// accelerates Vector512). Z is processed in panels of <see cref="PanelRows"/> rows; each panel is packed
/// into column slivers of <see cref="Nr"/> columns (row r of a sliver = Z[r, j0..j0+8], contiguous,
/// 64-byte aligned, zero-padded past d), so every micro-kernel call streams two contiguous slivers.
/// The micro-kernel keeps an 8 x 8 tile of M in registers (eight 8-wide accumulators) and, for each
/// row r, adds Z[r, i] * Z[r, j0..j0+8] for the tile's eight i. Only tiles on or below the diagonal
/// are computed; diagonal and edge tiles go through a scratch tile of which only the lower/valid part
/// is added, so the strict upper triangle is never written. Elsewhere (no FMA, not x64, tiny
/// problems) the reference kernel is used. Results agree with the reference kernel to rounding (the
/// summation order differs).
/// </remarks>
internal static class Syrk
{
    /// <summary>Width of a packed column sliver and of a micro-tile.</summary>
    private const int Nr = 8;

    /// <summary>Rows of Z per packed panel (the k-blocking).</summary>
    private const int PanelRows = 256;

    /// <summary>Upper bound on a packed panel, in doubles (4 MiB); PanelRows shrinks for very large d.</summary>
    private const int MaxPanelDoubles = 1 << 19;

    /// <summary>Column slivers per column block (the j-blocking): 32 slivers x 256 rows x 8 = 512 KiB, half of L2.</summary>
    private const int ColumnBlockSlivers = 32;

    /// <summary>Per-thread pinned packing buffer (panel + scratch tile), reused across calls.</summary>
    [ThreadStatic] private static double[]? t_buffer;

    /// <summary>Accumulates Z^T Z (lower triangle) into <paramref name="m"/>.</summary>
    /// <param name="z">k x d row-major block.</param>
    /// <param name="k">Rows in the block.</param>
    /// <param name="d">Columns (dimension).</param>
    /// <param name="m">d x d row-major accumulator; only i &gt;= j entries are updated.</param>
    public static void AccumulateLower(ReadOnlySpan<double> z, int k, int d, Span<double> m)
    {
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), k, "row count must be non-negative");
        if (d < 0) throw new ArgumentOutOfRangeException(nameof(d), d, "dimension must be non-negative");
        if (z.Length < (long)k * d) throw new ArgumentException("block shorter than k*d", nameof(z));
        if (m.Length < (long)d * d) throw new ArgumentException("accumulator shorter than d*d", nameof(m));
        if (k == 0 || d == 0) return;
        // Rank-1/2/3 updates and d < 4 gain nothing from packing and 8 x 8 tiles.
        if (!Fma.IsSupported || !Vector256.IsHardwareAccelerated || k < 4 || d < 4)
        {
            AccumulateLowerReference(z, k, d, m);
            return;
        }
        unsafe { AccumulateLowerBlocked(z, k, d, m, null, null); }
    }

    /// <summary>
    /// Accumulates sum_r w_r (x_r - c)(x_r - c)^T (lower triangle) into <paramref name="m"/> straight
    /// from the raw rows: the centring (and the sqrt(w_r) scaling) happens while a panel is packed, so
    /// no centred copy of the block is written. Element by element the packed values are exactly
    /// (x - c) * sqrt(w) (sqrt(w) only when weights are given), as a separate centring pass would make them.
    /// </summary>
    /// <param name="rows">k x d row-major raw rows.</param>
    /// <param name="k">Rows in the block.</param>
    /// <param name="d">Columns (dimension).</param>
    /// <param name="centre">c, length d.</param>
    /// <param name="weights">Per-row weights w_r &gt;= 0, or empty for unit weights.</param>
    /// <param name="m">d x d row-major accumulator; only i &gt;= j entries are updated.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot read path, optimised at once (docs/ARCHITECTURE.md, "Fitting a file")
    public static unsafe void AccumulateCentredLower(ReadOnlySpan<double> rows, int k, int d, ReadOnlySpan<double> centre,
        ReadOnlySpan<double> weights, Span<double> m)
    {
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), k, "row count must be non-negative");
        if (d < 0) throw new ArgumentOutOfRangeException(nameof(d), d, "dimension must be non-negative");
        if (rows.Length < (long)k * d) throw new ArgumentException("block shorter than k*d", nameof(rows));
        if (centre.Length < d) throw new ArgumentException("centre shorter than d", nameof(centre));
        if (!weights.IsEmpty && weights.Length < k) throw new ArgumentException("fewer weights than rows", nameof(weights));
        if (m.Length < (long)d * d) throw new ArgumentException("accumulator shorter than d*d", nameof(m));
        if (k == 0 || d == 0) return;
        if (!Fma.IsSupported || !Vector256.IsHardwareAccelerated || k < 4 || d < 4)
        {
            AccumulateCentredLowerReference(rows, k, d, centre, weights, m);
            return;
        }
        fixed (double* c = centre, w = weights)
            AccumulateLowerBlocked(rows, k, d, m, c, weights.IsEmpty ? null : w);
    }

    /// <param name="centre">Subtracted from every row while packing, or null for none.</param>
    /// <param name="weights">Row r is scaled by sqrt(weights[r]) while packing, or null for unit weights.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void AccumulateLowerBlocked(ReadOnlySpan<double> z, int k, int d, Span<double> m, double* centre, double* weights)
    {
        int slivers = (d + Nr - 1) / Nr;
        int panelRows = Math.Clamp(MaxPanelDoubles / (slivers * Nr), 32, PanelRows);
        int kcMax = Math.Min(k, panelRows);
        int packLen = slivers * Nr * kcMax;
        int need = packLen + Nr * Nr + 8; // panel, scratch tile, alignment slack
        var buffer = t_buffer;
        if (buffer is null || buffer.Length < need)
        {
            buffer = GC.AllocateUninitializedArray<double>(Math.Max(need, 4096), pinned: true);
            // Keep at most one panel of the usual size per thread; huge d gets a one-off buffer.
            if (need <= MaxPanelDoubles + 4096) t_buffer = buffer;
        }

        fixed (double* zp = z, mp = m, bp = buffer)
        {
            double* pack = (double*)(((nuint)bp + 63) & ~(nuint)63);
            double* tile = pack + packLen;
            for (int r0 = 0; r0 < k; r0 += panelRows)
            {
                int kc = Math.Min(panelRows, k - r0);
                nint sliverLen = (nint)kc * Nr;
                Pack(zp + (nint)r0 * d, kc, d, pack, centre, weights == null ? null : weights + r0);
                for (int jc = 0; jc < slivers; jc += ColumnBlockSlivers)
                {
                    for (int bi = jc; bi < slivers; bi++)
                    {
                        double* a = pack + bi * sliverLen;
                        int i0 = bi * Nr;
                        bool fullRows = i0 + Nr <= d;
                        int bjEnd = Math.Min(bi, jc + ColumnBlockSlivers - 1);
                        for (int bj = jc; bj <= bjEnd; bj++)
                        {
                            double* b = pack + bj * sliverLen;
                            int j0 = bj * Nr;
                            if (bj < bi && fullRows)
                            {
                                // Interior tile: all 8 x 8 entries are valid and strictly below the diagonal.
                                MicroKernel(a, b, kc, mp + (nint)i0 * d + j0, d);
                                continue;
                            }
                            // Diagonal or bottom-edge tile: compute into scratch, add only the valid lower part.
                            new Span<double>(tile, Nr * Nr).Clear();
                            MicroKernel(a, b, kc, tile, Nr);
                            int iCount = Math.Min(Nr, d - i0);
                            for (int ii = 0; ii < iCount; ii++)
                            {
                                int jCount = bj == bi ? ii + 1 : Nr;
                                double* mRow = mp + (nint)(i0 + ii) * d + j0;
                                double* tRow = tile + ii * Nr;
                                for (int jj = 0; jj < jCount; jj++) mRow[jj] += tRow[jj];
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Packs kc rows of Z (row stride d) into column slivers: sliver s holds, for each row r, the 8
    /// values Z[r, 8s..8s+8] at pack[s * kc * 8 + r * 8], zero-padded past column d. With a centre c the
    /// packed values are Z[r, j] - c[j]; with weights they are then multiplied by sqrt(weights[r]).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot read path, optimised at once (docs/ARCHITECTURE.md, "Fitting a file")
    private static unsafe void Pack(double* z, int kc, int d, double* pack, double* centre, double* weights)
    {
        if (centre == null && weights == null) { PackPlain(z, kc, d, pack); return; }
        int full = d / Nr;
        int rem = d - full * Nr;
        nint sliverLen = (nint)kc * Nr;
        for (int r = 0; r < kc; r++)
        {
            double* src = z + (nint)r * d;
            double* dst = pack + (nint)r * Nr;
            bool scale = weights != null;
            double f = scale ? Math.Sqrt(weights[r]) : 1.0;
            for (int s = 0; s < full; s++)
            {
                double* from = src + s * Nr;
                double* c = centre + s * Nr;
                double* to = dst + s * sliverLen;
                if (Vector512.IsHardwareAccelerated)
                {
                    var v = centre == null ? Vector512.Load(from) : Vector512.Load(from) - Vector512.Load(c);
                    if (scale) v *= f;
                    Vector512.Store(v, to);
                }
                else
                {
                    var lo = centre == null ? Vector256.Load(from) : Vector256.Load(from) - Vector256.Load(c);
                    var hi = centre == null ? Vector256.Load(from + 4) : Vector256.Load(from + 4) - Vector256.Load(c + 4);
                    if (scale) { lo *= f; hi *= f; }
                    Vector256.Store(lo, to);
                    Vector256.Store(hi, to + 4);
                }
            }
            if (rem != 0)
            {
                double* from = src + full * Nr;
                double* c = centre + full * Nr;
                double* to = dst + full * sliverLen;
                int j = 0;
                for (; j < rem; j++)
                {
                    double v = centre == null ? from[j] : from[j] - c[j];
                    to[j] = scale ? v * f : v;
                }
                for (; j < Nr; j++) to[j] = 0;
            }
        }
    }

    private static unsafe void PackPlain(double* z, int kc, int d, double* pack)
    {
        int full = d / Nr;
        int rem = d - full * Nr;
        nint sliverLen = (nint)kc * Nr;
        for (int r = 0; r < kc; r++)
        {
            double* src = z + (nint)r * d;
            double* dst = pack + (nint)r * Nr;
            for (int s = 0; s < full; s++)
            {
                double* from = src + s * Nr;
                double* to = dst + s * sliverLen;
                if (Vector512.IsHardwareAccelerated)
                {
                    Vector512.Store(Vector512.Load(from), to);
                }
                else
                {
                    Vector256.Store(Vector256.Load(from), to);
                    Vector256.Store(Vector256.Load(from + 4), to + 4);
                }
            }
            if (rem != 0)
            {
                double* from = src + full * Nr;
                double* to = dst + full * sliverLen;
                int j = 0;
                for (; j < rem; j++) to[j] = from[j];
                for (; j < Nr; j++) to[j] = 0;
            }
        }
    }

    /// <summary>C[0..8, 0..8] (row stride ldc) += sum_r a[r*8 + i] * b[r*8 + j] over kc rows of two packed slivers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void MicroKernel(double* a, double* b, int kc, double* c, nint ldc)
    {
        if (Vector512.IsHardwareAccelerated) MicroKernel512(a, b, kc, c, ldc);
        else MicroKernel256(a, b, kc, c, ldc);
    }

    /// <summary>8 x 8 tile with eight Vector512 accumulators (one per row i of the tile).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroKernel512(double* a, double* b, int kc, double* c, nint ldc)
    {
        Vector512<double> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<double> c4 = default, c5 = default, c6 = default, c7 = default;
        for (int r = 0; r < kc; r++)
        {
            var bv = Vector512.Load(b);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), bv, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a[1]), bv, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2]), bv, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3]), bv, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4]), bv, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5]), bv, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6]), bv, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7]), bv, c7);
            a += Nr;
            b += Nr;
        }
        Vector512.Store(Vector512.Load(c) + c0, c); c += ldc;
        Vector512.Store(Vector512.Load(c) + c1, c); c += ldc;
        Vector512.Store(Vector512.Load(c) + c2, c); c += ldc;
        Vector512.Store(Vector512.Load(c) + c3, c); c += ldc;
        Vector512.Store(Vector512.Load(c) + c4, c); c += ldc;
        Vector512.Store(Vector512.Load(c) + c5, c); c += ldc;
        Vector512.Store(Vector512.Load(c) + c6, c); c += ldc;
        Vector512.Store(Vector512.Load(c) + c7, c);
    }

    /// <summary>8 x 8 tile as two 4 x 8 halves, eight Vector256 accumulators each (fits the 16 AVX2 registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroKernel256(double* a, double* b, int kc, double* c, nint ldc)
    {
        for (int h = 0; h < 2; h++)
        {
            Vector256<double> c0l = default, c0h = default, c1l = default, c1h = default;
            Vector256<double> c2l = default, c2h = default, c3l = default, c3h = default;
            double* ap = a + h * 4;
            double* bp = b;
            for (int r = 0; r < kc; r++)
            {
                var bl = Vector256.Load(bp);
                var bh = Vector256.Load(bp + 4);
                var x = Vector256.Create(ap[0]);
                c0l = Fma.MultiplyAdd(x, bl, c0l); c0h = Fma.MultiplyAdd(x, bh, c0h);
                x = Vector256.Create(ap[1]);
                c1l = Fma.MultiplyAdd(x, bl, c1l); c1h = Fma.MultiplyAdd(x, bh, c1h);
                x = Vector256.Create(ap[2]);
                c2l = Fma.MultiplyAdd(x, bl, c2l); c2h = Fma.MultiplyAdd(x, bh, c2h);
                x = Vector256.Create(ap[3]);
                c3l = Fma.MultiplyAdd(x, bl, c3l); c3h = Fma.MultiplyAdd(x, bh, c3h);
                ap += Nr;
                bp += Nr;
            }
            double* cp = c + h * 4 * ldc;
            Vector256.Store(Vector256.Load(cp) + c0l, cp); Vector256.Store(Vector256.Load(cp + 4) + c0h, cp + 4); cp += ldc;
            Vector256.Store(Vector256.Load(cp) + c1l, cp); Vector256.Store(Vector256.Load(cp + 4) + c1h, cp + 4); cp += ldc;
            Vector256.Store(Vector256.Load(cp) + c2l, cp); Vector256.Store(Vector256.Load(cp + 4) + c2h, cp + 4); cp += ldc;
            Vector256.Store(Vector256.Load(cp) + c3l, cp); Vector256.Store(Vector256.Load(cp + 4) + c3h, cp + 4);
        }
    }

    /// <summary>Straightforward reference kernel: row by row, lower triangle, vectorised inner loop.</summary>
    internal static void AccumulateLowerReference(ReadOnlySpan<double> z, int k, int d, Span<double> m)
    {
        for (int r = 0; r < k; r++)
        {
            var row = z.Slice(r * d, d);
            for (int i = 0; i < d; i++)
            {
                double zi = row[i];
                if (zi == 0) continue;
                var mi = m.Slice(i * d, i + 1);
                Axpy(zi, row[..(i + 1)], mi);
            }
        }
    }

    /// <summary>Reference form of <see cref="AccumulateCentredLower"/>: centre (and scale) one row at a time, then the reference update.</summary>
    internal static void AccumulateCentredLowerReference(ReadOnlySpan<double> rows, int k, int d, ReadOnlySpan<double> centre,
        ReadOnlySpan<double> weights, Span<double> m)
    {
        Span<double> z = d <= 512 ? stackalloc double[d] : new double[d];
        for (int r = 0; r < k; r++)
        {
            var x = rows.Slice(r * d, d);
            double f = weights.IsEmpty ? 1.0 : Math.Sqrt(weights[r]);
            for (int j = 0; j < d; j++)
            {
                double v = x[j] - centre[j];
                z[j] = weights.IsEmpty ? v : v * f;
            }
            AccumulateLowerReference(z, 1, d, m);
        }
    }

    /// <summary>y += a x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Axpy(double a, ReadOnlySpan<double> x, Span<double> y)
    {
        int n = x.Length;
        int i = 0;
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        if (Vector256.IsHardwareAccelerated && n >= 4)
        {
            var va = Vector256.Create(a);
            for (; i <= n - 4; i += 4)
            {
                var vy = Vector256.LoadUnsafe(ref yr, (nuint)i);
                var vx = Vector256.LoadUnsafe(ref xr, (nuint)i);
                (vy + va * vx).StoreUnsafe(ref yr, (nuint)i);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref yr, i) += a * Unsafe.Add(ref xr, i);
    }
}
