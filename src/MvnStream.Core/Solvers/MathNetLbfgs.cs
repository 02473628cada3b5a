using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;

namespace MvnStream.Core.Solvers;

/// <summary>
/// Reference L-BFGS through MathNet.Numerics' <see cref="LimitedMemoryBfgsMinimizer"/> (weak Wolfe line search).
/// MathNet signals a stalled line search or a step out of the domain (S singular, J = +inf) with an
/// exception; the run then restarts from the best point with fresh curvature pairs, at most a few times,
/// and reports <see cref="StopReason.NoProgress"/> when no restart improves it.
/// </summary>
internal static class MathNetLbfgs
{
    private const int MaxRestarts = 4;

    public static SolverResult Minimize(TrackedFunction f, double[] x0, SolverOptions o, Action<IterationProgress>? progress)
    {
        int n = f.Length;
        int iterations = 0, improvements = 0;
        double reported = double.PositiveInfinity;
        var grad = new double[n];
        var objective = ObjectiveFunction.Gradient(v =>
        {
            var x = v.AsArray() ?? v.ToArray();
            double value = f.Evaluate(x, grad);
            if (f.BestValue < reported)
            {
                reported = f.BestValue;
                improvements++;
                progress?.Invoke(new IterationProgress(improvements, f.Evaluations, f.BestValue, f.BestGradientNorm));
            }
            return (value, Vector<double>.Build.Dense((double[])grad.Clone()));
        });

        var start = Vector<double>.Build.Dense((double[])x0.Clone());
        StopReason reason;
        int restarts = 0;
        while (true)
        {
            double bestBefore = f.BestValue;
            int remaining = Math.Max(1, o.MaxIterations - iterations);
            try
            {
                var minimizer = new LimitedMemoryBfgsMinimizer(o.GradientTolerance, 1e-15, o.RelativeTolerance, o.LbfgsMemory, remaining);
                var result = minimizer.FindMinimum(objective, start);
                iterations += result.Iterations;
                // MathNet returns (rather than throws) at its iteration limit with ExitCondition.AbsoluteGradient,
                // so the reason is decided from the gradient we saw, not from its exit condition alone.
                reason = f.BestGradientNorm <= o.GradientTolerance ? StopReason.GradientTolerance
                    : result.Iterations >= remaining ? StopReason.MaxIterations
                    : result.ReasonForExit is ExitCondition.LackOfProgress or ExitCondition.RelativePoints
                        or ExitCondition.WeakWolfeCriteria or ExitCondition.StrongWolfeCriteria ? StopReason.NoProgress
                    : StopReason.RelativeChange;
                break;
            }
            catch (OperationCanceledException)
            {
                reason = StopReason.Cancelled;
                break;
            }
            catch (MaximumIterationsException) when (iterations + improvements >= o.MaxIterations || remaining <= 1)
            {
                reason = StopReason.MaxIterations;
                break;
            }
            catch (Exception e) when (e is OptimizationException or ArgumentException)
            {
                if (double.IsPositiveInfinity(f.BestValue))
                    throw new ArgumentException("the starting point is infeasible (the objective is not finite there)", e);
                if (e is MaximumIterationsException && e.Message.StartsWith("Maximum iterations (" + remaining, StringComparison.Ordinal))
                {
                    iterations = o.MaxIterations;
                    reason = StopReason.MaxIterations;
                    break;
                }
                if (restarts++ >= MaxRestarts || !(f.BestValue < bestBefore))
                {
                    reason = StopReason.NoProgress;
                    break;
                }
                start = Vector<double>.Build.Dense((double[])f.BestX.Clone());
            }
        }
        return new SolverResult((double[])f.BestX.Clone(), f.BestValue, f.BestGradientNorm, Math.Max(iterations, 1), f.Evaluations, reason);
    }
}
