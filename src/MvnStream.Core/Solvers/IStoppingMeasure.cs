namespace MvnStream.Core.Solvers;

/// <summary>
/// A function that knows a better stopping measure than the 2-norm of its gradient: the solvers stop when
/// <see cref="LastStoppingMeasure"/> (the measure at the point evaluated last, which is always the solver's current
/// iterate when it checks) is at most <see cref="SolverOptions.GradientTolerance"/>. The Gaussian fit uses it to stop
/// on the distance to the optimum in standard-deviation units, which the gradient gives exactly and which, unlike the
/// gradient norm, does not depend on the data's units (docs/ARCHITECTURE.md, "Solvers").
/// </summary>
public interface IStoppingMeasure
{
    /// <summary>The stopping measure at the point most recently passed to <see cref="IDifferentiableFunction.Evaluate"/>.</summary>
    double LastStoppingMeasure { get; }
}
