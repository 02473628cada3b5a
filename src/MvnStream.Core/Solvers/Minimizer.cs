namespace MvnStream.Core.Solvers;

/// <summary>Runs the iterative solver named in the options from a starting point (warm start).</summary>
public static class Minimizer
{
    /// <summary>
    /// Minimises <paramref name="f"/> from <paramref name="x0"/>. Returns the best point found; a run
    /// ended by the iteration limit or by <paramref name="cancellationToken"/> says so in
    /// <see cref="SolverResult.Reason"/> instead of throwing.
    /// </summary>
    public static SolverResult Minimize(IDifferentiableFunction f, double[] x0, SolverOptions options,
        Action<IterationProgress>? progress = null, AdamState? adamState = null, CancellationToken cancellationToken = default) =>
        Minimize(f, x0, options, progress, adamState, null, cancellationToken);

    /// <summary>As above, with Adam's stall state carried in from an earlier run on the same objective.</summary>
    internal static SolverResult Minimize(IDifferentiableFunction f, double[] x0, SolverOptions options,
        Action<IterationProgress>? progress, AdamState? adamState, AdamCarry? adamCarry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(x0);
        ArgumentNullException.ThrowIfNull(options);
        if (x0.Length != f.Length) throw new ArgumentException($"starting point has {x0.Length} entries, the function takes {f.Length}");
        if (options.MaxIterations < 0) throw new ArgumentException("MaxIterations must be non-negative");
        var tracked = new TrackedFunction(f, cancellationToken);
        int iterations = 0;
        void Report(IterationProgress p)
        {
            iterations = p.Iteration;
            progress?.Invoke(p);
        }
        try
        {
            return options.Kind switch
            {
                SolverKind.GradientDescent => GradientDescent.Minimize(tracked, x0, options, Report),
                SolverKind.Adam => Adam.Minimize(tracked, x0, options, adamState, Report, adamCarry),
                SolverKind.Lbfgs => Lbfgs.Minimize(tracked, x0, options, Report),
                _ => throw new ArgumentException($"{options.Kind} is not an iterative solver"),
            };
        }
        catch (OperationCanceledException) when (tracked.Evaluations > 0 && double.IsFinite(tracked.BestValue))
        {
            return new SolverResult((double[])tracked.BestX.Clone(), tracked.BestValue, tracked.BestGradientNorm,
                iterations, tracked.Evaluations, StopReason.Cancelled);
        }
    }

    /// <summary>
    /// MathNet.Numerics' L-BFGS on the same function: the reference the hand-written <see cref="SolverKind.Lbfgs"/>
    /// is measured against (tests and the bench command), not offered as a solver.
    /// </summary>
    internal static SolverResult MinimizeWithMathNetLbfgs(IDifferentiableFunction f, double[] x0, SolverOptions options)
    {
        var tracked = new TrackedFunction(f, CancellationToken.None);
        return MathNetLbfgs.Minimize(tracked, x0, options, null);
    }
}
