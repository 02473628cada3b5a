using MvnStream.Core.Model;

namespace MvnStream.Core.Tests.Support;

/// <summary>Seeded random data for numerical tests; every test prints its seed in failure messages.</summary>
internal static class Draw
{
    public static double Normal(Random r)
    {
        double u1 = 1.0 - r.NextDouble(), u2 = r.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>
    /// A random lower-triangular factor with diagonal in [0.5, 1.5] and off-diagonal entries
    /// offDiagonalScale * N(0, 1/d): scaled by 1/sqrt(d) so that the condition number of L L^T stays
    /// moderate as d grows (unscaled random triangular matrices are exponentially ill-conditioned).
    /// </summary>
    public static double[] LowerFactor(Random r, int d, double offDiagonalScale = 0.3)
    {
        var l = new double[d * d];
        double scale = offDiagonalScale / Math.Sqrt(Math.Max(d, 1));
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < i; j++) l[i * d + j] = scale * Normal(r);
            l[i * d + i] = 0.5 + r.NextDouble();
        }
        return l;
    }

    public static double[] Vector(Random r, int d, double scale = 1)
    {
        var v = new double[d];
        for (int i = 0; i < d; i++) v[i] = scale * Normal(r);
        return v;
    }

    /// <summary>k rows of N(mu, L L^T), row-major.</summary>
    public static double[] Rows(Random r, int k, double[] mu, double[] l)
    {
        int d = mu.Length;
        var x = new double[k * d];
        var z = new double[d];
        for (int a = 0; a < k; a++)
        {
            for (int j = 0; j < d; j++) z[j] = Normal(r);
            for (int i = 0; i < d; i++)
            {
                double s = mu[i];
                for (int j = 0; j <= i; j++) s += l[i * d + j] * z[j];
                x[a * d + i] = s;
            }
        }
        return x;
    }

    public static MvnParameters Theta(Random r, int d, Parameterization p, double muScale = 1)
    {
        var l = LowerFactor(r, d);
        if (p == Parameterization.Full)
            for (int i = 0; i < d; i++)
                for (int j = i + 1; j < d; j++)
                    l[i * d + j] = 0.3 / Math.Sqrt(d) * Normal(r);
        return new MvnParameters(Vector(r, d, muScale), l, p);
    }

    public static double RelativeError(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++)
        {
            num += (a[i] - b[i]) * (a[i] - b[i]);
            den += b[i] * b[i];
        }
        return Math.Sqrt(num) / Math.Max(Math.Sqrt(den), 1e-300);
    }

    public static double MaxAbsDiff(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
