using MathNet.Numerics.LinearAlgebra;

namespace MvnStream.Core.Numerics;

/// <summary>
/// Small dense kernels on row-major arrays: triangular solves and products. Row-major rows are
/// contiguous, so each solve step is an axpy over a whole row (vectorised by <see cref="Syrk.Axpy"/>); with many
/// right-hand sides the solves are blocked so that most of the work is a register-blocked product (<see cref="ProductKernel"/>).
/// </summary>
internal static class Dense
{
    /// <summary>Rows per diagonal block of the blocked solves.</summary>
    private const int SolveBlock = 64;

    /// <summary>
    /// Solves L X = B in place (B becomes X) for lower-triangular L (d x d row-major; the strict upper
    /// triangle is ignored) and B d x m row-major. Precondition: L[i, i] != 0.
    /// </summary>
    /// <remarks>
    /// With many right-hand sides (the objective solves with m = d) the solve is blocked: rows of B in blocks of
    /// <see cref="SolveBlock"/>, each block first updated with the product of L's block row and the rows already
    /// solved (<see cref="ProductKernel"/>, where the O(d^2 m) work is), then solved against its diagonal block row by
    /// row. One right-hand side, or a small problem, goes row by row (<see cref="SolveLowerInPlaceRowwise"/>).
    /// </remarks>
    public static unsafe void SolveLowerInPlace(ReadOnlySpan<double> l, int d, Span<double> b, int m)
    {
        if (!Blocked(l, d, b, m))
        {
            SolveLowerInPlaceRowwise(l, d, b, m, 0, d);
            return;
        }
        fixed (double* pl = l)
        fixed (double* pb = b)
        {
            for (int i0 = 0; i0 < d; i0 += SolveBlock)
            {
                int i1 = Math.Min(d, i0 + SolveBlock);
                // B[i0..i1) -= L[i0..i1, 0..i0) X[0..i0)
                ProductKernel.SubtractProduct(pl + (nint)i0 * d, d, 1, i1 - i0, i0, pb, m, pb + (nint)i0 * m, m, m);
                SolveLowerInPlaceRowwise(l, d, b, m, i0, i1);
            }
        }
    }

    /// <summary>Whether a solve takes the blocked path (many right-hand sides, more than one block); checks the spans' lengths for it.</summary>
    private static bool Blocked(ReadOnlySpan<double> l, int d, Span<double> b, int m)
    {
        if (m < 16 || d <= SolveBlock) return false;
        if (l.Length < d * d || b.Length < d * m) throw new ArgumentException($"L must hold {d} x {d} and B {d} x {m} values");
        return true;
    }

    /// <summary>
    /// Rows [from, to) of the forward substitution, given rows below <paramref name="from"/> are final and already
    /// subtracted: B_i -= L[i, k] X_k for from &lt;= k &lt; i, then B_i /= L[i, i].
    /// </summary>
    internal static void SolveLowerInPlaceRowwise(ReadOnlySpan<double> l, int d, Span<double> b, int m, int from, int to)
    {
        for (int i = from; i < to; i++)
        {
            var bi = b.Slice(i * m, m);
            var li = l.Slice(i * d, d);
            for (int k = from; k < i; k++)
            {
                double lik = li[k];
                if (lik != 0) Syrk.Axpy(-lik, b.Slice(k * m, m), bi);
            }
            double inv = 1.0 / li[i];
            for (int j = 0; j < m; j++) bi[j] *= inv;
        }
    }

    /// <summary>
    /// Solves L^T X = B in place for lower-triangular L (d x d row-major) and B d x m row-major.
    /// Precondition: L[i, i] != 0. Blocked like <see cref="SolveLowerInPlace"/>, from the last block up: each block is
    /// solved against its diagonal block, then its product with L's block row, transposed, is subtracted from every
    /// row above it.
    /// </summary>
    public static unsafe void SolveLowerTransposeInPlace(ReadOnlySpan<double> l, int d, Span<double> b, int m)
    {
        if (!Blocked(l, d, b, m))
        {
            SolveLowerTransposeInPlaceRowwise(l, d, b, m, 0, d);
            return;
        }
        fixed (double* pl = l)
        fixed (double* pb = b)
        {
            for (int i1 = d; i1 > 0; i1 -= SolveBlock)
            {
                int i0 = Math.Max(0, i1 - SolveBlock);
                SolveLowerTransposeInPlaceRowwise(l, d, b, m, i0, i1);
                // B[0..i0) -= (L[i0..i1, 0..i0))^T X[i0..i1): A(r, k) = L[i0 + k, r]
                ProductKernel.SubtractProduct(pl + (nint)i0 * d, 1, d, i0, i1 - i0, pb + (nint)i0 * m, m, pb, m, m);
            }
        }
    }

    /// <summary>
    /// Rows [from, to) of the backward substitution with L^T, given rows at and above <paramref name="to"/> are final
    /// and already subtracted; only rows in [from, to) are updated.
    /// </summary>
    internal static void SolveLowerTransposeInPlaceRowwise(ReadOnlySpan<double> l, int d, Span<double> b, int m, int from, int to)
    {
        // L^T is upper triangular with (L^T)[i, k] = L[k, i]. Backward substitution row by row:
        // x_i = (b_i - sum_{k > i} L[k, i] x_k) / L[i, i]; done column-oriented: once x_k is final,
        // subtract L[k, i] x_k from every b_i with from <= i < k.
        for (int k = to - 1; k >= from; k--)
        {
            var bk = b.Slice(k * m, m);
            double inv = 1.0 / l[k * d + k];
            for (int j = 0; j < m; j++) bk[j] *= inv;
            var lk = l.Slice(k * d, k);
            for (int i = from; i < k; i++)
            {
                double lki = lk[i];
                if (lki != 0) Syrk.Axpy(-lki, bk, b.Slice(i * m, m));
            }
        }
    }

