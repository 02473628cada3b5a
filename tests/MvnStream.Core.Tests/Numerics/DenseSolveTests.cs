using MvnStream.Core.Numerics;
using MvnStream.Core.Tests.Support;

namespace MvnStream.Core.Tests.Numerics;

/// <summary>
/// The blocked triangular solves and product of <see cref="Dense"/> and <see cref="ProductKernel"/> on every path
/// they take: below and above the block size (64), right-hand-side counts below the blocked threshold (16), not a
/// multiple of the 16- and 8-wide register tiles, row counts not a multiple of 4, and depths beyond one depth block
/// (256). Oracles: the residual L X - B computed by plain summation (the definition of a solution), and the plain
/// triple loop for the product.
/// </summary>
public sealed class DenseSolveTests
{
    private static readonly (int D, int M)[] Shapes =
        [(1, 1), (5, 3), (64, 64), (65, 20), (70, 16), (130, 130), (200, 37), (300, 300), (520, 23)];

    public static TheoryData<int, int, bool> Solves
    {
        get
        {
            var data = new TheoryData<int, int, bool>();
            foreach (var (d, m) in Shapes)
            {
                data.Add(d, m, false);
                data.Add(d, m, true);
            }
            return data;
        }
    }

    /// <summary>L X = B (or L^T X = B with <paramref name="transposed"/>): the residual, summed plainly, is rounding.</summary>
    [Theory]
    [MemberData(nameof(Solves))]
    public void The_solves_leave_a_residual_of_rounding(int d, int m, bool transposed)
    {
        var r = new Random(7000 + d * 31 + m + (transposed ? 1 : 0));
        var l = Draw.LowerFactor(r, d);
        // Garbage in the strict upper triangle: the solves must not read it.
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++) l[i * d + j] = 1e6 * Draw.Normal(r);
        var b = Draw.Vector(r, d * m);
        var x = (double[])b.Clone();
        if (transposed) Dense.SolveLowerTransposeInPlace(l, d, x, m);
        else Dense.SolveLowerInPlace(l, d, x, m);

        // (L X)[i, j] = sum_{k <= i} L[i, k] X[k, j]; (L^T X)[i, j] = sum_{k >= i} L[k, i] X[k, j].
        double worst = 0;
        for (int i = 0; i < d; i++)
            for (int j = 0; j < m; j++)
            {
                double s = 0, scale = Math.Abs(b[i * m + j]);
                for (int k = transposed ? i : 0; k <= (transposed ? d - 1 : i); k++)
                {
                    double term = (transposed ? l[k * d + i] : l[i * d + k]) * x[k * m + j];
                    s += term;
                    scale += Math.Abs(term);
                }
                worst = Math.Max(worst, Math.Abs(s - b[i * m + j]) / scale);
            }
        Assert.True(worst < 1e-13, $"d = {d}, m = {m}: largest relative residual of {(transposed ? "L^T" : "L")} X = B is {worst:e3}");
    }

    [Theory]
    [InlineData(3, 4, 5)]
    [InlineData(4, 300, 16)]
    [InlineData(7, 257, 33)]
    [InlineData(64, 64, 64)]
    [InlineData(9, 600, 48)]
    [InlineData(130, 70, 130)]
    public void Multiply_equals_the_triple_loop(int r, int s, int t)
    {
        var rnd = new Random(9000 + r * 7 + s * 3 + t);
        var a = Draw.Vector(rnd, r * s);
        var b = Draw.Vector(rnd, s * t);
        var c = new double[r * t];
        Dense.Multiply(a, r, s, b, t, c);
        for (int i = 0; i < r; i++)
            for (int j = 0; j < t; j++)
            {
                double sum = 0, scale = 0;
                for (int k = 0; k < s; k++)
                {
                    sum += a[i * s + k] * b[k * t + j];
                    scale += Math.Abs(a[i * s + k] * b[k * t + j]);
                }
                Assert.True(Math.Abs(c[i * t + j] - sum) <= 1e-14 * scale + 1e-300,
                    $"{r}x{s} times {s}x{t}: C[{i},{j}] = {c[i * t + j]:R}, triple loop {sum:R}");
            }
    }

    [Theory]
    [InlineData(4, 16, 1, 1)]
    [InlineData(5, 17, 300, 1)]
    [InlineData(11, 40, 513, 3)]
    public unsafe void SubtractProduct_reads_A_through_both_strides_and_leaves_other_columns_alone(int rows, int cols, int depth, int pad)
    {
        // C has pad extra columns per row (ldc = cols + pad) that must stay untouched; A is read transposed
        // (ars = 1, acs = rows) in the second call and must give the same result as the first.
        var rnd = new Random(rows * 1000 + cols * 10 + depth);
        var a = Draw.Vector(rnd, rows * depth);
        var at = new double[depth * rows];
        for (int i = 0; i < rows; i++)
            for (int k = 0; k < depth; k++) at[k * rows + i] = a[i * depth + k];
        var b = Draw.Vector(rnd, depth * cols);
        int ldc = cols + pad;
        var c0 = Draw.Vector(rnd, rows * ldc);
        var c1 = (double[])c0.Clone();
        var c2 = (double[])c0.Clone();
        fixed (double* pa = a, pat = at, pb = b, p1 = c1, p2 = c2)
        {
            ProductKernel.SubtractProduct(pa, depth, 1, rows, depth, pb, cols, p1, ldc, cols);
            ProductKernel.SubtractProduct(pat, 1, rows, rows, depth, pb, cols, p2, ldc, cols);
        }
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++)
            {
                double want = c0[i * ldc + j], scale = Math.Abs(want);
                for (int k = 0; k < depth; k++)
                {
                    want -= a[i * depth + k] * b[k * cols + j];
                    scale += Math.Abs(a[i * depth + k] * b[k * cols + j]);
                }
                Assert.True(Math.Abs(c1[i * ldc + j] - want) <= 1e-14 * scale, $"C[{i},{j}] = {c1[i * ldc + j]:R}, want {want:R}");
                Assert.True(Math.Abs(c2[i * ldc + j] - want) <= 1e-14 * scale, $"transposed A: C[{i},{j}] = {c2[i * ldc + j]:R}, want {want:R}");
            }
            for (int j = cols; j < ldc; j++)
            {
                Assert.Equal(c0[i * ldc + j], c1[i * ldc + j]);
                Assert.Equal(c0[i * ldc + j], c2[i * ldc + j]);
            }
        }
    }
}
