using MathNet.Numerics;
using MvnStream.Core.Model;
using MvnStream.Core.Numerics;
using MvnStream.Core.Objective;

namespace MvnStream.Core.Scoring;

/// <summary>
/// Scores rows under a fitted model: squared Mahalanobis distance m2 = (x - mu)^T S^-1 (x - mu) = |L^-1 (x - mu)|^2
/// and log-density -1/2 (d log 2pi + log|S| + m2), with L a lower factor of S (no inverse formed).
/// Under the model m2 ~ chi-square(d), which gives the tail probability used for anomaly flags.
/// </summary>
public sealed class MvnScorer
{
    private readonly double[] _mu;
    private readonly double[] _l;
    private readonly double _logNormalizer;

    public MvnScorer(MvnParameters theta)
    {
        ArgumentNullException.ThrowIfNull(theta);
        int d = theta.Dimension;
        _mu = (double[])theta.Mu.Clone();
        _l = new double[d * d];
        if (!MvnObjective.LowerFactor(theta, _l))
            throw new ArgumentException("the model's covariance is singular: it cannot score rows");
        double logDet = 0;
        for (int i = 0; i < d; i++) logDet += 2 * Math.Log(Math.Abs(_l[i * d + i]));
        _logNormalizer = -0.5 * (d * MvnObjective.Log2Pi + logDet);
        Dimension = d;
    }

    public int Dimension { get; }

    /// <summary>Squared Mahalanobis distance of one row (length d).</summary>
    public double Mahalanobis2(ReadOnlySpan<double> row)
    {
        int d = Dimension;
        if (row.Length != d) throw new ArgumentException($"row has {row.Length} values, model dimension is {d}");
        Span<double> u = d <= 512 ? stackalloc double[d] : new double[d];
        for (int i = 0; i < d; i++) u[i] = row[i] - _mu[i];
        Dense.SolveLowerInPlace(_l, d, u, 1);
        return Dense.Dot(u, u);
    }

    /// <summary>log N(x; mu, S) of a row with its squared Mahalanobis distance.</summary>
    public (double LogDensity, double Mahalanobis2) Score(ReadOnlySpan<double> row)
    {
        double m2 = Mahalanobis2(row);
        return (_logNormalizer - 0.5 * m2, m2);
    }

    /// <summary>P(chi-square(d) &gt;= m2): the probability of a row at least this far out under the model.</summary>
    public double TailProbability(double mahalanobis2) =>
        mahalanobis2 <= 0 ? 1.0 : SpecialFunctions.GammaUpperRegularized(Dimension / 2.0, mahalanobis2 / 2.0);
}
