using MathNet.Numerics.LinearAlgebra;
using MvnStream.Kafka.Producing;
using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

public sealed class SyntheticSourceTests
{
    [Fact]
    public void Same_seed_gives_the_same_truth_and_rows_bit_for_bit_however_they_are_requested()
    {
        const int d = 5;
        var a = new SyntheticSource(d, 42);
        var b = new SyntheticSource(d, 42);
        Rows.AssertBitIdentical(a.Mu, b.Mu, d);
        Rows.AssertBitIdentical(a.Covariance, b.Covariance, d);

        var all = a.NextRows(1000);
        var pieces = new List<double>();
        foreach (int n in new[] { 1, 2, 3, 500, 7, 487 }) pieces.AddRange(b.NextRows(n));
        Rows.AssertBitIdentical(all, pieces.ToArray(), d);
        Assert.Equal(1000, a.RowsDrawn);

        var source = new SyntheticRowSource(new SyntheticSource(d, 42), 1000);
        var viaSource = new double[1000 * d];
        int got = 0;
        while (source.ReadRows(viaSource.AsSpan(got * d), 64) is var n and > 0) got += n;
        Assert.Equal(1000, got);
        Assert.Equal(0, source.ReadRows(new double[d], 1));
        Rows.AssertBitIdentical(all, viaSource, d);
    }

    [Fact]
    public void Different_seeds_give_different_truths()
    {
        var a = new SyntheticSource(3, 1);
        var b = new SyntheticSource(3, 2);
        Assert.NotEqual(a.Mu, b.Mu);
        Assert.NotEqual(a.NextRows(1), b.NextRows(1));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(64)]
    public void Covariance_is_symmetric_positive_definite_well_conditioned_and_factored_by_L(int d)
    {
        var s = new SyntheticSource(d, 7);
        var cov = Matrix<double>.Build.Dense(d, d, (i, j) => s.Covariance[i * d + j]);
        Assert.True(cov.IsSymmetric(), "S* is not symmetric");
        var eig = cov.Evd(Symmetricity.Symmetric).EigenValues.Select(c => c.Real).ToArray();
        double min = eig.Min(), max = eig.Max();
        Assert.True(min > 0, $"S* has eigenvalue {min}");
        Assert.True(max / min <= 40, $"condition number {max / min}");

        var l = Matrix<double>.Build.Dense(d, d, (i, j) => s.CholeskyFactor[i * d + j]);
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++)
                Assert.Equal(0.0, l[i, j]);
        Assert.True((l * l.Transpose() - cov).InfinityNorm() <= 1e-12 * cov.InfinityNorm());

        var truth = s.Truth;
        Assert.Equal(s.Mu, truth.Mu);
        Assert.Equal(s.CholeskyFactor, truth.Lambda);
    }

    [Fact]
    public void Sample_moments_agree_with_the_truth_within_sampling_error()
    {
        const int d = 4, n = 200_000;
        var s = new SyntheticSource(d, 2024);
        var x = s.NextRows(n);
        var mu = s.Mu;
        var cov = s.Covariance;

        var mean = new double[d];
        for (int r = 0; r < n; r++)
            for (int i = 0; i < d; i++) mean[i] += x[r * d + i];
        for (int i = 0; i < d; i++) mean[i] /= n;
        for (int i = 0; i < d; i++)
        {
            double se = Math.Sqrt(cov[i * d + i] / n);
            Assert.True(Math.Abs(mean[i] - mu[i]) <= 5 * se, $"mean[{i}] = {mean[i]}, mu*[{i}] = {mu[i]}, standard error {se}");
        }

        var sample = new double[d * d];
        for (int r = 0; r < n; r++)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++)
                    sample[i * d + j] += (x[r * d + i] - mean[i]) * (x[r * d + j] - mean[j]);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double sij = sample[i * d + j] / (n - 1);
                // Var of a sample covariance entry of a normal: (S_ii S_jj + S_ij^2) / n.
                double se = Math.Sqrt((cov[i * d + i] * cov[j * d + j] + cov[i * d + j] * cov[i * d + j]) / n);
                Assert.True(Math.Abs(sij - cov[i * d + j]) <= 5 * se, $"S[{i},{j}] = {sij}, S*[{i},{j}] = {cov[i * d + j]}, standard error {se}");
            }
    }

    [Fact]
    public void Rejects_bad_arguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticSource(0, 1));
        var s = new SyntheticSource(3, 1);
        Assert.Throws<ArgumentException>(() => s.NextRows(new double[4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticRowSource(s, -1));
    }
}
