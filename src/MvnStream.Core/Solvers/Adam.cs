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

    public static SolverResult Minimize(TrackedFunction f, double[] x0, SolverOptions o, AdamState? state, Action<IterationProgress>? progress)
    {
        int n = f.Length;
        var x = (double[])x0.Clone();
        var g = new double[n];
        var m = state?.FirstMoment.Length == n ? (double[])state.FirstMoment.Clone() : new double[n];
        var v = state?.SecondMoment.Length == n ? (double[])state.SecondMoment.Clone() : new double[n];
        long t = state?.FirstMoment.Length == n ? state.Step : 0;
        double lr = state?.LearningRate > 0 ? state.LearningRate : o.LearningRate;
        if (!(lr > 0)) throw new ArgumentException($"learning rate {lr} must be positive");

        double best = double.PositiveInfinity, previousBest = double.NaN;
        int stall = 0, it = 0;
        while (true)
        {
            double fx = f.Evaluate(x, g);
            double gnorm = TrackedFunction.Norm(g);
            if (!double.IsFinite(fx))
            {
                if (it == 0) throw new ArgumentException("the starting point is infeasible (the objective is not finite there)");
                // Stepped out of the domain: go back to the best point with a smaller step.
                f.BestX.CopyTo(x, 0);
                lr *= 0.5;
                stall = 0;
                it++;
                if (it >= o.MaxIterations) break;
                continue;
            }
            if (fx < best)
            {
                var stop = StoppingRule.Check(o, it, previousBest, fx, gnorm);
                previousBest = best;
                best = fx;
                stall = 0;
                if (stop is { } reason && reason != StopReason.MaxIterations)
                    return Result(f, it, reason, m, v, t, lr);
            }
            else if (++stall >= o.AdamPatience)
            {
                lr *= 0.5;
                stall = 0;
                f.BestX.CopyTo(x, 0);
                f.BestGradient.CopyTo(g, 0);
                if (lr <= 1e-17 * Math.Max(1.0, TrackedFunction.Norm(x)))
                    return Result(f, it, StopReason.NoProgress, m, v, t, lr);
            }
            if (it >= o.MaxIterations) break;

            t++;
            double c1 = 1 - Math.Pow(Beta1, t), c2 = 1 - Math.Pow(Beta2, t);
            for (int i = 0; i < n; i++)
            {
                m[i] = Beta1 * m[i] + (1 - Beta1) * g[i];
                v[i] = Beta2 * v[i] + (1 - Beta2) * g[i] * g[i];
                x[i] -= lr * (m[i] / c1) / (Math.Sqrt(v[i] / c2) + Eps);
            }
            it++;
            progress?.Invoke(new IterationProgress(it, f.Evaluations, fx, gnorm));
        }
        return Result(f, it, StopReason.MaxIterations, m, v, t, lr);
    }

    private static SolverResult Result(TrackedFunction f, int it, StopReason reason, double[] m, double[] v, long t, double lr) =>
        new((double[])f.BestX.Clone(), f.BestValue, f.BestGradientNorm, it, f.Evaluations, reason, new AdamState(m, v, t, lr));
}
