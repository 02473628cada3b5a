using MvnStream.Core.Model;
using MvnStream.Core.Numerics;
using MvnStream.Core.Solvers;

namespace MvnStream.Core.Fitting;

/// <summary>
/// J/n in coordinates whitened by a frame theta_k = (mu_k, Lambda_k) (docs/ARCHITECTURE.md, "Solvers"):
/// <code>
/// theta(z) = (mu_k + Lambda_k m,  Lambda_k (I + Z)),   z = (m, Z), Z lower-triangular for tril
/// dJ/dm    = Lambda_k^T dJ/dmu,   dJ/dZ = Lambda_k^T dJ/dLambda  (tril of it for tril)
/// </code>
/// The problem is affine-equivariant: rows x -> A x + b move the optimum to (A mu + b, A Lambda). In these
/// coordinates J depends on the data only through the rows whitened by the frame, so a solver's path does not
/// depend on the data's units or correlations; with the frame at the optimum the Hessian at z = 0 has condition
/// number 2. Only the gradients at theta and the frame are used (no Hessian, no solve with the data's scatter).
/// For tril, tril(Lambda_k^T tril(G)) = tril(Lambda_k^T G) because Lambda_k^T is upper-triangular, so the tril
/// gradient the sources return is enough.
/// <para>
/// The stopping measure is the distance to the optimum in standard-deviation units, which the raw gradient gives
/// exactly: xbar - mu = -S dJ/dmu / n and S - S* = (S - C(mu)/n) + (xbar - mu)(xbar - mu)^T with
/// n S - C(mu) = L sym(tril(L^T dJ/dLambda)) L^T (tril, L = Lambda) or S (dJ/dLambda) Lambda^T (full). It is
/// max(max_i |mu_i - xbar_i| / sd_i, max_ij |S_ij - S*_ij| / (sd_i sd_j)), sd_i = sqrt(S_ii), the accuracy the fit
/// promises; unlike a gradient norm it is the same number for the data in any units. Computing it costs three
/// d x d products, so it is computed only when the whitened gradient (an upper bound for it near the frame, up
/// to the frame's distance) is below <see cref="ExactMeasureBelow"/>.
/// </para>
/// </summary>
internal sealed class WhitenedObjective : IDifferentiableFunction, IStoppingMeasure
{
    /// <summary>Below this whitened gradient norm the exact standard-deviation measure is computed.</summary>
    private const double ExactMeasureBelow = 1e-2;

    private readonly IDifferentiableFunction _raw;
    private readonly int _d;
    private readonly Parameterization _p;
    private readonly double[] _mu, _frame, _frameT;
    private readonly double[] _z, _x, _gRaw, _gMu, _gL, _prod, _prod2;

    /// <param name="raw">J/n over the packed raw parameters (mu, Lambda), with its packed gradient.</param>
    /// <param name="frame">theta_k.</param>
    public WhitenedObjective(IDifferentiableFunction raw, MvnParameters frame)
    {
        _raw = raw;
        _d = frame.Dimension;
        _p = frame.Parameterization;
        _mu = frame.Mu;
        _frame = frame.Lambda;
        _frameT = (double[])frame.Lambda.Clone();
        Dense.TransposeInPlace(_frameT, _d); // products with Lambda_k^T read it row by row
        Length = raw.Length;
        int dd = _d * _d;
        _z = new double[dd];
        _x = new double[Length];
        _gRaw = new double[Length];
        _gMu = new double[_d];
        _gL = new double[dd];
        _prod = new double[dd];
        _prod2 = new double[dd];
    }

    public int Length { get; }

    /// <summary>Computed when asked (the solvers ask once per iteration, not for every line-search trial).</summary>
    public double LastStoppingMeasure
    {
        get
        {
            if (double.IsNaN(_measure)) _measure = _whitenedNorm > ExactMeasureBelow ? _whitenedNorm : DistanceInStandardDeviations();
            return _measure;
        }
    }

    private double _measure = double.PositiveInfinity, _whitenedNorm = double.PositiveInfinity;

    /// <summary>theta(z) packed as the raw objective takes it.</summary>
    public void ToRaw(ReadOnlySpan<double> z, Span<double> x)
    {
        int d = _d;
        // mu = mu_k + Lambda_k m
        for (int i = 0; i < d; i++)
        {
            double s = _mu[i];
            var row = _frame.AsSpan(i * d, d);
            for (int k = 0; k < d; k++) s += row[k] * z[k];
            x[i] = s;
        }
        // Lambda = Lambda_k + Lambda_k Z
        MvnParameters.UnpackLambda(z, d, _p, _z);
        ScaleToNatural(_z);

        Dense.Multiply(_frame, d, d, _z, d, _prod);
        for (int i = 0; i < d * d; i++) _prod[i] += _frame[i];
        MvnParameters.PackInto(x[..d], _prod, d, _p, x);
    }

