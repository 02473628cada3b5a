using System.Buffers;
using MvnStream.Core.Model;
using MvnStream.Core.Numerics;
using MvnStream.Core.Statistics;

namespace MvnStream.Core.Objective;

/// <summary>
/// The Gaussian negative log-likelihood of docs/ARCHITECTURE.md, "The math", and its gradients (seed eqs. 2, 7, 9, 14):
/// <code>
/// J(mu, Lambda) = n d/2 log(2 pi) + n/2 log|S| + 1/2 tr(S^-1 C(mu)),   S = Lambda Lambda^T
/// C(mu)         = M + n (xbar - mu)(xbar - mu)^T
/// dJ/dmu        = -n S^-1 (xbar - mu)
/// dJ/dLambda    =  n S^-1 Lambda - S^-1 C(mu) S^-1 Lambda
/// </code>
/// Never forms S^-1: with a lower factor L of S (L = Lambda for the lower-triangular
/// parameterization, the Cholesky factor of S otherwise) and G = L^-1 C L^-T,
/// tr(S^-1 C) = tr G and dJ/dLambda = L^-T (n I - G) L^-1 Lambda (L^-1 Lambda = I when L = Lambda).
/// For the lower-triangular parameterization the gradient returned is tril(dJ/dLambda).
/// </summary>
public static class MvnObjective
{
    /// <summary>log(2 pi).</summary>
    public const double Log2Pi = 1.8378770664093454835606594728112;

    /// <summary>J and (optionally) its gradients from sufficient statistics. O(d^3), no pass over rows.</summary>
    /// <param name="gradMu">Length d, or empty to skip the gradients.</param>
    /// <param name="gradLambda">Length d*d row-major, or empty to skip the gradients.</param>
    /// <returns>J, or +infinity when S is singular at theta (then the gradients are left unspecified).</returns>
    public static double Evaluate(SufficientStatistics stats, MvnParameters theta, Span<double> gradMu, Span<double> gradLambda)
    {
        ArgumentNullException.ThrowIfNull(stats);
        return Evaluate(stats.Weight, stats.Mean, stats.Scatter, theta, gradMu, gradLambda);
    }

