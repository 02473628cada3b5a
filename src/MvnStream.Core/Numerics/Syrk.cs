using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MvnStream.Core.Numerics;

/// <summary>
/// Symmetric rank-k update of the lower triangle: M[i, j] += sum_r Z[r, i] Z[r, j] for j &lt;= i,
/// with Z a row-major k x d block and M a row-major d x d matrix. The strict upper triangle of M is
/// not touched. This is the hot loop of statistics accumulation (DESIGN §1: accumulate batches as a
/// rank-k update, one triangle).
/// </summary>
internal static class Syrk
{
    /// <summary>Accumulates Z^T Z (lower triangle) into <paramref name="m"/>.</summary>
    /// <param name="z">k x d row-major block.</param>
    /// <param name="k">Rows in the block.</param>
    /// <param name="d">Columns (dimension).</param>
    /// <param name="m">d x d row-major accumulator; only i &gt;= j entries are updated.</param>
    public static void AccumulateLower(ReadOnlySpan<double> z, int k, int d, Span<double> m)
    {
        if (z.Length < (long)k * d) throw new ArgumentException("block shorter than k*d", nameof(z));
        if (m.Length < (long)d * d) throw new ArgumentException("accumulator shorter than d*d", nameof(m));
        if (k == 0 || d == 0) return;
        AccumulateLowerReference(z, k, d, m);
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
