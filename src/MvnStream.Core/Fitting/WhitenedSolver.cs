using MvnStream.Core.Model;
using MvnStream.Core.Solvers;

namespace MvnStream.Core.Fitting;

/// <summary>
/// Runs the iterative solver named in the options in coordinates whitened by the current theta
/// (<see cref="WhitenedObjective"/>; docs/ARCHITECTURE.md, "Solvers"): the solver starts at z = 0 in the frame of
/// theta_k, takes at most <see cref="FrameIterations"/> steps, and the frame moves to where it stopped. Gradient descent
/// and L-BFGS take one step per frame (the unit step there is the Fisher-scoring step); Adam restarts in each frame with
/// fresh moments and a step proportional to the largest whitened gradient component (<see cref="AdamStepPerDistance"/>).
/// </summary>
internal static class WhitenedSolver
{
    /// <summary>Steps taken in one frame before it moves to the current point.</summary>
    public static int FrameIterations(SolverKind kind) => kind switch
    {
        SolverKind.Lbfgs => LbfgsFrame,
        SolverKind.GradientDescent => GdFrame,
        _ => AdamFrame,
    };

    /// <summary>Frames in a row without a new best stopping measure after which the run is stalled.</summary>
    private const int StalledFrames = 20;

    internal static int LbfgsFrame = 1, GdFrame = 1, AdamFrame = 10;

    /// <summary>Adam's step in a fresh frame as a fraction of the largest whitened gradient component there (measured: 0.3 beat 0.1, 0.5 and 1 and an RMS-based step on the ill-conditioned families at d = 2..128).</summary>
    internal static double AdamStepPerDistance = 1.0;

    /// <summary>
    /// Minimises <paramref name="raw"/> (J/n over packed lower-triangular parameters, whatever the fit's parameterization)
    /// from <paramref name="start"/>; returns the best point packed in the start's parameterization. Iterations count
    /// accepted steps over all frames.
    /// </summary>
    public static SolverResult Minimize(IDifferentiableFunction raw, MvnParameters start, SolverOptions options,
        Action<IterationProgress>? progress, AdamState? adamState, CancellationToken cancellationToken)
    {
        var cached = new LastEvaluations(raw);
        var theta = start;
        int total = 0, evaluations = 0;
        var adam = adamState;
        var adamCarry = new AdamCarry();
        SolverResult r;
        bool fallback = false;
        double bestMeasure = double.PositiveInfinity;
        int stalledFrames = 0;
        double adamFraction = AdamStepPerDistance;
        while (true)
        {
            var frame = new WhitenedObjective(cached, theta);
            int budget = Math.Max(0, options.MaxIterations - total);
            // A Wolfe line search can fail where J is flat to rounding along its direction; a backtracking (Armijo) step,
            // which only needs a decrease, is tried in the same frame before the run is declared stalled.
            var kind = fallback ? SolverKind.GradientDescent : options.Kind;
            var inner = options with { Kind = kind, MaxIterations = Math.Min(budget, FrameIterations(kind)), UnitFirstStep = true, AdamStepPerGradient = adamFraction };
            int offset = total;
            if (cancellationToken.IsCancellationRequested)
            {
                r = new SolverResult([], double.NaN, double.PositiveInfinity, 0, 0, StopReason.Cancelled, adam);
                break;
            }
            try
            {
                r = Minimizer.Minimize(frame, new double[frame.Length], inner,
                    progress is null ? null : p => progress(p with { Iteration = offset + p.Iteration }), options.Kind == SolverKind.Adam ? null : adam, adamCarry, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                r = new SolverResult([], double.NaN, double.PositiveInfinity, 0, 0, StopReason.Cancelled, adam);
                break;
            }
            theta = frame.ToParameters(r.X);
            total += r.Iterations;
            evaluations += r.Evaluations;
            adam = r.AdamState ?? adam;
            // Adam restarts in every frame (fresh moments) with a step of a fraction of the distance still to go (see
            // AdamStepPerGradient); a frame that brought no new best halves that fraction for the next.
            if (options.Kind == SolverKind.Adam)
            {
                adamFraction = r.GradientNorm < bestMeasure ? AdamStepPerDistance : adamFraction * 0.5;
                adamCarry.Stall = 0;
            }
            if (r.Reason is StopReason.GradientTolerance or StopReason.RelativeChange or StopReason.Cancelled) break;
            if (total >= options.MaxIterations) break;
            // Near the optimum (where the measure is the exact distance), steps that move but no longer bring it down
            // (rounding has the last word) end the run as stalled.
            if (r.GradientNorm < bestMeasure) { bestMeasure = r.GradientNorm; stalledFrames = 0; }
            else if (bestMeasure < 1e-3 && ++stalledFrames >= StalledFrames) { r = r with { Reason = StopReason.NoProgress }; break; }
            if (r.Reason == StopReason.NoProgress && r.Iterations == 0)
            {
                if (fallback || options.Kind == SolverKind.GradientDescent) break; // no step possible even in a fresh frame
                fallback = true;
                continue;
            }
            fallback = false;
        }
        var x = Pack(theta, MvnParameters.PackedLength(theta.Dimension, theta.Parameterization));
        if (double.IsNaN(r.Value)) r = r with { Value = cached.Evaluate(Pack(theta.As(Parameterization.LowerTriangular), raw.Length), new double[raw.Length]) };
        var reason = r.Reason == StopReason.MaxIterations || (total >= options.MaxIterations && r.Reason != StopReason.GradientTolerance
            && r.Reason != StopReason.RelativeChange && r.Reason != StopReason.Cancelled) ? StopReason.MaxIterations : r.Reason;
        return new SolverResult(x, r.Value, r.GradientNorm, total, evaluations, reason, adam);
    }

    private static double[] Pack(MvnParameters theta, int length)
    {
        var x = new double[length];
        theta.Pack(x);
        return x;
    }

    /// <summary>
    /// Remembers the last few evaluations, so that a new frame's first evaluation (at the point the previous frame
    /// ended on, bit for bit) costs nothing: in a cluster that is a round saved per frame.
    /// </summary>
    private sealed class LastEvaluations(IDifferentiableFunction f) : IDifferentiableFunction
    {
        private const int Slots = 3;
        private readonly double[][] _x = new double[Slots][];
        private readonly double[][] _g = new double[Slots][];
        private readonly double[] _v = new double[Slots];
        private int _next;

        public int Length => f.Length;

        public double Evaluate(ReadOnlySpan<double> x, Span<double> gradient)
        {
            for (int k = 0; k < Slots; k++)
            {
                if (_x[k] is { } xs && x.SequenceEqual(xs))
                {
                    _g[k].CopyTo(gradient);
                    return _v[k];
                }
            }
            double v = f.Evaluate(x, gradient);
            int slot = _next;
            _next = (_next + 1) % Slots;
            _x[slot] = x.ToArray();
            _g[slot] = gradient.ToArray();
            _v[slot] = v;
            return v;
        }
    }
}
