namespace MvnStream.Core.Solvers;

/// <summary>The stopping tests shared by the iterative solvers.</summary>
internal static class StoppingRule
{
    public static StopReason? Check(SolverOptions o, int iteration, double previous, double current, double gradientNorm)
    {
        if (gradientNorm <= o.GradientTolerance) return StopReason.GradientTolerance;
        if (o.RelativeTolerance > 0 && double.IsFinite(previous) && Math.Abs(previous - current) <= o.RelativeTolerance * Math.Max(Math.Abs(current), 1.0))
            return StopReason.RelativeChange;
        if (iteration >= o.MaxIterations) return StopReason.MaxIterations;
        return null;
    }
}
