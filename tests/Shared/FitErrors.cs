using MvnStream.Core.Model;
using MvnStream.Core.Statistics;

namespace MvnStream.Tests.Shared;

/// <summary>
/// The accuracy a fit promises, measured against the closed form of the statistics (the oracle): max_i |mu_i - xbar_i| / sd_i
/// and max_ij |S_ij - S*_ij| / (sd_i sd_j), with S* = M/n and sd from S*. Linked into the Core tests and the benchmarks.
/// </summary>
internal static class FitErrors
{
    public static (double Mu, double S) Of(SufficientStatistics stats, MvnParameters theta)
    {
        int d = stats.Dimension;
        double n = stats.Weight;
        var s = theta.Covariance();
        var m = stats.Scatter;
        var mean = stats.Mean;
        var sd = new double[d];
        for (int i = 0; i < d; i++) sd[i] = Math.Sqrt(m[i * d + i] / n);
        double eMu = 0, eS = 0;
        for (int i = 0; i < d; i++)
        {
            eMu = Math.Max(eMu, Math.Abs(theta.Mu[i] - mean[i]) / sd[i]);
            for (int j = 0; j < d; j++) eS = Math.Max(eS, Math.Abs(s[i * d + j] - m[i * d + j] / n) / (sd[i] * sd[j]));
        }
        return (eMu, eS);
    }
}
