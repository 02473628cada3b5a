using MvnStream.Core.Model;
using MvnStream.Core.Numerics;
using MvnStream.Core.Solvers;

namespace MvnStream.Core.Fitting;

/// <summary>
/// J/n in coordinates whitened by a frame theta_k = (mu_k, L_k), L_k lower-triangular with L_k L_k^T = S_k
/// (docs/ARCHITECTURE.md, "Solvers"):
/// <code>
/// tril:  theta(z) = (mu_k + L_k m,  L_k (I + Z)),            Z lower-triangular
/// full:  theta(z) = (mu_k + L_k m,  L_k (I + Z)),            Z full; evaluated through its lower factor L_k chol(B B^T), B = I + Z
/// dJ/dm  = L_k^T dJ/dmu,   dJ/dZ = L_k^T dJ/dLambda  (tril of it for tril)
/// </code>
/// The problem is affine-equivariant: rows x -> A x + b move the optimum to (A mu + b, A Lambda). In these
/// coordinates J depends on the data only through the rows whitened by the frame, so a solver's path does not
/// depend on the data's units or correlations; with the frame at the optimum the Hessian at z = 0 is the identity
/// (after <see cref="ScaleToNatural"/>). Only the gradients at theta and the frame are used (no Hessian, no solve
/// with the data's scatter). For tril, tril(L_k^T tril(G)) = tril(L_k^T G) because L_k^T is upper-triangular, so the
/// tril gradient the sources return is enough.
/// <para>
/// The data term is always evaluated in the lower-triangular parameterization (<paramref name="raw"/> takes packed
/// tril parameters). A full Lambda = L_k B has the same S as its lower factor L = L_k chol(B B^T), and J depends on
/// Lambda only through S; B is near I in a frame near the optimum, so chol(B B^T) is well conditioned, while a factor of
/// the formed S = Lambda Lambda^T would square Lambda's condition number (1e12 becomes 1e24, past double precision).
/// The full gradient follows from the tril one: with Y = sym(tril(L^T dJ/dL)) (= n I - L^-1 C L^-T),
/// dJ/dLambda = L^-T Y L^-1 Lambda, so dJ/dZ = L_k^T dJ/dLambda = chol(B B^T)^-T Y chol(B B^T)^-1 B. A full fit ends on
/// a lower-triangular Lambda (a valid full Lambda: full factors are defined up to a rotation).
/// </para>
/// <para>
/// The stopping measure is the distance to the optimum in standard-deviation units, which the raw gradient gives
/// exactly: xbar - mu = -S dJ/dmu / n and S - S* = (S - C(mu)/n) + (xbar - mu)(xbar - mu)^T with
/// n S - C(mu) = L sym(tril(L^T dJ/dL)) L^T. It is max(max_i |mu_i - xbar_i| / sd_i, max_ij |S_ij - S*_ij| / (sd_i sd_j)),
/// sd_i = sqrt(S_ii), the accuracy the fit promises; unlike a gradient norm it is the same number for the data in any
/// units. Computing it costs three d x d products, so it is computed when a solver asks (once per iteration) and only
/// when the whitened gradient (close to it near the frame) is below <see cref="ExactMeasureBelow"/>.
/// </para>
/// </summary>
internal sealed class WhitenedObjective : IDifferentiableFunction, IStoppingMeasure
{
    /// <summary>Below this whitened gradient norm the exact standard-deviation measure is computed.</summary>
    private const double ExactMeasureBelow = 1e-2;

    private const double InvSqrt2 = 0.70710678118654752440;

    private readonly IDifferentiableFunction _raw;
    private readonly int _d;
    private readonly Parameterization _p;
    private readonly double[] _mu, _frame, _frameT;
    private readonly double[] _z, _x, _gRaw, _gMu, _gL, _l, _b, _cb, _prod, _prod2;
    private double _measure = double.PositiveInfinity, _whitenedNorm = double.PositiveInfinity;

