namespace MvnStream.EndToEnd.Tests.Support;

/// <summary>Plain-loop dense linear algebra for independent checks (row-major d x d arrays); nothing from the product.</summary>
public static class Linalg
{
    /// <summary>Lower-triangular L with L L^T = A; throws when A is not positive definite.</summary>
    public static double[] Cholesky(double[] a, int d)
    {
        var l = new double[d * d];
        for (int j = 0; j < d; j++)
        {
            double s = a[j * d + j];
            for (int k = 0; k < j; k++) s -= l[j * d + k] * l[j * d + k];
            if (!(s > 0)) throw new InvalidOperationException($"matrix is not positive definite (pivot {j + 1} = {s})");
            double ljj = Math.Sqrt(s);
            l[j * d + j] = ljj;
            for (int i = j + 1; i < d; i++)
            {
                double t = a[i * d + j];
                for (int k = 0; k < j; k++) t -= l[i * d + k] * l[j * d + k];
                l[i * d + j] = t / ljj;
            }
        }
        return l;
    }

    /// <summary>Solves L y = b (forward substitution).</summary>
    public static double[] ForwardSolve(double[] l, int d, ReadOnlySpan<double> b)
    {
        var y = new double[d];
        for (int i = 0; i < d; i++)
        {
            double s = b[i];
            for (int k = 0; k < i; k++) s -= l[i * d + k] * y[k];
            y[i] = s / l[i * d + i];
        }
        return y;
    }

    /// <summary>A B^T for d x d row-major matrices (with B = A: A A^T).</summary>
    public static double[] MulTransposed(double[] a, double[] b, int d)
    {
        var c = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double s = 0;
                for (int k = 0; k < d; k++) s += a[i * d + k] * b[j * d + k];
                c[i * d + j] = s;
            }
        return c;
    }

    public static double Norm(ReadOnlySpan<double> v)
    {
        double s = 0;
        foreach (var x in v) s += x * x;
        return Math.Sqrt(s);
    }

    /// <summary>||a - b|| / ||b|| (2-norm for vectors, Frobenius for matrices stored flat).</summary>
    public static double RelativeDifference(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"lengths differ: {a.Length} vs {b.Length}");
        double num = 0;
        for (int i = 0; i < a.Length; i++) num += (a[i] - b[i]) * (a[i] - b[i]);
        return Math.Sqrt(num) / Norm(b);
    }
}
