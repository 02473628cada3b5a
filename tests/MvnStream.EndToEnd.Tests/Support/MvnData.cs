using System.Globalization;
using System.Text;

namespace MvnStream.EndToEnd.Tests.Support;

/// <summary>
/// Rows drawn from N(mu*, S* = L* L*^T) with a fixed seed (System.Random with a seed is deterministic), rounded to
/// 6 decimals so that every file format holds exactly the same doubles: the csv/json text is the shortest
/// round-trip form of the double stored in the f64 file. <see cref="Describe"/> goes into every failure message.
/// </summary>
public sealed class MvnSample
{
    private MvnSample(int seed, int d, int n, double[] mu, double[] sigma, double[] rows, string kind)
    {
        Seed = seed;
        D = d;
        N = n;
        Mu = mu;
        Sigma = sigma;
        Rows = rows;
        Kind = kind;
    }

    public int Seed { get; }
    public int D { get; }
    public int N { get; }

    /// <summary>The true mean mu*.</summary>
    public double[] Mu { get; }

    /// <summary>The true covariance S*, row-major d x d.</summary>
    public double[] Sigma { get; }

    /// <summary>The rows, row-major n x d.</summary>
    public double[] Rows { get; }

    public string Kind { get; }

    public string Describe => $"{Kind} sample, seed {Seed}, d = {D}, n = {N}";

    public ReadOnlySpan<double> Row(int i) => Rows.AsSpan(i * D, D);

    /// <summary>A random covariance: L* lower-triangular, diagonal in [0.5, 2], off-diagonal N(0, 0.6^2); mu*_i in [-5, 5].</summary>
    public static MvnSample Random(int seed, int d, int n)
    {
        var rng = new Random(seed);
        var mu = new double[d];
        for (int i = 0; i < d; i++) mu[i] = Math.Round(rng.NextDouble() * 10 - 5, 3);
        var l = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            l[i * d + i] = 0.5 + 1.5 * rng.NextDouble();
            for (int j = 0; j < i; j++) l[i * d + j] = 0.6 * Normal(rng);
        }
        return Draw(rng, seed, d, n, mu, l, "random-covariance");
    }

    /// <summary>
    /// Strongly correlated columns: S*_ij = s_i s_j rho^|i-j| (an AR(1) correlation) with scales s_i = 0.5 + (i mod 5),
    /// mu*_i = i. With rho near 1 the problem is ill-conditioned, so gradient descent needs thousands of steps.
    /// </summary>
    public static MvnSample Correlated(int seed, int d, int n, double rho)
    {
        var rng = new Random(seed);
        var mu = new double[d];
        var s = new double[d];
        for (int i = 0; i < d; i++)
        {
            mu[i] = i;
            s[i] = 0.5 + (i % 5);
        }
        var sigma = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                sigma[i * d + j] = s[i] * s[j] * Math.Pow(rho, Math.Abs(i - j));
        return Draw(rng, seed, d, n, mu, Linalg.Cholesky(sigma, d), $"AR(1) rho = {rho.ToString(CultureInfo.InvariantCulture)}");
    }

    private static MvnSample Draw(Random rng, int seed, int d, int n, double[] mu, double[] l, string kind)
    {
        var rows = new double[(long)n * d];
        var z = new double[d];
        for (int r = 0; r < n; r++)
        {
            for (int k = 0; k < d; k++) z[k] = Normal(rng);
            for (int i = 0; i < d; i++)
            {
                double x = mu[i];
                for (int k = 0; k <= i; k++) x += l[i * d + k] * z[k];
                rows[r * d + i] = Math.Round(x, 6);
            }
        }
        return new MvnSample(seed, d, n, mu, Linalg.MulTransposed(l, l, d), rows, kind);
    }

    private static double Normal(Random rng)
    {
        // Box-Muller; 1 - U avoids log(0).
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    public static string Format(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    public string CsvRow(int i) => string.Join(',', Row(i).ToArray().Select(Format));

    /// <summary>The csv file's lines: an optional header "x1,...,xd", then one line per row.</summary>
    public List<string> CsvLines(bool header = true)
    {
        var lines = new List<string>(N + 1);
        if (header) lines.Add(string.Join(',', Enumerable.Range(1, D).Select(i => "x" + i.ToString(CultureInfo.InvariantCulture))));
        for (int i = 0; i < N; i++) lines.Add(CsvRow(i));
        return lines;
    }

    public string WriteCsv(string path, bool header = true)
    {
        WriteLines(path, CsvLines(header));
        return path;
    }

    /// <summary>k*d little-endian doubles, no header.</summary>
    public string WriteF64(string path)
    {
        var bytes = new byte[Rows.Length * sizeof(double)];
        for (int i = 0; i < Rows.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), Rows[i]);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>One JSON array of d numbers per line.</summary>
    public string WriteJsonLines(string path)
    {
        var lines = new List<string>(N);
        for (int i = 0; i < N; i++) lines.Add("[" + CsvRow(i) + "]");
        WriteLines(path, lines);
        return path;
    }

    /// <summary>Writes lines with '\n' endings, the last line terminated too.</summary>
    public static void WriteLines(string path, IEnumerable<string> lines)
    {
        using var w = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 16) { NewLine = "\n" };
        foreach (var line in lines) w.WriteLine(line);
    }

    /// <summary>The sample mean and the biased covariance M/n of the rows, by two passes of plain loops (the closed-form oracle).</summary>
    public (double[] Mean, double[] Covariance) SampleMoments()
    {
        int d = D;
        var mean = new double[d];
        for (int r = 0; r < N; r++)
            for (int i = 0; i < d; i++) mean[i] += Rows[r * d + i];
        for (int i = 0; i < d; i++) mean[i] /= N;
        var cov = new double[d * d];
        var c = new double[d];
        for (int r = 0; r < N; r++)
        {
            for (int i = 0; i < d; i++) c[i] = Rows[r * d + i] - mean[i];
            for (int i = 0; i < d; i++)
                for (int j = 0; j <= i; j++) cov[i * d + j] += c[i] * c[j];
        }
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++)
            {
                cov[i * d + j] /= N;
                cov[j * d + i] = cov[i * d + j];
            }
        return (mean, cov);
    }
}