    /// <param name="raw">J/n over packed lower-triangular parameters (mu, L), with its packed gradient.</param>
    /// <param name="frame">theta_k; its covariance factor is brought to lower-triangular form when it is not.</param>
    public WhitenedObjective(IDifferentiableFunction raw, MvnParameters frame)
    {
        _raw = raw;
        _d = frame.Dimension;
        _p = frame.Parameterization;
        _mu = frame.Mu;
        _frame = IsLower(frame.Lambda, _d) ? frame.Lambda : frame.As(Parameterization.LowerTriangular).Lambda;
        _frameT = (double[])_frame.Clone();
        Dense.TransposeInPlace(_frameT, _d); // products with L_k^T read it row by row
        Length = MvnParameters.PackedLength(_d, _p);
        if (raw.Length != MvnParameters.PackedLength(_d, Parameterization.LowerTriangular))
            throw new ArgumentException("the raw objective must take packed lower-triangular parameters", nameof(raw));
        int dd = _d * _d;
        _z = new double[dd];
        _x = new double[raw.Length];
        _gRaw = new double[raw.Length];
        _gMu = new double[_d];
        _gL = new double[dd];
        _l = new double[dd];
        _b = new double[dd];
        _cb = new double[dd];
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

    /// <summary>theta(z) as parameters of the fit's parameterization (a lower-triangular Lambda for full, see above).</summary>
    public MvnParameters ToParameters(ReadOnlySpan<double> z)
    {
        var x = new double[_raw.Length];
        if (!ToRaw(z, x)) throw new InvalidOperationException("the point is outside the domain (its covariance is singular)");
        var mu = x.AsSpan(0, _d).ToArray();
        var l = new double[_d * _d];
        MvnParameters.UnpackLambda(x, _d, Parameterization.LowerTriangular, l);
        return new MvnParameters(mu, l, _p);
    }

    /// <summary>theta(z) packed as the raw (lower-triangular) objective takes it; false when it has no lower factor.</summary>
    private bool ToRaw(ReadOnlySpan<double> z, Span<double> x)
    {
        int d = _d;
        // mu = mu_k + L_k m
        for (int i = 0; i < d; i++)
        {
            double s = _mu[i];
            var row = _frame.AsSpan(i * d, i + 1);
            for (int k = 0; k <= i; k++) s += row[k] * z[k];
            x[i] = s;
        }
        MvnParameters.UnpackLambda(z, d, _p, _z);
        ScaleToNatural(_z);
        if (_p == Parameterization.LowerTriangular)
        {
            // L = L_k + L_k Z
            Dense.Multiply(_frame, d, d, _z, d, _l);
            for (int i = 0; i < d * d; i++) _l[i] += _frame[i];
        }
        else
        {
            // L = L_k chol(B B^T), B = I + Z
            _z.CopyTo(_b, 0);
            for (int i = 0; i < d; i++) _b[i * d + i] += 1;
            Dense.MultiplyByOwnTranspose(_b, d, _prod);
            if (!Dense.TryCholesky(_prod, d, _cb)) return false;
            Dense.Multiply(_frame, d, d, _cb, d, _l);
        }
        for (int i = 0; i < d; i++)
            if (!(_l[i * d + i] != 0 && double.IsFinite(_l[i * d + i]))) return false;
        MvnParameters.PackInto(x[..d], _l, d, Parameterization.LowerTriangular, x);
        return true;
    }

    public double Evaluate(ReadOnlySpan<double> z, Span<double> gradient)
    {
        int d = _d;
        _measure = _whitenedNorm = double.PositiveInfinity;
        if (!ToRaw(z, _x)) return double.PositiveInfinity;
        double v = _raw.Evaluate(_x, _gRaw);
        if (!double.IsFinite(v)) return double.PositiveInfinity;

        // dJ/dm = L_k^T dJ/dmu
        for (int k = 0; k < d; k++) gradient[k] = 0;
        for (int i = 0; i < d; i++)
        {
            double gi = _gRaw[i];
            if (gi == 0) continue;
            var row = _frame.AsSpan(i * d, i + 1);
            for (int k = 0; k <= i; k++) gradient[k] += row[k] * gi;
        }
        MvnParameters.UnpackLambda(_gRaw, d, Parameterization.LowerTriangular, _gL);
        if (_p == Parameterization.LowerTriangular)
        {
            Dense.Multiply(_frameT, d, d, _gL, d, _prod); // L_k^T dJ/dL; its tril is the gradient in Z
        }
        else
        {
            // dJ/dZ = chol(B B^T)^-T Y chol(B B^T)^-1 B with Y = sym(tril(L^T dJ/dL))
            SymmetricFromTril(_l, _gL, _prod2);           // Y
            _b.CopyTo(_prod, 0);
            Dense.SolveLowerInPlace(_cb, d, _prod, d);     // chol^-1 B
            var w = _gL;                                   // reuse: the tril gradient is no longer needed
            Dense.Multiply(_prod2, d, d, _prod, d, w);     // Y chol^-1 B
            Dense.SolveLowerTransposeInPlace(_cb, d, w, d);
            w.AsSpan(0, d * d).CopyTo(_prod);
        }
        ScaleToNatural(_prod);
        MvnParameters.PackInto(gradient[..d], _prod, d, _p, gradient);

        _whitenedNorm = TrackedFunction.Norm(gradient);
        _measure = double.NaN;
        return v;
    }

    /// <summary>Y = sym(tril(L^T G)) for lower-triangular L and G (d x d): the symmetric n I - L^-1 C L^-T per row.</summary>
    private void SymmetricFromTril(double[] l, double[] g, double[] y)
    {
        int d = _d;
        var lt = (double[])l.Clone();
        Dense.TransposeInPlace(lt, d);
        Dense.Multiply(lt, d, d, g, d, y);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < i; j++)
                y[j * d + i] = y[i * d + j];
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

    /// <summary>The exact distance to the optimum in sd units at the raw point and gradient just evaluated.</summary>
    private double DistanceInStandardDeviations()
    {
        int d = _d;
        var l = new double[d * d];
        MvnParameters.UnpackLambda(_x, d, Parameterization.LowerTriangular, l);
        _gRaw.AsSpan(0, d).CopyTo(_gMu);
        var gl = new double[d * d];
        MvnParameters.UnpackLambda(_gRaw, d, Parameterization.LowerTriangular, gl);
        var s = new double[d * d];
        Dense.MultiplyByOwnTranspose(l, d, s);

        // e = xbar - mu = -S g_mu (per row)
        var e = new double[d];
        for (int i = 0; i < d; i++) e[i] = -Dense.Dot(s.AsSpan(i * d, d), _gMu);

        // R = S - C(mu)/n = L Y L^T (per row)
        var y = new double[d * d];
        SymmetricFromTril(l, gl, y);
        var ly = new double[d * d];
        Dense.Multiply(l, d, d, y, d, ly);
        Dense.TransposeInPlace(l, d);
        var r = new double[d * d];
        Dense.Multiply(ly, d, d, l, d, r);

        double worst = 0;
        for (int i = 0; i < d; i++)
        {
            double sdi = Math.Sqrt(s[i * d + i]);
            if (!(sdi > 0)) return double.PositiveInfinity;
            worst = Math.Max(worst, Math.Abs(e[i]) / sdi);
            for (int j = 0; j <= i; j++)
            {
                double rij = 0.5 * (r[i * d + j] + r[j * d + i]) + e[i] * e[j];
                worst = Math.Max(worst, Math.Abs(rij) / (sdi * Math.Sqrt(s[j * d + j])));
            }
        }
        return double.IsFinite(worst) ? worst : double.PositiveInfinity;
    }

    private static bool IsLower(double[] l, int d)
    {
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++)
                if (l[i * d + j] != 0) return false;
        return true;
    }
}
