using MvnStream.Core.Model;

namespace MvnStream.Kafka.Producing;

/// <summary>
/// Seeded synthetic rows from N(mu*, S*), where mu* and a well-conditioned S* are themselves drawn from the
/// seed and exposed (<see cref="Mu"/>, <see cref="Covariance"/>, <see cref="Truth"/>) so that a fit can be
/// compared against the truth. The same seed and dimension give the same mu*, S* and row sequence, bit for
/// bit, however the rows are requested (one at a time or in blocks). The uniform generator is mvnstream's own
/// xoshiro256** (not <see cref="Random"/>, whose seeded sequence .NET does not promise to keep); the normals use
/// <see cref="Math.Log"/>, <see cref="Math.Sin"/> and <see cref="Math.Cos"/>, which may differ in the last bit
/// between operating systems' math libraries.
/// </summary>
/// <remarks>
/// <para>mu*_i = 2 z_i; S* = D (I + B B^T / d) D with D = diag(s), s_i = 2^u_i, u_i uniform in [-1, 1], and
/// B_ij = z_ij / 2 (z standard normal). The eigenvalues of I + B B^T / d lie in [1, ~2], so the condition number
/// of S* is at most about 2 x 4^2 = 32 for every d, and S* is positive definite by construction.</para>
/// <para>Rows are x = mu* + L z with L the Cholesky factor of S* (<see cref="CholeskyFactor"/>), so their exact
/// covariance is L L^T, which equals S* to rounding (relative ~1e-15).</para>
/// </remarks>
public sealed class SyntheticSource
{
    private readonly double[] _mu;
    private readonly double[] _covariance;
    private readonly double[] _l;
    private readonly Xoshiro256 _rng;
    private readonly double[] _z;
    private double _spare;
    private bool _hasSpare;

    /// <summary>Draws mu* and S* of dimension <paramref name="dimension"/> from <paramref name="seed"/>.</summary>
    public SyntheticSource(int dimension, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        Dimension = dimension;
        Seed = seed;
        _rng = new Xoshiro256(seed);
        int d = dimension;

        _mu = new double[d];
        for (int i = 0; i < d; i++) _mu[i] = 2 * Normal();

        var s = new double[d];
        for (int i = 0; i < d; i++) s[i] = Math.Pow(2, 2 * _rng.NextDouble() - 1);
        var b = new double[d * d];
        for (int i = 0; i < b.Length; i++) b[i] = 0.5 * Normal();

        _covariance = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            var bi = b.AsSpan(i * d, d);
            for (int j = 0; j <= i; j++)
            {
                var bj = b.AsSpan(j * d, d);
                double dot = 0;
                for (int k = 0; k < d; k++) dot += bi[k] * bj[k];
                double m = dot / d + (i == j ? 1 : 0);
                double v = s[i] * m * s[j];
                _covariance[i * d + j] = v;
                _covariance[j * d + i] = v;
            }
        }

        _l = Cholesky(_covariance, d);
        _z = new double[d];
    }

    /// <summary>d.</summary>
    public int Dimension { get; }

    /// <summary>The seed everything is drawn from.</summary>
    public long Seed { get; }

    /// <summary>mu* (a copy).</summary>
    public double[] Mu => (double[])_mu.Clone();

    /// <summary>S*, d x d row-major, symmetric (a copy).</summary>
    public double[] Covariance => (double[])_covariance.Clone();

    /// <summary>L, the lower-triangular Cholesky factor of S* (d x d row-major, a copy); rows are mu* + L z.</summary>
    public double[] CholeskyFactor => (double[])_l.Clone();

    /// <summary>The truth as model parameters: (mu*, L) in the lower-triangular parameterization.</summary>
    public MvnParameters Truth => new(Mu, CholeskyFactor, Parameterization.LowerTriangular);

    /// <summary>Rows drawn so far.</summary>
    public long RowsDrawn { get; private set; }

    /// <summary>Fills <paramref name="destination"/> (a whole number of rows, row-major) with the next rows.</summary>
    /// <exception cref="ArgumentException">The length is not a multiple of <see cref="Dimension"/>.</exception>
    public void NextRows(Span<double> destination)
    {
        int d = Dimension;
        if (destination.Length % d != 0)
            throw new ArgumentException($"the destination holds {destination.Length} values, not a whole number of rows of {d}", nameof(destination));
        int rows = destination.Length / d;
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < d; j++) _z[j] = Normal();
            var x = destination.Slice(r * d, d);
            for (int i = 0; i < d; i++)
            {
                var li = _l.AsSpan(i * d, i + 1);
                double acc = 0;
                for (int j = 0; j <= i; j++) acc += li[j] * _z[j];
                x[i] = _mu[i] + acc;
            }
        }
        RowsDrawn += rows;
    }

    /// <summary>The next <paramref name="rows"/> rows, row-major.</summary>
    public double[] NextRows(int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        var x = new double[checked(rows * Dimension)];
        NextRows(x);
        return x;
    }

    /// <summary>A standard normal (Box-Muller, both values of each pair used).</summary>
    private double Normal()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spare;
        }
        double u1 = 1.0 - _rng.NextDouble(); // (0, 1]
        double u2 = _rng.NextDouble();
        double r = Math.Sqrt(-2 * Math.Log(u1));
        double a = 2 * Math.PI * u2;
        _spare = r * Math.Sin(a);
        _hasSpare = true;
        return r * Math.Cos(a);
    }

    private static double[] Cholesky(double[] s, int d)
    {
        var l = new double[d * d];
        if (!MvnStream.Core.Numerics.Dense.TryCholesky(s, d, l))
            throw new InvalidOperationException("the synthetic covariance is not positive definite (a bug)");
        return l;
    }

    /// <summary>xoshiro256** (Blackman and Vigna), seeded through SplitMix64: fixed, portable output.</summary>
    private sealed class Xoshiro256
    {
        private ulong _s0, _s1, _s2, _s3;

        public Xoshiro256(long seed)
        {
            ulong x = unchecked((ulong)seed);
            _s0 = SplitMix(ref x);
            _s1 = SplitMix(ref x);
            _s2 = SplitMix(ref x);
            _s3 = SplitMix(ref x);
        }

        private static ulong SplitMix(ref ulong x)
        {
            ulong z = unchecked(x += 0x9E3779B97F4A7C15UL);
            z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
            z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
            return z ^ (z >> 31);
        }

        public ulong Next()
        {
            ulong result = unchecked(RotateLeft(_s1 * 5, 7) * 9);
            ulong t = _s1 << 17;
            _s2 ^= _s0;
            _s3 ^= _s1;
            _s1 ^= _s2;
            _s0 ^= _s3;
            _s2 ^= t;
            _s3 = RotateLeft(_s3, 45);
            return result;
        }

        /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
        public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

        private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
    }
}
