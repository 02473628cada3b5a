namespace MvnStream.Core.Solvers;

/// <summary>
/// Gradient descent x_{k+1} = x_k - t_k g_k. The trial step is Barzilai-Borwein's s.s / s.y (the first
/// one 1/|g|); it is halved until the Armijo condition f(x - t g) &lt;= f(x) - 1e-4 t |g|^2 holds.
/// </summary>
internal static class GradientDescent
{
    private const double Armijo = 1e-4;

    public static SolverResult Minimize(TrackedFunction f, double[] x0, SolverOptions o, Action<IterationProgress>? progress)
    {
        int n = f.Length;
        var x = (double[])x0.Clone();
        var g = new double[n];
        var xn = new double[n];
        var gn = new double[n];
        double fx = f.Evaluate(x, g);
        if (!double.IsFinite(fx)) throw new ArgumentException("the starting point is infeasible (the objective is not finite there)");
        double gnorm = TrackedFunction.Norm(g);
        double step = o.UnitFirstStep ? 1.0 : 1.0 / Math.Max(gnorm, 1e-300);
        double previous = double.NaN;
        int it = 0;
        while (true)
        {
            double measure = f.Measure(gnorm);
            var stop = StoppingRule.Check(o, it, previous, fx, measure);
            if (stop is { } reason) return new SolverResult(x, fx, measure, it, f.Evaluations, reason);

            double g2 = gnorm * gnorm;
            double t = step;
            double fn;
            while (true)
            {
                for (int i = 0; i < n; i++) xn[i] = x[i] - t * g[i];
                fn = f.Evaluate(xn, gn);
                if (double.IsFinite(fn) && fn <= fx - Armijo * t * g2) break;
                // Where J is flat to rounding the Armijo test is decided by noise: accept, as Hager and Zhang's approximate
                // Armijo condition does, a point no higher than the noise whose directional derivative shows the step did
                // not overshoot the minimum along the line (phi'(t) <= (1 - 2 c1) |g|^2 with phi'(0) = -|g|^2).
                if (double.IsFinite(fn) && fn <= fx + 1e-13 * (Math.Abs(fx) + 1) && -Numerics.Dense.Dot(gn, g) <= (1 - 2 * Armijo) * g2
                    && TrackedFunction.AllFinite(gn)) break;
                t *= 0.5;
                if (t * gnorm <= 1e-16 * Math.Max(1.0, TrackedFunction.Norm(x)))
                    return new SolverResult(x, fx, measure, it, f.Evaluations, StopReason.NoProgress);
            }
            double ss = 0, sy = 0;
            for (int i = 0; i < n; i++)
            {
                double s = xn[i] - x[i], y = gn[i] - g[i];
                ss += s * s;
                sy += s * y;
            }
            step = sy > 0 ? ss / sy : 2 * t;
            (x, xn) = (xn, x);
            (g, gn) = (gn, g);
            previous = fx;
            fx = fn;
            gnorm = TrackedFunction.Norm(g);
            it++;
            progress?.Invoke(new IterationProgress(it, f.Evaluations, fx, f.Measure(gnorm)));
        }
    }
}
