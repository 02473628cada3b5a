using System.Diagnostics;
using MvnStream.Core.Model;
using MvnStream.Core.Numerics;
using MvnStream.Core.Objective;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;

namespace MvnStream.Core.Fitting;

/// <summary>
/// Fits theta = (mu, Lambda) by minimising J over the effective (possibly regularised) statistics,
/// with the closed form or an iterative solver. The data term comes from an <see cref="IObjectiveSource"/>
/// (local statistics or a cluster round); a regularisation adds dM = M_reg - M, which enters J linearly as
/// 1/2 tr(S^-1 dM) and is evaluated here. J* of the effective statistics is the oracle behind every gap.
/// </summary>
public static class MvnFitter
{
    /// <summary>Fits from local statistics.</summary>
    public static FitResult Fit(SufficientStatistics stats, FitOptions options, Action<FitProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(options);
        var eff = EffectiveStatistics.From(stats, options.Regularization);
        return Fit(new StatisticsObjective(stats), stats, eff, options, progress, cancellationToken);
    }

    /// <summary>
    /// Fits with the data term from <paramref name="source"/> (e.g. partial gradients summed over a
    /// cluster each evaluation). <paramref name="stats"/> are the merged statistics of the same rows: they
    /// give J*, the regularisation and the starting point, never the data term itself.
    /// </summary>
    public static FitResult Fit(IObjectiveSource source, SufficientStatistics stats, EffectiveStatistics eff, FitOptions options,
        Action<FitProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(eff);
        ArgumentNullException.ThrowIfNull(options);
        int d = eff.Dimension;
        if (source.Dimension != d) throw new ArgumentException($"objective of dimension {source.Dimension} for statistics of dimension {d}");
        var sw = Stopwatch.StartNew();
        double n = eff.N;
        double jStar = MvnObjective.OptimalValue(n, eff.Scatter, d);
        var delta = ScatterCorrection(stats, eff);
        var p = options.Parameterization;

        if (options.Solver.Kind == SolverKind.ClosedForm)
        {
            var theta = ClosedForm(eff, p);
            double jEff = MvnObjective.Evaluate(n, eff.Mean, eff.Scatter, theta, default, default);
            double jRaw = MvnObjective.Evaluate(stats.Weight, stats.Mean, stats.Scatter, theta, default, default);
            progress?.Invoke(new FitProgress(0, 1, jEff / n, (jEff - jStar) / n, 0, sw.Elapsed));
            return new FitResult(theta, SolverKind.ClosedForm, 0, 1, StopReason.ClosedForm, stats.Count, n,
                jRaw / n, (jEff - jStar) / n, jStar, 0, eff.ShrinkageUsed, options.Regularization, null, sw.Elapsed);
        }

        var start = options.Start ?? InitialGuess(eff, p);
        if (start.Dimension != d) throw new ArgumentException($"warm start has dimension {start.Dimension}, data has {d}");
        if (start.Parameterization != p) start = start.As(p);
        var f = new PackedObjective(source, delta, n, d, p);
        Action<IterationProgress>? onIteration = progress is null ? null
            : it => progress(new FitProgress(it.Iteration, it.Evaluations, it.Value, it.Value - jStar / n, it.GradientNorm, sw.Elapsed));
        SolverResult result;
        if (options.RawCoordinates)
        {
            var x0 = new double[MvnParameters.PackedLength(d, p)];
            start.Pack(x0);
            result = Minimizer.Minimize(f, x0, options.Solver, onIteration, options.AdamState, cancellationToken);
        }
        else
        {
            result = WhitenedSolver.Minimize(f, start, options.Solver, onIteration, options.AdamState, cancellationToken);
        }
        var fitted = MvnParameters.Unpack(result.X, d, p);
        double correction = delta is null ? 0 : MvnObjective.Evaluate(0, fitted.Mu, delta, fitted, default, default);
        double jEffFinal = result.Value * n;
        return new FitResult(fitted, options.Solver.Kind, result.Iterations, result.Evaluations, result.Reason, stats.Count, n,
            (jEffFinal - correction) / n, (jEffFinal - jStar) / n, jStar, result.GradientNorm, eff.ShrinkageUsed,
            options.Regularization, result.AdamState, sw.Elapsed);
    }

