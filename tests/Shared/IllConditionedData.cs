namespace MvnStream.Tests.Shared;

/// <summary>
/// Seeded data families that real tables produce and that defeat gradient steps in raw coordinates: a chosen
/// condition number of the covariance, near-collinear columns, low rank plus small noise, trending series with large
/// offsets, and column scales over many decades. Rows are returned row-major (n x d). Compiled into the Core test
/// project and the benchmarks (linked source, tests/Shared).
/// </summary>
internal static class IllConditionedData
{
    public static double Normal(Random r)
    {
        double u1 = 1.0 - r.NextDouble(), u2 = r.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>
    /// n rows of N(0, Q diag(lambda) Q^T) with lambda log-spaced from 1 down to 1/cond and Q a random rotation
    /// (Householder products of Gaussian vectors): the population covariance has condition number exactly cond.
    /// </summary>
    public static double[] WithCondition(Random r, int n, int d, double cond)
    {
        var a = RandomRotation(r, d);
        for (int j = 0; j < d; j++)
        {
            double sd = Math.Sqrt(d == 1 ? 1 : Math.Pow(cond, -(double)j / (d - 1)));
            for (int i = 0; i < d; i++) a[i * d + j] *= sd;
        }
        return Mix(r, n, d, a);
    }

    /// <summary>Columns 2..d are column 1 plus noise of relative size sqrt(2 (1 - rho)): pairwise correlation ~rho.</summary>
    public static double[] NearCollinear(Random r, int n, int d, double rho)
    {
        double noise = Math.Sqrt(2 * (1 - rho));
        var x = new double[n * d];
        for (int k = 0; k < n; k++)
        {
            double c = Normal(r);
            for (int j = 0; j < d; j++) x[k * d + j] = c + (j == 0 ? 0 : noise * Normal(r));
        }
        return x;
    }

    /// <summary>Rank-k signal plus isotropic noise of size <paramref name="noise"/> (k = max(1, d/4)).</summary>
    public static double[] LowRankPlusNoise(Random r, int n, int d, double noise)
    {
        int k = Math.Max(1, d / 4);
        var load = new double[d * k];
        for (int i = 0; i < load.Length; i++) load[i] = Normal(r);
        var x = new double[n * d];
        var f = new double[k];
        for (int a = 0; a < n; a++)
        {
            for (int j = 0; j < k; j++) f[j] = Normal(r);
            for (int i = 0; i < d; i++)
            {
                double s = noise * Normal(r);
                for (int j = 0; j < k; j++) s += load[i * k + j] * f[j];
                x[a * d + i] = s;
            }
        }
        return x;
    }

    /// <summary>
    /// Econometric-style series: column i is level_i + growth_i t + a random walk, with levels ~1e9 and growth
    /// rates that differ by decades, so columns are large, offset and strongly correlated through the trend.
    /// </summary>
    public static double[] TrendingSeries(Random r, int n, int d)
    {
        var x = new double[n * d];
        var walk = new double[d];
        var level = new double[d];
        var growth = new double[d];
        for (int i = 0; i < d; i++)
        {
            level[i] = 1e9 * (1 + r.NextDouble());
            growth[i] = Math.Pow(10, 2 + 4 * r.NextDouble());
        }
        for (int t = 0; t < n; t++)
            for (int i = 0; i < d; i++)
            {
                walk[i] += growth[i] * 0.05 * Normal(r);
                x[t * d + i] = level[i] + growth[i] * t + walk[i];
            }
        return x;
    }

    /// <summary>x -> x diag(scale) + offset per column, in place: scales 10^U(-decades, decades), offsets offsetSds column sds.</summary>
    public static void ScaleAndOffset(Random r, double[] x, int n, int d, double decades, double offsetSds)
    {
        for (int j = 0; j < d; j++)
        {
            double scale = Math.Pow(10, decades * (2 * r.NextDouble() - 1));
            double mean = 0, m2 = 0;
            for (int a = 0; a < n; a++) mean += x[a * d + j];
            mean /= n;
            for (int a = 0; a < n; a++) m2 += (x[a * d + j] - mean) * (x[a * d + j] - mean);
            double sd = Math.Sqrt(m2 / n) * scale;
            double offset = offsetSds * sd * (r.NextDouble() < 0.5 ? -1 : 1);
            for (int a = 0; a < n; a++) x[a * d + j] = x[a * d + j] * scale + offset;
        }
    }

    /// <summary>A random orthogonal d x d matrix (row-major).</summary>
    public static double[] RandomRotation(Random r, int d)
    {
        var q = new double[d * d];
        for (int i = 0; i < d; i++) q[i * d + i] = 1;
        var v = new double[d];
        for (int h = 0; h < Math.Min(d, 8); h++)
        {
            double norm = 0;
            for (int i = 0; i < d; i++) { v[i] = Normal(r); norm += v[i] * v[i]; }
            norm = Math.Sqrt(norm);
            for (int i = 0; i < d; i++) v[i] /= norm;
            // Q <- Q (I - 2 v v^T)
            for (int i = 0; i < d; i++)
            {
                double s = 0;
                for (int k = 0; k < d; k++) s += q[i * d + k] * v[k];
                for (int k = 0; k < d; k++) q[i * d + k] -= 2 * s * v[k];
            }
        }
        return q;
    }

    /// <summary>n rows A z with z ~ N(0, I).</summary>
    public static double[] Mix(Random r, int n, int d, double[] a)
    {
        var x = new double[n * d];
        var z = new double[d];
        for (int k = 0; k < n; k++)
        {
            for (int j = 0; j < d; j++) z[j] = Normal(r);
            for (int i = 0; i < d; i++)
            {
                double s = 0;
                for (int j = 0; j < d; j++) s += a[i * d + j] * z[j];
                x[k * d + i] = s;
            }
        }
        return x;
    }
}
