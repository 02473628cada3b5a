namespace MvnStream.Core.Solvers;

/// <summary>
/// Limited-memory BFGS (two-loop recursion, Nocedal and Wright alg. 7.4) with a line search that accepts
/// approximate Wolfe points (Hager and Zhang 2005): sufficient decrease may hold to within the rounding
/// noise of J, and the bracket is narrowed with the directional derivative. Near the optimum J is flat to
/// machine precision long before its gradient is small; a search on J alone (MathNet's weak Wolfe search,
/// kept as <see cref="MathNetLbfgs"/> for comparison) then stalls at |grad| ~ sqrt(eps |J|), while this one
/// goes on to the gradient's own accuracy, so fits agree to ~1e-12 whatever path the iterates took.
/// </summary>
internal static class Lbfgs
{
    private const double C1 = 1e-4, C2 = 0.9;
    private const int MaxLineSearch = 40;

    /// <summary>Below this stopping measure J is flat to rounding along any step, and a trial point is judged by the measure.</summary>
    private const double NearOptimum = 1e-3;

    public static SolverResult Minimize(TrackedFunction f, double[] x0, SolverOptions o, Action<IterationProgress>? progress)
    {
        int n = f.Length, mem = Math.Max(1, o.LbfgsMemory);
        var x = (double[])x0.Clone();
        var g = new double[n];
        double fx = f.Evaluate(x, g);
        if (!double.IsFinite(fx) || !TrackedFunction.AllFinite(g))
            throw new ArgumentException("the starting point is infeasible (the objective is not finite there)");
        var s = new double[mem][];
        var y = new double[mem][];
        var rho = new double[mem];
        for (int i = 0; i < mem; i++) { s[i] = new double[n]; y[i] = new double[n]; }
        int stored = 0, head = 0; // ring buffer: newest pair at (head - 1)
        var dir = new double[n];
        var alpha = new double[mem];
        var xn = new double[n];
        var gn = new double[n];
        double gnorm = TrackedFunction.Norm(g);
        double previous = double.NaN;
        int it = 0, failures = 0;

        while (true)
        {
            double measure = f.Measure(gnorm);
            var stop = StoppingRule.Check(o, it, previous, fx, measure);
            if (stop is { } reason) return new SolverResult(x, fx, measure, it, f.Evaluations, reason);

            // d = -H g by the two-loop recursion; H0 = gamma I with gamma = s.y / y.y of the newest pair.
            for (int i = 0; i < n; i++) dir[i] = -g[i];
            for (int k = 0; k < stored; k++)
            {
                int j = (head - 1 - k + mem) % mem;
                alpha[j] = rho[j] * Dot(s[j], dir);
                Axpy(-alpha[j], y[j], dir);
            }
            double gamma = o.UnitFirstStep ? 1.0 : 1.0 / Math.Max(gnorm, 1e-300);
            if (stored > 0)
            {
                int j = (head - 1 + mem) % mem;
                gamma = 1.0 / (rho[j] * Dot(y[j], y[j]));
            }
            for (int i = 0; i < n; i++) dir[i] *= gamma;
            for (int k = stored - 1; k >= 0; k--)
            {
                int j = (head - 1 - k + mem) % mem;
                double beta = rho[j] * Dot(y[j], dir);
                Axpy(alpha[j] - beta, s[j], dir);
            }
            double dg = Dot(dir, g);
            if (!(dg < 0))
            {
                // Not a descent direction (curvature information went stale): restart from steepest descent.
                stored = 0;
                double scale = o.UnitFirstStep ? 1.0 : 1.0 / Math.Max(gnorm, 1e-300);
                for (int i = 0; i < n; i++) dir[i] = -g[i] * scale;
                dg = Dot(dir, g);
            }

            double step = LineSearch(f, x, fx, dg, dir, 1.0, xn, gn, f.HasOwnMeasure && measure < NearOptimum ? measure : double.NaN,
                o.UnitFirstStep, out double fn);
            if (step == 0)
            {
                if (stored == 0 || ++failures >= 2)
                    return new SolverResult(x, fx, measure, it, f.Evaluations, StopReason.NoProgress);
                stored = 0; // retry once from steepest descent
                continue;
            }
            failures = 0;
            int slot = head;
            double sy = 0;
            for (int i = 0; i < n; i++)
            {
                s[slot][i] = xn[i] - x[i];
                y[slot][i] = gn[i] - g[i];
                sy += s[slot][i] * y[slot][i];
            }
            if (sy > 1e-300 * Math.Max(1.0, Dot(y[slot], y[slot])))
            {
                rho[slot] = 1.0 / sy;
                head = (head + 1) % mem;
                stored = Math.Min(stored + 1, mem);
            }
            (x, xn) = (xn, x);
            (g, gn) = (gn, g);
            previous = fx;
            fx = fn;
            gnorm = TrackedFunction.Norm(g);
            it++;
            progress?.Invoke(new IterationProgress(it, f.Evaluations, fx, f.Measure(gnorm)));
        }
    }

