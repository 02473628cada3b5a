using MvnStream.Core.Model;
using MvnStream.Core.Numerics;
using MvnStream.Core.Solvers;

namespace MvnStream.Core.Fitting;

/// <summary>
/// J/n in coordinates whitened by a frame theta_k = (mu_k, L_k), L_k lower-triangular with L_k L_k^T = S_k
/// (docs/ARCHITECTURE.md, "Solvers"):
/// <code>
/// mu = mu_k + L_k m,   S = L_k (I + Z) L_k^T,   Z symmetric,   Lambda = L_k chol(I + Z)
/// dJ/dm = L_k^T dJ/dmu,   dJ/dZ = L_k^T dJ/dS L_k
/// </code>
/// The problem is affine-equivariant: rows x -> A x + b move the optimum to (A mu + b, A Lambda). In these
/// coordinates J depends on the data only through the rows whitened by the frame, y = L_k^-1 (x - mu_k), and it is
/// invariant under a rotation of y (with m -> Q^T m, Z -> Q^T Z Q), so a solver's path does not depend on the data's
/// units or correlations, nor on which factor of S_k the frame is. J depends on Lambda only through S, so the
/// coordinates are those of S; --param tril and full share them and differ only in the factor that is stored (a full fit
/// ends on a lower-triangular Lambda, a valid full Lambda: full factors are defined up to a rotation).
/// <para>
/// S is linear in Z. With the scaling of <see cref="Pack"/> the Hessian at the optimum is the identity, and more: the
/// unit step -grad from z = 0 is the Fisher-scoring step, which for the Gaussian lands on (xbar, S* + e e^T),
/// e = xbar - mu_k, from any frame (with mu_k = xbar on the optimum itself). A first-order method in these coordinates
/// therefore needs a few steps whatever the conditioning: only gradients at theta and the frame are used (no Hessian,
/// no solve with the data's scatter). A factor of S = L L^T is never formed from S: L = L_k chol(I + Z), and I + Z is
/// near I in a frame near the optimum, so its factor is well conditioned while a factor of the formed S would square
/// Lambda's condition number (1e12 becomes 1e24, past double precision).
/// </para>
/// <para>
/// The data term is always evaluated in the lower-triangular parameterization (<paramref name="raw"/> takes packed
/// tril parameters). Its gradient gives dJ/dS through Y = sym(tril(L^T dJ/dL)) = 2 L^T (dJ/dS) L, so with
/// R = chol(I + Z): dJ/dZ = L_k^T (dJ/dS) L_k = R^-T (Y / 2) R^-1 (two triangular solves).
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

    private const double Sqrt2 = 1.41421356237309504880;

    private readonly IDifferentiableFunction _raw;
    private readonly int _d;
    private readonly Parameterization _p;
    private readonly double[] _mu, _frame;
    private readonly double[] _x, _gRaw, _gMu, _gL, _l, _a, _r, _y, _u;
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
        Length = CoordinateLength(_d);
        if (raw.Length != MvnParameters.PackedLength(_d, Parameterization.LowerTriangular))
            throw new ArgumentException("the raw objective must take packed lower-triangular parameters", nameof(raw));
        int dd = _d * _d;
        _x = new double[raw.Length];
        _gRaw = new double[raw.Length];
        _gMu = new double[_d];
        _gL = new double[dd];
        _l = new double[dd];
        _a = new double[dd];
        _r = new double[dd];
        _y = new double[dd];
        _u = new double[dd];
    }

    /// <summary>d entries of m and d(d+1)/2 of the symmetric Z, whatever the parameterization.</summary>
    public static int CoordinateLength(int d) => d + d * (d + 1) / 2;

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

    /// <summary>theta(z) packed as the raw (lower-triangular) objective takes it; false when I + Z is not positive definite.</summary>
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
        // L = L_k chol(I + Z)
        Unpack(z[d..], _a);
        for (int i = 0; i < d; i++) _a[i * d + i] += 1;
        if (!Dense.TryCholesky(_a, d, _r)) return false;
        Dense.Multiply(_frame, d, d, _r, d, _l);
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
        // dJ/dZ = R^-T (Y / 2) R^-1, Y = sym(tril(L^T dJ/dL))
        MvnParameters.UnpackLambda(_gRaw, d, Parameterization.LowerTriangular, _gL);
        SymmetricFromTril(_l, _gL, _y);
        for (int i = 0; i < d * d; i++) _y[i] *= 0.5;
        Dense.SolveLowerTransposeInPlace(_r, d, _y, d);   // U = R^-T (Y/2)
        Dense.TransposeInPlace(_y, d);                      // U^T = (Y/2) R^-1
        Dense.SolveLowerTransposeInPlace(_r, d, _y, d);   // R^-T (Y/2) R^-1
        PackGradient(_y, gradient[d..]);

        _whitenedNorm = TrackedFunction.Norm(gradient);
        _measure = double.NaN;
        return v;
    }

    /// <summary>
    /// Z from the solver's coordinates w (the lower triangle, row by row): Z_ii = sqrt 2 w_ii, Z_ij = Z_ji = w_ij. The
    /// Euclidean norm of w is then the Frobenius norm of Z / sqrt 2 (rotation-invariant), and at the optimum, where J/n
    /// = const + ||m||^2 / 2 + ||Z||_F^2 / 4 to second order, the Hessian in (m, w) is the identity, so the step -grad
    /// with t = 1 is the Newton (Fisher scoring) step.
    /// </summary>
    private void Unpack(ReadOnlySpan<double> w, double[] z)
    {
        int d = _d, k = 0;
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < i; j++, k++) z[i * d + j] = z[j * d + i] = w[k];
            z[i * d + i] = Sqrt2 * w[k++];
        }
    }

    /// <summary>dJ/dw from the symmetric dJ/dZ (the chain rule of <see cref="Unpack"/>).</summary>
    private void PackGradient(double[] g, Span<double> w)
    {
        int d = _d, k = 0;
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < i; j++, k++) w[k] = g[i * d + j] + g[j * d + i];
            w[k++] = Sqrt2 * g[i * d + i];
        }
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
