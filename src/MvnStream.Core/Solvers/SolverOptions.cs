namespace MvnStream.Core.Solvers;

/// <summary>
/// Stopping rules and step settings. Tolerances apply to the per-row objective J/n and its gradient,
/// so they do not depend on how many rows were counted.
/// </summary>
public sealed record SolverOptions
{
    public SolverKind Kind { get; init; } = SolverKind.Lbfgs;

    /// <summary>Iteration limit (an iteration is one accepted step).</summary>
    public int MaxIterations { get; init; } = 5000;

    /// <summary>Stop when the 2-norm of grad(J/n) is at most this.</summary>
    public double GradientTolerance { get; init; } = 1e-10;

    /// <summary>Stop when an accepted step changes J/n by at most this times max(|J/n|, 1); 0 (the default) turns the test off.</summary>
    public double RelativeTolerance { get; init; }

    /// <summary>
    /// Adam's initial step size (in parameter units); 0 (the default) chooses it: in the whitened fit, a fresh frame's
    /// first step is then the Fisher-scoring step (<see cref="AdamStepPerGradient"/>), and in raw coordinates it is
    /// <see cref="DefaultLearningRate"/>. A positive value caps the step.
    /// </summary>
    public double LearningRate { get; init; }

    /// <summary>Adam's step size in raw coordinates when <see cref="LearningRate"/> is 0.</summary>
    public const double DefaultLearningRate = 0.05;

    /// <summary>Adam: iterations without improvement before the step size halves.</summary>
    public int AdamPatience { get; init; } = 10;

    /// <summary>
    /// The first trial step is the whole negative gradient (t = 1) instead of a unit-length step along it: right when
    /// the coordinates are scaled so that the Hessian near the optimum is about the identity (the whitened
    /// coordinates of the Gaussian fit), where t = 1 is the Newton step.
    /// </summary>
    internal bool UnitFirstStep { get; init; }

    /// <summary>
    /// Adam: when positive, the step size of a fresh run is at most this times the largest gradient component at its
    /// start (in whitened coordinates, where the gradient is the displacement to the optimum, a fixed fraction of it).
    /// </summary>
    internal double AdamStepPerGradient { get; init; }

    /// <summary>L-BFGS: number of correction pairs kept.</summary>
    public int LbfgsMemory { get; init; } = 10;
}