    /// <summary>mu* = xbar, Lambda* = chol(M'/n) (lower-triangular, also a valid full Lambda).</summary>
    public static MvnParameters ClosedForm(EffectiveStatistics eff, Parameterization parameterization)
    {
        ArgumentNullException.ThrowIfNull(eff);
        int d = eff.Dimension;
        var s = new double[d * d];
        for (int i = 0; i < d * d; i++) s[i] = eff.Scatter[i] / eff.N;
        var l = new double[d * d];
        if (!Dense.TryCholesky(s, d, l))
            throw new DegenerateDataException("the covariance M/n is not positive definite; use --ridge EPS or --shrinkage auto");
        return new MvnParameters((double[])eff.Mean.Clone(), l, parameterization);
    }

    /// <summary>
    /// The default start of the iterative solvers: mu = xbar and Lambda = diag(sqrt(S*_ii)) (moment
    /// initialisation); the solver then finds the correlations. Pass an explicit start to begin elsewhere.
    /// </summary>
    public static MvnParameters InitialGuess(EffectiveStatistics eff, Parameterization parameterization)
    {
        ArgumentNullException.ThrowIfNull(eff);
        int d = eff.Dimension;
        var l = new double[d * d];
        for (int i = 0; i < d; i++) l[i * d + i] = Math.Sqrt(eff.Scatter[i * d + i] / eff.N);
        return new MvnParameters((double[])eff.Mean.Clone(), l, parameterization);
    }

    private static double[]? ScatterCorrection(SufficientStatistics stats, EffectiveStatistics eff)
    {
        int d = eff.Dimension;
        var delta = new double[d * d];
        bool any = false;
        var m = stats.Scatter;
        for (int i = 0; i < d * d; i++)
        {
            delta[i] = eff.Scatter[i] - m[i];
            any |= delta[i] != 0;
        }
        return any ? delta : null;
    }

    /// <summary>J/n over the packed parameter vector: data term from the source plus the regularisation term.</summary>
    private sealed class PackedObjective : IDifferentiableFunction
    {
        private readonly IObjectiveSource _source;
        private readonly double[]? _delta;
        private readonly double _n;
        private readonly int _d;
        private readonly Parameterization _p;
        private readonly double[] _gMu, _gL, _gMu2, _gL2, _lambda;

        public PackedObjective(IObjectiveSource source, double[]? delta, double n, int d, Parameterization p)
        {
            _source = source;
            _delta = delta;
            _n = n;
            _d = d;
            _p = p;
            _gMu = new double[d];
            _gL = new double[d * d];
            _gMu2 = new double[d];
            _gL2 = new double[d * d];
            _lambda = new double[d * d];
            Length = MvnParameters.PackedLength(d, p);
        }

        public int Length { get; }

        public double Evaluate(ReadOnlySpan<double> x, Span<double> gradient)
        {
            MvnParameters.UnpackLambda(x, _d, _p, _lambda);
            var theta = new MvnParameters(x[.._d].ToArray(), (double[])_lambda.Clone(), _p);
            double j = _source.Evaluate(theta, _gMu, _gL);
            if (!double.IsFinite(j)) return double.PositiveInfinity;
            if (_delta is not null)
            {
                double t = MvnObjective.Evaluate(0, theta.Mu, _delta, theta, _gMu2, _gL2);
                if (!double.IsFinite(t)) return double.PositiveInfinity;
                j += t;
                for (int i = 0; i < _gL.Length; i++) _gL[i] += _gL2[i];
            }
            double inv = 1.0 / _n;
            MvnParameters.PackInto(_gMu, _gL, _d, _p, gradient);
            for (int i = 0; i < gradient.Length; i++) gradient[i] *= inv;
            return j * inv;
        }
    }
}
