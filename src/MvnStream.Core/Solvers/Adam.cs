namespace MvnStream.Core.Solvers;

/// <summary>
/// Adam (Kingma and Ba) with bias correction, beta1 = 0.9, beta2 = 0.999, eps = 1e-8. Adam's fixed step
/// cannot settle closer to the optimum than about its step size, so the step halves after
/// <see cref="SolverOptions.AdamPatience"/> iterations without a new best value; the best point is returned.
/// Its moments and step count are returned as <see cref="AdamState"/> for warm starts.
/// </summary>
internal static class Adam
{
    private const double Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8;

    /// <summary>Below this stopping measure only the measure decides whether a point is better (J is flat to rounding there).</summary>
    private const double NearOptimum = 1e-3;

    public static SolverResult Minimize(TrackedFunction f, double[] x0, SolverOptions o, AdamState? state, Action<IterationProgress>? progress,
        AdamCarry? carry = null)
    {
        int n = f.Length;
        var x = (double[])x0.Clone();
        var g = new double[n];
        var m = state?.FirstMoment.Length == n ? (double[])state.FirstMoment.Clone() : new double[n];
        var v = state?.SecondMoment.Length == n ? (double[])state.SecondMoment.Clone() : new double[n];
        long t = state?.FirstMoment.Length == n ? state.Step : 0;
        // Whitened (docs/ARCHITECTURE.md, "Solvers"): the curvature is the identity there, so the second moment is pooled
        // over the coordinates (one scale for the whole step, which keeps the step rotation-equivariant), a fresh run's
        // step is set from the gradient it starts at, and the run ends at its first step that brings no new best (an
        // adaptive restart: the caller starts a fresh frame, with fresh moments, at the best point).
        bool whitened = o.AdamStepPerGradient > 0;
        double lr = state?.LearningRate > 0 ? state.LearningRate
            : o.LearningRate > 0 ? o.LearningRate
            : whitened ? double.PositiveInfinity
            : SolverOptions.DefaultLearningRate;
        if (!(lr > 0)) throw new ArgumentException($"learning rate {lr} must be positive");

        carry ??= new AdamCarry();
        ref double best = ref carry.Best;
        ref double bestMeasure = ref carry.BestMeasure;
        ref int stall = ref carry.Stall;
        // A point is better when it lowers J by more than J's rounding noise or, where J is flat to rounding (near the
        // optimum it cannot tell a better point from a worse one), when it lowers the function's own gradient-based
        // stopping measure.
        bool byMeasure = f.HasOwnMeasure;
        var bestX = (double[])x.Clone();
        var bestG = new double[n];
        double previousValue = double.NaN;
        int it = 0;
        while (true)
        {
            double fx = f.Evaluate(x, g);
            double gnorm = TrackedFunction.Norm(g);
            if (!double.IsFinite(fx))
            {
                if (it == 0) throw new ArgumentException("the starting point is infeasible (the objective is not finite there)");
                if (whitened) return Result(f, bestX, bestMeasure, it, StopReason.NoProgress, m, v, t, lr);
                // Stepped out of the domain: go back to the best point with a smaller step.
                bestX.CopyTo(x, 0);
                lr *= 0.5;
                stall = 0;
                it++;
                if (it >= o.MaxIterations) break;
                continue;
            }
            if (it == 0 && t == 0 && whitened && gnorm > 0)
            {
                // The first step of fresh moments is lr g / rms(g): with lr = fraction * rms(g) it is that fraction of
                // the gradient step, which at fraction 1 is the Fisher-scoring step in whitened coordinates.
                lr = Math.Min(lr, o.AdamStepPerGradient * gnorm / Math.Sqrt(n));
            }
            double measure = f.Measure(gnorm);
            double noise = 1e-13 * (Math.Abs(fx) + 1);
            bool better = byMeasure
                ? (measure < NearOptimum ? measure < bestMeasure : fx < best - noise || fx <= best + noise && measure < bestMeasure)
                : fx < best;
            // Whitened: a run starts at the best point so far (the caller's frame moved there), whose measure in the new
            // frame's coordinates may differ from the last frame's; it is the run's first best.
            if (better || it == 0 && (whitened || fx <= best && measure <= bestMeasure))
            {
                var stop = StoppingRule.Check(o, it, previousValue, fx, measure);
                previousValue = fx;
                best = Math.Min(best, fx);
                bestMeasure = measure;
                x.CopyTo(bestX, 0);
                g.CopyTo(bestG, 0);
                stall = 0;
                if (stop is { } reason && reason != StopReason.MaxIterations)
                    return Result(f, bestX, bestMeasure, it, reason, m, v, t, lr);
            }
            else if (whitened)
            {
                return Result(f, bestX, bestMeasure, it, StopReason.NoProgress, m, v, t, lr);
            }
            else if (++stall >= o.AdamPatience)
            {
                lr *= 0.5;
                // With a stopping measure that is a distance to the optimum in the solver's own units (whitened
                // coordinates), a step far below that distance cannot be what progress needs: keep lr at 0.1 of it at least (the distance then shrinks
                // geometrically).
                if (byMeasure && double.IsFinite(bestMeasure) && bestMeasure < NearOptimum)
                {
                    lr = Math.Max(lr, 0.1 * bestMeasure);
                    // The second moment remembers the large gradients of the way in (beta2 = 0.999) and would keep the
                    // steps far below lr: restart the moments with the step.
                    Array.Clear(m);
                    Array.Clear(v);
                    t = 0;
                }
                stall = 0;
                bestX.CopyTo(x, 0);
                bestG.CopyTo(g, 0);
                if (lr <= 1e-17 * Math.Max(1.0, TrackedFunction.Norm(x)))
                    return Result(f, bestX, bestMeasure, it, StopReason.NoProgress, m, v, t, lr);
            }
            if (it >= o.MaxIterations) break;

            t++;
            double c1 = 1 - Math.Pow(Beta1, t), c2 = 1 - Math.Pow(Beta2, t);
            if (whitened)
            {
                double pooled = gnorm * gnorm / n;
                for (int i = 0; i < n; i++)
                {
                    m[i] = Beta1 * m[i] + (1 - Beta1) * g[i];
                    v[i] = Beta2 * v[i] + (1 - Beta2) * pooled;
                }
                double scale = Math.Sqrt(v[0] / c2);
                if (!(scale > 0)) return Result(f, bestX, bestMeasure, it, StopReason.NoProgress, m, v, t, lr);
                for (int i = 0; i < n; i++) x[i] -= lr * (m[i] / c1) / scale;
            }
            else for (int i = 0; i < n; i++)
            {
                m[i] = Beta1 * m[i] + (1 - Beta1) * g[i];
                v[i] = Beta2 * v[i] + (1 - Beta2) * g[i] * g[i];
                x[i] -= lr * (m[i] / c1) / (Math.Sqrt(v[i] / c2) + Eps);
            }
            it++;
            progress?.Invoke(new IterationProgress(it, f.Evaluations, fx, f.Measure(gnorm)));
        }
        return Result(f, bestX, bestMeasure, it, StopReason.MaxIterations, m, v, t, lr);
    }

    /// <summary>The best point: by the stopping measure when the function has its own, else by value.</summary>
    private static SolverResult Result(TrackedFunction f, double[] bestX, double bestMeasure, int it, StopReason reason, double[] m, double[] v, long t, double lr) =>
        f.HasOwnMeasure && double.IsFinite(bestMeasure)
            ? new(bestX, f.ValueAt(bestX), bestMeasure, it, f.Evaluations, reason, new AdamState(m, v, t, Finite(lr)))
            : new((double[])f.BestX.Clone(), f.BestValue, f.BestGradientNorm, it, f.Evaluations, reason, new AdamState(m, v, t, Finite(lr)));

    private static double Finite(double lr) => double.IsFinite(lr) ? lr : 0;
}

/// <summary>
/// Adam's best value and iterations without improvement, carried between runs on the same objective in different
/// coordinates (the whitened frames of the Gaussian fit), so the step still halves when progress stalls across runs.
/// </summary>
internal sealed class AdamCarry
{
    public double Best = double.PositiveInfinity;
    public double BestMeasure = double.PositiveInfinity;
    public int Stall;
}
