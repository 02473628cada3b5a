namespace MvnStream.Core.Solvers;

/// <summary>The point a solver stopped at, with its value (J/n), gradient norm and the reason it stopped.</summary>
public sealed record SolverResult(
    double[] X,
    double Value,
    double GradientNorm,
    int Iterations,
    int Evaluations,
    StopReason Reason,
    AdamState? AdamState = null)
{
    /// <summary>True when a tolerance (not a limit, a stalled line search or a cancellation) ended the run (Fitting.StopReasons.IsConverged).</summary>
    public bool Converged => Fitting.StopReasons.IsConverged(Reason);
}

/// <summary>Adam's moment estimates and step count, carried between warm-started runs and checkpointed.</summary>
public sealed record AdamState(double[] FirstMoment, double[] SecondMoment, long Step, double LearningRate);
