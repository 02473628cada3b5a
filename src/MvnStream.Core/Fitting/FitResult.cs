using MvnStream.Core.Model;
using MvnStream.Core.Solvers;

namespace MvnStream.Core.Fitting;

/// <summary>
/// A fitted model. <see cref="NllPerRow"/> is the data's negative log-likelihood per row under theta;
/// <see cref="GapPerRow"/> is (J - J*)/n of the problem solved (with any regularisation), which the
/// closed form makes exactly 0 up to rounding.
/// </summary>
public sealed record FitResult(
    MvnParameters Theta,
    SolverKind Solver,
    int Iterations,
    int Evaluations,
    StopReason Reason,
    long Count,
    double N,
    double NllPerRow,
    double GapPerRow,
    double OptimalValue,
    double GradientNorm,
    double? ShrinkageUsed,
    Regularization Regularization,
    AdamState? AdamState,
    TimeSpan Elapsed)
{
    /// <summary>See <see cref="StopReasons.IsConverged"/>: a stalled line search (NoProgress) is not convergence.</summary>
    public bool Converged => StopReasons.IsConverged(Reason);
}
