using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MvnStream.Core.Numerics;

/// <summary>
/// C -= A B on row-major storage: the matrix-product update that carries most of the work of a blocked triangular
/// solve with many right-hand sides (<see cref="Dense.SolveLowerInPlace"/> with m = d is the objective's O(d^3) part).
/// A is read through strides, A(i, k) = a[i * ars + k * acs], so a block of L and a block of L^T are the same call.
/// </summary>
/// <remarks>
/// Register-blocked: eight rows of C by 16 columns (two 8-wide vectors, AVX-512) or four rows by 8 columns (two 4-wide
/// vectors, AVX2) are accumulated in registers over a depth block of <see cref="DepthBlock"/> (so the B panel it streams,
/// 256 x 16 doubles = 32 KiB, stays in L1), then subtracted from C once. Without FMA the reference loop runs.
/// Results agree with the row-by-row axpy solve to rounding (the summation order and the fused multiply-adds differ).
/// </remarks>
internal static unsafe class ProductKernel
{
    private const int DepthBlock = 256;

    private static readonly int Width =
        !Fma.IsSupported ? 0 : Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 0;

    /// <summary>C[i, j] -= sum_k A(i, k) B[k, j] for i &lt; rows, k &lt; depth, j &lt; cols.</summary>
    public static void SubtractProduct(double* a, nint ars, nint acs, int rows, int depth, double* b, nint ldb, double* c, nint ldc, int cols)
    {
        if (rows <= 0 || depth <= 0 || cols <= 0) return;
        int w = Width;
        for (int k0 = 0; k0 < depth; k0 += DepthBlock)
        {
            int kc = Math.Min(DepthBlock, depth - k0);
            double* ak = a + k0 * acs;
            double* bk = b + k0 * ldb;
            int j0 = 0;
            if (w > 0)
            {
                for (; j0 + w <= cols; j0 += w)
                {
                    int i = 0;
                    if (w == 16)
                        for (; i + 8 <= rows; i += 8) Tile512(ak + i * ars, ars, acs, kc, bk + j0, ldb, c + i * ldc + j0, ldc);
                    else
                        for (; i + 4 <= rows; i += 4) Tile256(ak + i * ars, ars, acs, kc, bk + j0, ldb, c + i * ldc + j0, ldc);
                    for (; i < rows; i++)
                    {
                        if (w == 16) Row512(ak + i * ars, acs, kc, bk + j0, ldb, c + i * ldc + j0);
                        else Row256(ak + i * ars, acs, kc, bk + j0, ldb, c + i * ldc + j0);
                    }
                }
            }
            if (j0 < cols) Reference(ak, ars, acs, rows, kc, bk + j0, ldb, c + j0, ldc, cols - j0);
        }
    }

    /// <summary>The plain triple loop; the edge columns of the fast path and the whole product without FMA.</summary>
    internal static void Reference(double* a, nint ars, nint acs, int rows, int depth, double* b, nint ldb, double* c, nint ldc, int cols)
    {
        for (int i = 0; i < rows; i++)
        {
            double* ci = c + i * ldc;
            for (int k = 0; k < depth; k++)
            {
                double aik = a[i * ars + k * acs];
                double* bkr = b + k * ldb;
                for (int j = 0; j < cols; j++) ci[j] -= aik * bkr[j];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512(double* a, nint ars, nint acs, int kc, double* b, nint ldb, double* c, nint ldc)
    {
        Vector512<double> c00 = default, c01 = default, c10 = default, c11 = default,
            c20 = default, c21 = default, c30 = default, c31 = default,
            c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 8);
            b += ldb;
            var x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[ars]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2 * ars]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3 * ars]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4 * ars]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5 * ars]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[6 * ars]);
            c60 = Vector512.FusedMultiplyAdd(x, b0, c60);
            c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[7 * ars]);
            c70 = Vector512.FusedMultiplyAdd(x, b0, c70);
            c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            a += acs;
        }
        Sub512(c, c00, c01);
        Sub512(c + ldc, c10, c11);
        Sub512(c + 2 * ldc, c20, c21);
        Sub512(c + 3 * ldc, c30, c31);
        Sub512(c + 4 * ldc, c40, c41);
        Sub512(c + 5 * ldc, c50, c51);
        Sub512(c + 6 * ldc, c60, c61);
        Sub512(c + 7 * ldc, c70, c71);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row512(double* a, nint acs, int kc, double* b, nint ldb, double* c)
    {
        Vector512<double> c0 = default, c1 = default;
        for (int k = 0; k < kc; k++)
        {
            var x = Vector512.Create(*a);
            c0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b), c0);
            c1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 8), c1);
            a += acs;
            b += ldb;
        }
        Sub512(c, c0, c1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sub512(double* c, Vector512<double> v0, Vector512<double> v1)
    {
        (Vector512.Load(c) - v0).Store(c);
        (Vector512.Load(c + 8) - v1).Store(c + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256(double* a, nint ars, nint acs, int kc, double* b, nint ldb, double* c, nint ldc)
    {
        Vector256<double> c00 = default, c01 = default, c10 = default, c11 = default,
            c20 = default, c21 = default, c30 = default, c31 = default;
        double* a0 = a, a1 = a + ars, a2 = a + 2 * ars, a3 = a + 3 * ars;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 4);
            b += ldb;
            var x = Vector256.Create(*a0);
            c00 = Fma.MultiplyAdd(x, b0, c00);
            c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Vector256.Create(*a1);
            c10 = Fma.MultiplyAdd(x, b0, c10);
            c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Vector256.Create(*a2);
            c20 = Fma.MultiplyAdd(x, b0, c20);
            c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Vector256.Create(*a3);
            c30 = Fma.MultiplyAdd(x, b0, c30);
            c31 = Fma.MultiplyAdd(x, b1, c31);
            a0 += acs; a1 += acs; a2 += acs; a3 += acs;
        }
        Sub256(c, c00, c01);
        Sub256(c + ldc, c10, c11);
        Sub256(c + 2 * ldc, c20, c21);
        Sub256(c + 3 * ldc, c30, c31);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row256(double* a, nint acs, int kc, double* b, nint ldb, double* c)
    {
        Vector256<double> c0 = default, c1 = default;
        for (int k = 0; k < kc; k++)
        {
            var x = Vector256.Create(*a);
            c0 = Fma.MultiplyAdd(x, Vector256.Load(b), c0);
            c1 = Fma.MultiplyAdd(x, Vector256.Load(b + 4), c1);
            a += acs;
            b += ldb;
        }
        Sub256(c, c0, c1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sub256(double* c, Vector256<double> v0, Vector256<double> v1)
    {
        (Vector256.Load(c) - v0).Store(c);
        (Vector256.Load(c + 4) - v1).Store(c + 4);
    }
}
