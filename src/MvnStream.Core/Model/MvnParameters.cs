using MvnStream.Core.Numerics;

namespace MvnStream.Core.Model;

/// <summary>
/// theta = (mu, Lambda): mean mu (d) and covariance factor Lambda (d x d row-major), S = Lambda Lambda^T.
/// For <see cref="Parameterization.LowerTriangular"/> the strict upper triangle of Lambda is zero.
/// </summary>
public sealed class MvnParameters
{
    public MvnParameters(double[] mu, double[] lambda, Parameterization parameterization)
    {
        ArgumentNullException.ThrowIfNull(mu);
        ArgumentNullException.ThrowIfNull(lambda);
        if (mu.Length == 0) throw new ArgumentException("mu is empty", nameof(mu));
        if (lambda.Length != mu.Length * mu.Length)
            throw new ArgumentException($"lambda has {lambda.Length} entries, expected {mu.Length} x {mu.Length}", nameof(lambda));
        Mu = mu;
        Lambda = lambda;
        Parameterization = parameterization;
        if (parameterization == Parameterization.LowerTriangular)
        {
            int d = mu.Length;
            for (int i = 0; i < d; i++)
                for (int j = i + 1; j < d; j++)
                    if (lambda[i * d + j] != 0)
                        throw new ArgumentException($"lambda[{i},{j}] = {lambda[i * d + j]} is above the diagonal of a lower-triangular parameterization", nameof(lambda));
        }
    }

    public int Dimension => Mu.Length;
    public double[] Mu { get; }
    public double[] Lambda { get; }
    public Parameterization Parameterization { get; }

    /// <summary>Number of free parameters: d + d(d+1)/2 (tril) or d + d^2 (full).</summary>
    public static int PackedLength(int d, Parameterization p) =>
        d + (p == Parameterization.LowerTriangular ? d * (d + 1) / 2 : d * d);

    /// <summary>mu = 0, Lambda = I.</summary>
    public static MvnParameters Identity(int d, Parameterization p)
    {
        var l = new double[d * d];
        for (int i = 0; i < d; i++) l[i * d + i] = 1;
        return new MvnParameters(new double[d], l, p);
    }

    /// <summary>S = Lambda Lambda^T.</summary>
    public double[] Covariance()
    {
        int d = Dimension;
        var s = new double[d * d];
        Dense.MultiplyByOwnTranspose(Lambda, d, s);
        return s;
    }

    /// <summary>Writes [mu, free entries of Lambda (row-major; lower triangle only for tril)] into <paramref name="x"/>.</summary>
    public void Pack(Span<double> x) => PackInto(Mu, Lambda, Dimension, Parameterization, x);

    /// <summary>Packs mu and Lambda (or their gradients) as <see cref="Pack"/> does.</summary>
    public static void PackInto(ReadOnlySpan<double> mu, ReadOnlySpan<double> lambda, int d, Parameterization p, Span<double> x)
    {
        mu.CopyTo(x);
        int o = d;
        if (p == Parameterization.Full) { lambda[..(d * d)].CopyTo(x[o..]); return; }
        for (int i = 0; i < d; i++)
        {
            lambda.Slice(i * d, i + 1).CopyTo(x.Slice(o, i + 1));
            o += i + 1;
        }
    }

    /// <summary>Inverse of <see cref="Pack"/>.</summary>
    public static MvnParameters Unpack(ReadOnlySpan<double> x, int d, Parameterization p)
    {
        var mu = x[..d].ToArray();
        var l = new double[d * d];
        UnpackLambda(x, d, p, l);
        return new MvnParameters(mu, l, p);
    }

    /// <summary>Writes the Lambda part of a packed vector (entries d.. of <paramref name="x"/>) into a d x d matrix.</summary>
    public static void UnpackLambda(ReadOnlySpan<double> x, int d, Parameterization p, Span<double> lambda)
    {
        int o = d;
        if (p == Parameterization.Full) { x.Slice(o, d * d).CopyTo(lambda); return; }
        lambda[..(d * d)].Clear();
        for (int i = 0; i < d; i++)
        {
            x.Slice(o, i + 1).CopyTo(lambda.Slice(i * d, i + 1));
            o += i + 1;
        }
    }

    public MvnParameters Clone() => new((double[])Mu.Clone(), (double[])Lambda.Clone(), Parameterization);

    /// <summary>
    /// The same covariance in the other parameterization: tril -> full keeps Lambda; full -> tril
    /// takes the Cholesky factor of S (throws if S is not positive definite).
    /// </summary>
    public MvnParameters As(Parameterization target)
    {
        if (target == Parameterization) return Clone();
        if (target == Parameterization.Full) return new MvnParameters((double[])Mu.Clone(), (double[])Lambda.Clone(), target);
        int d = Dimension;
        var l = new double[d * d];
        if (!Dense.TryCholesky(Covariance(), d, l)) throw new InvalidOperationException("covariance is not positive definite");
        return new MvnParameters((double[])Mu.Clone(), l, target);
    }
}