    /// <summary>C = A B for A (r x s), B (s x t), all row-major.</summary>
    public static unsafe void Multiply(ReadOnlySpan<double> a, int r, int s, ReadOnlySpan<double> b, int t, Span<double> c)
    {
        if (a.Length < r * s || b.Length < s * t || c.Length < r * t) throw new ArgumentException($"A must hold {r} x {s}, B {s} x {t} and C {r} x {t} values");
        c[..(r * t)].Clear();
        if (t < 16)
        {
            for (int i = 0; i < r; i++)
            {
                var ci = c.Slice(i * t, t);
                for (int k = 0; k < s; k++)
                {
                    double aik = a[i * s + k];
                    if (aik != 0) Syrk.Axpy(aik, b.Slice(k * t, t), ci);
                }
            }
            return;
        }
        fixed (double* pa = a)
        fixed (double* pb = b)
        fixed (double* pc = c)
        {
            // C = 0 - (-A) B would need a negated copy; C -= A B followed by a sign flip is the same numbers.
            ProductKernel.SubtractProduct(pa, s, 1, r, s, pb, t, pc, t, t);
            for (int i = 0; i < r * t; i++) pc[i] = -pc[i];
        }
    }

    /// <summary>C = A A^T for A (d x d row-major); C is symmetric.</summary>
    public static void MultiplyByOwnTranspose(ReadOnlySpan<double> a, int d, Span<double> c)
    {
        for (int i = 0; i < d; i++)
        {
            var ai = a.Slice(i * d, d);
            for (int j = 0; j <= i; j++)
            {
                double s = Dot(ai, a.Slice(j * d, d));
                c[i * d + j] = s;
                c[j * d + i] = s;
            }
        }
    }

    /// <summary>In-place transpose of a square row-major matrix.</summary>
    public static void TransposeInPlace(Span<double> a, int d)
    {
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++)
                (a[i * d + j], a[j * d + i]) = (a[j * d + i], a[i * d + j]);
    }

    public static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        int n = x.Length, i = 0;
        double s = 0;
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc0 = System.Runtime.Intrinsics.Vector256<double>.Zero;
            var acc1 = System.Runtime.Intrinsics.Vector256<double>.Zero;
            for (; i <= n - 8; i += 8)
            {
                acc0 += System.Runtime.Intrinsics.Vector256.Create(x.Slice(i, 4)) * System.Runtime.Intrinsics.Vector256.Create(y.Slice(i, 4));
                acc1 += System.Runtime.Intrinsics.Vector256.Create(x.Slice(i + 4, 4)) * System.Runtime.Intrinsics.Vector256.Create(y.Slice(i + 4, 4));
            }
            s = System.Runtime.Intrinsics.Vector256.Sum(acc0 + acc1);
        }
        for (; i < n; i++) s += x[i] * y[i];
        return s;
    }

    /// <summary>
    /// Lower Cholesky factor of a symmetric positive-definite matrix (row-major), through MathNet.
    /// Returns false when the matrix is not positive definite (to working precision).
    /// </summary>
    public static bool TryCholesky(ReadOnlySpan<double> s, int d, Span<double> l)
    {
        var m = Matrix<double>.Build.Dense(d, d);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                m[i, j] = s[i * d + j];
        try
        {
            var f = m.Cholesky().Factor;
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++)
                    l[i * d + j] = j <= i ? f[i, j] : 0.0;
            for (int i = 0; i < d; i++)
                if (!(l[i * d + i] > 0) || !double.IsFinite(l[i * d + i])) return false;
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// Unpivoted Cholesky that reports the first pivot that fails: returns -1 on success, else the
    /// index k where the Schur complement pivot is &lt;= tolerance * (original diagonal). Used only
    /// to name the cause of a singular scatter (MathNet's factorisation does not say where it failed).
    /// </summary>
    public static int FirstDeficientPivot(ReadOnlySpan<double> s, int d, double relativeTolerance, out double smallestRatio)
    {
        var a = s[..(d * d)].ToArray();
        smallestRatio = double.PositiveInfinity;
        for (int k = 0; k < d; k++)
        {
            double orig = s[k * d + k];
            double piv = a[k * d + k];
            for (int p = 0; p < k; p++) piv -= a[k * d + p] * a[k * d + p];
            double ratio = orig > 0 ? piv / orig : 0;
            smallestRatio = Math.Min(smallestRatio, ratio);
            if (!(ratio > relativeTolerance)) return k;
            double lkk = Math.Sqrt(piv);
            a[k * d + k] = lkk;
            for (int i = k + 1; i < d; i++)
            {
                double v = a[i * d + k];
                for (int p = 0; p < k; p++) v -= a[i * d + p] * a[k * d + p];
                a[i * d + k] = v / lkk;
            }
        }
        return -1;
    }
}