    /// <summary>
    /// As <see cref="Evaluate(SufficientStatistics, MvnParameters, Span{double}, Span{double})"/>, from (n, xbar, M) directly.
    /// With n = 0 this is the scatter term alone, 1/2 tr(S^-1 M) and its gradient -S^-1 M S^-1 Lambda: J is linear
    /// in M, which is how a regularised scatter M + dM is added on top of a data term.
    /// </summary>
    public static double Evaluate(double n, ReadOnlySpan<double> mean, ReadOnlySpan<double> scatter, MvnParameters theta,
        Span<double> gradMu, Span<double> gradLambda)
    {
        ArgumentNullException.ThrowIfNull(theta);
        int d = theta.Dimension;
        if (mean.Length != d || scatter.Length != d * d)
            throw new ArgumentException($"statistics of dimension {mean.Length} do not match theta of dimension {d}");
        bool wantGrad = !gradMu.IsEmpty || !gradLambda.IsEmpty;
        if (wantGrad && (gradMu.Length != d || gradLambda.Length != d * d))
            throw new ArgumentException($"gradient buffers must have lengths {d} and {d * d}");

        var pool = ArrayPool<double>.Shared;
        double[] l = pool.Rent(d * d), g = pool.Rent(d * d), u = pool.Rent(d);
        try
        {
            var L = l.AsSpan(0, d * d);
            if (!LowerFactor(theta, L)) return double.PositiveInfinity;

            double logDetS = 0;
            for (int i = 0; i < d; i++) logDetS += 2 * Math.Log(Math.Abs(L[i * d + i]));

            // u = L^-1 (xbar - mu)
            var U = u.AsSpan(0, d);
            for (int i = 0; i < d; i++) U[i] = mean[i] - theta.Mu[i];
            Dense.SolveLowerInPlace(L, d, U, 1);

            // G = L^-1 M L^-T + n u u^T
            var G = g.AsSpan(0, d * d);
            scatter.CopyTo(G);
            Dense.SolveLowerInPlace(L, d, G, d);   // L^-1 M
            Dense.TransposeInPlace(G, d);          // M L^-T
            Dense.SolveLowerInPlace(L, d, G, d);   // L^-1 M L^-T
            double trace = 0;
            for (int i = 0; i < d; i++)
            {
                for (int j = 0; j < i; j++)
                {
                    double v = 0.5 * (G[i * d + j] + G[j * d + i]) + n * U[i] * U[j];
                    G[i * d + j] = v;
                    G[j * d + i] = v;
                }
                G[i * d + i] += n * U[i] * U[i];
                trace += G[i * d + i];
            }

            double j0 = 0.5 * n * d * Log2Pi + 0.5 * n * logDetS + 0.5 * trace;
            if (!wantGrad) return j0;

            // dJ/dmu = -n S^-1 (xbar - mu) = -n L^-T u
            U.CopyTo(gradMu);
            Dense.SolveLowerTransposeInPlace(L, d, gradMu, 1);
            for (int i = 0; i < d; i++) gradMu[i] *= -n;

            // X = L^-T (n I - G)
            for (int i = 0; i < d * d; i++) G[i] = -G[i];
            for (int i = 0; i < d; i++) G[i * d + i] += n;
            Dense.SolveLowerTransposeInPlace(L, d, G, d);

            if (theta.Parameterization == Parameterization.LowerTriangular)
            {
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < d; j++)
                        gradLambda[i * d + j] = j <= i ? G[i * d + j] : 0.0;
            }
            else
            {
                // dJ/dLambda = X (L^-1 Lambda)
                var P = pool.Rent(d * d);
                try
                {
                    theta.Lambda.CopyTo(P, 0);
                    Dense.SolveLowerInPlace(L, d, P.AsSpan(0, d * d), d);
                    Dense.Multiply(G, d, d, P.AsSpan(0, d * d), d, gradLambda);
                }
                finally { pool.Return(P); }
            }
            return j0;
        }
        finally
        {
            pool.Return(l);
            pool.Return(g);
            pool.Return(u);
        }
    }

    /// <summary>
    /// J and its gradients computed directly from raw rows (k x d row-major) term by term, as the seed
    /// writes them: J = n d/2 log 2pi + n/2 log|S| + 1/2 sum_a r_a^T S^-1 r_a with r_a = x_a - mu,
    /// dJ/dmu = -sum_a S^-1 r_a and dJ/dLambda = n S^-1 Lambda - (sum_a v_a v_a^T) Lambda with v_a = S^-1 r_a.
    /// An independent path for checking the statistics route; O(k d^2).
    /// </summary>
    public static double EvaluateRows(ReadOnlySpan<double> rows, int k, MvnParameters theta, Span<double> gradMu, Span<double> gradLambda)
    {
        ArgumentNullException.ThrowIfNull(theta);
        int d = theta.Dimension;
        if (rows.Length < k * d) throw new ArgumentException($"{rows.Length} values for {k} x {d} rows", nameof(rows));
        bool wantGrad = !gradMu.IsEmpty || !gradLambda.IsEmpty;
        var L = new double[d * d];
        if (!LowerFactor(theta, L)) return double.PositiveInfinity;
        double logDetS = 0;
        for (int i = 0; i < d; i++) logDetS += 2 * Math.Log(Math.Abs(L[i * d + i]));

        double quad = 0;
        var v = new double[d];
        var sumV = new double[d];
        var vv = new double[d * d];
        for (int a = 0; a < k; a++)
        {
            var x = rows.Slice(a * d, d);
            for (int i = 0; i < d; i++) v[i] = x[i] - theta.Mu[i];
            Dense.SolveLowerInPlace(L, d, v, 1);          // w = L^-1 r
            quad += Dense.Dot(v, v);                      // r^T S^-1 r = |w|^2
            if (!wantGrad) continue;
            Dense.SolveLowerTransposeInPlace(L, d, v, 1); // v = L^-T w = S^-1 r
            for (int i = 0; i < d; i++)
            {
                sumV[i] += v[i];
                Syrk.Axpy(v[i], v, vv.AsSpan(i * d, d));
            }
        }
        double j0 = 0.5 * k * d * Log2Pi + 0.5 * k * logDetS + 0.5 * quad;
        if (!wantGrad) return j0;

        for (int i = 0; i < d; i++) gradMu[i] = -sumV[i];
        // n S^-1 Lambda = n L^-T L^-1 Lambda
        var sl = (double[])theta.Lambda.Clone();
        Dense.SolveLowerInPlace(L, d, sl, d);
        Dense.SolveLowerTransposeInPlace(L, d, sl, d);
        var vl = new double[d * d];
        Dense.Multiply(vv, d, d, theta.Lambda, d, vl);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double gij = k * sl[i * d + j] - vl[i * d + j];
                gradLambda[i * d + j] = theta.Parameterization == Parameterization.LowerTriangular && j > i ? 0.0 : gij;
            }
        return j0;
    }

    /// <summary>
    /// J* = n/2 (d log 2pi + log|M/n| + d), the minimum of J, attained at mu* = xbar, S* = M/n.
    /// Throws <see cref="DegenerateDataException"/> when M/n is not positive definite.
    /// </summary>
    public static double OptimalValue(double n, ReadOnlySpan<double> scatter, int d)
    {
        if (n <= 0) return 0;
        var s = new double[d * d];
        for (int i = 0; i < d * d; i++) s[i] = scatter[i] / n;
        var l = new double[d * d];
        if (!Dense.TryCholesky(s, d, l))
            throw new DegenerateDataException("the scatter matrix M/n is not positive definite, so J* = min J does not exist");
        double logDet = 0;
        for (int i = 0; i < d; i++) logDet += 2 * Math.Log(l[i * d + i]);
        return 0.5 * n * (d * Log2Pi + logDet + d);
    }

    /// <summary>A lower factor L with L L^T = S: Lambda itself (tril) or chol(Lambda Lambda^T) (full).</summary>
    internal static bool LowerFactor(MvnParameters theta, Span<double> l)
    {
        int d = theta.Dimension;
        if (theta.Parameterization == Parameterization.LowerTriangular)
        {
            theta.Lambda.CopyTo(l);
            for (int i = 0; i < d; i++)
            {
                double v = l[i * d + i];
                if (v == 0 || !double.IsFinite(v)) return false;
            }
            return true;
        }
        return Dense.TryCholesky(theta.Covariance(), d, l);
    }
}