    /// <summary>
    /// Finds t with phi(t) = f(x + t d) satisfying (approximate) Wolfe conditions; returns 0 when none is
    /// found. Sufficient decrease: phi(t) &lt;= phi(0) + c1 t phi'(0), or, as Hager-Zhang's approximate
    /// Wolfe condition, phi(t) &lt;= phi(0) + eps_f with (2 c1 - 1) phi'(0) &gt;= phi'(t), where eps_f is the
    /// rounding noise of f. Curvature: phi'(t) &gt;= c2 phi'(0). Where the function has its own stopping measure (the
    /// exact distance to the optimum of the whitened Gaussian fit) and it is below <see cref="NearOptimum"/>
    /// (<paramref name="measure0"/> not NaN), J changes by rounding only, and a trial point that lowers the measure is
    /// accepted as it is: the decision is taken on gradients there. With <paramref name="unitStep"/> (whitened
    /// coordinates, where t = 1 is the Fisher-scoring step) a first trial that meets sufficient decrease is taken without
    /// the curvature condition: near an optimum close to the domain's boundary (cond(S*) 1e12) the derivative there is
    /// large and the search would spend its evaluations bisecting toward the infeasible side, and the frame, re-whitened
    /// at the new point, keeps no curvature pair that the condition would protect.
    /// </summary>
    private static double LineSearch(TrackedFunction f, double[] x, double fx, double dg0, double[] dir, double t,
        double[] xn, double[] gn, double measure0, bool unitStep, out double fn)
    {
        int n = x.Length;
        double epsF = 1e-13 * (Math.Abs(fx) + 1);
        double lo = 0, hi = double.PositiveInfinity, dLo = dg0;
        fn = fx;
        for (int k = 0; k < MaxLineSearch; k++)
        {
            for (int i = 0; i < n; i++) xn[i] = x[i] + t * dir[i];
            double ft = f.Evaluate(xn, gn);
            if (!double.IsFinite(ft) || !TrackedFunction.AllFinite(gn))
            {
                hi = t;
                t = lo + 0.25 * (hi - lo);
                continue;
            }
            if (!double.IsNaN(measure0) && f.Measure(TrackedFunction.Norm(gn)) < measure0)
            {
                fn = ft;
                return t;
            }
            double dt = Dot(gn, dir);
            bool armijo = ft <= fx + C1 * t * dg0;
            bool approximate = ft <= fx + epsF && dt <= (2 * C1 - 1) * dg0;
            if (unitStep && k == 0 && armijo)
            {
                fn = ft;
                return t;
            }
            if (!armijo && !approximate)
            {
                hi = t;
            }
            else if (dt < C2 * dg0)
            {
                lo = t; // still descending steeply: go further
                dLo = dt;
            }
            else if (dt > -C2 * dg0 && ft > fx)
            {
                hi = t; // overshot the minimum along the line without decrease
            }
            else
            {
                fn = ft;
                return t;
            }
            if (double.IsPositiveInfinity(hi))
            {
                t = 2 * t;
            }
            else
            {
                // Secant on the directional derivative from lo, safeguarded into the middle of [lo, hi].
                double width = hi - lo;
                double candidate = lo + 0.5 * width;
                if (dLo < 0 && dt > dLo && t == hi && dt > 0)
                    candidate = lo - dLo * width / (dt - dLo);
                t = Math.Clamp(candidate, lo + 0.1 * width, hi - 0.1 * width);
                if (width <= 1e-16 * Math.Max(1.0, t)) break;
            }
        }
        return 0;
    }

    private static double Dot(double[] a, double[] b) => Numerics.Dense.Dot(a, b);

    private static void Axpy(double a, double[] x, double[] y) => Numerics.Syrk.Axpy(a, x, y);
}