    /// <summary>theta(z) as parameters.</summary>
    public MvnParameters ToParameters(ReadOnlySpan<double> z)
    {
        var x = new double[Length];
        ToRaw(z, x);
        return MvnParameters.Unpack(x, _d, _p);
    }

    public double Evaluate(ReadOnlySpan<double> z, Span<double> gradient)
    {
        int d = _d;
        ToRaw(z, _x);
        _measure = _whitenedNorm = double.PositiveInfinity;
        double v = _raw.Evaluate(_x, _gRaw);
        if (!double.IsFinite(v)) return double.PositiveInfinity;

        // Whiten the gradient: Lambda_k^T dJ/dmu, Lambda_k^T dJ/dLambda.
        for (int k = 0; k < d; k++) gradient[k] = 0;
        for (int i = 0; i < d; i++)
        {
            double gi = _gRaw[i];
            if (gi == 0) continue;
            var row = _frame.AsSpan(i * d, d);
            for (int k = 0; k < d; k++) gradient[k] += row[k] * gi;
        }
        MvnParameters.UnpackLambda(_gRaw, d, _p, _gL);
        Dense.Multiply(_frameT, d, d, _gL, d, _prod);
        ScaleToNatural(_prod);

        MvnParameters.PackInto(gradient[..d], _prod, d, _p, gradient);

        _whitenedNorm = TrackedFunction.Norm(gradient);
        _measure = double.NaN;
        return v;
    }

    /// <summary>
    /// Z from the solver's coordinate (and dJ/dz from dJ/dZ, the same factor): Z_ii = z_ii / sqrt 2 for tril, Z = z / sqrt 2
    /// for full. At the optimum the Hessian of J/n in Z weighs a tril diagonal entry 2 and an off-diagonal one 1, and
    /// a full Z's symmetric part 2 (its antisymmetric part, a rotation, 0); with this scaling the Hessian in z is the
    /// identity there (mu's part already is), so the step -grad with t = 1 is the Newton (Fisher scoring) step.
    /// </summary>
    private void ScaleToNatural(Span<double> z)
    {
        int d = _d;
        if (_p == Parameterization.LowerTriangular)
            for (int i = 0; i < d; i++) z[i * d + i] *= InvSqrt2;
        else
            for (int i = 0; i < d * d; i++) z[i] *= InvSqrt2;
    }

    private const double InvSqrt2 = 0.70710678118654752440;

    /// <summary>The exact distance to the optimum in sd units at the raw point and gradient just evaluated.</summary>
    private double DistanceInStandardDeviations()
    {
        int d = _d;
        var lambda = new double[d * d];
        MvnParameters.UnpackLambda(_x, d, _p, lambda);
        _gRaw.AsSpan(0, d).CopyTo(_gMu);
        MvnParameters.UnpackLambda(_gRaw, d, _p, _gL);
        var s = new double[d * d];
        Dense.MultiplyByOwnTranspose(lambda, d, s);
        var sd = new double[d];
        for (int i = 0; i < d; i++) sd[i] = Math.Sqrt(s[i * d + i]);

        // e = xbar - mu = -S g_mu (per row)
        var e = new double[d];
        for (int i = 0; i < d; i++) e[i] = -Dense.Dot(s.AsSpan(i * d, d), _gMu);

        // R = S - C(mu)/n (per row)
        var r = new double[d * d];
        if (_p == Parameterization.LowerTriangular)
        {
            // Y = sym(tril(L^T gL)); R = L Y L^T
            var lt = (double[])lambda.Clone();
            Dense.TransposeInPlace(lt, d);
            Dense.Multiply(lt, d, d, _gL, d, _prod);
            for (int i = 0; i < d; i++)
                for (int j = 0; j < i; j++)
                    _prod[j * d + i] = _prod[i * d + j];
            Dense.Multiply(lambda, d, d, _prod, d, _prod2);       // L Y
            Dense.Multiply(_prod2, d, d, lt, d, r);                // L Y L^T
        }
        else
        {
            // R = S gL Lambda^T
            Dense.Multiply(s, d, d, _gL, d, _prod2);
            Dense.TransposeInPlace(lambda, d);
            Dense.Multiply(_prod2, d, d, lambda, d, r);
        }

        double worst = 0;
        for (int i = 0; i < d; i++)
        {
            if (!(sd[i] > 0)) return double.PositiveInfinity;
            worst = Math.Max(worst, Math.Abs(e[i]) / sd[i]);
            for (int j = 0; j <= i; j++)
            {
                double rij = 0.5 * (r[i * d + j] + r[j * d + i]) + e[i] * e[j];
                worst = Math.Max(worst, Math.Abs(rij) / (sd[i] * sd[j]));
            }
        }
        return double.IsFinite(worst) ? worst : double.PositiveInfinity;
    }
}
