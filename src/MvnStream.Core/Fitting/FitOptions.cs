using MvnStream.Core.Model;
using MvnStream.Core.Solvers;

namespace MvnStream.Core.Fitting;

/// <summary>What to fit and how.</summary>
public sealed record FitOptions
{
    public Parameterization Parameterization { get; init; } = Parameterization.LowerTriangular;
    public SolverOptions Solver { get; init; } = new();
    public Regularization Regularization { get; init; } = Regularization.None;

    /// <summary>Warm start; null = <see cref="MvnFitter.InitialGuess"/>.</summary>
    public MvnParameters? Start { get; init; }

    /// <summary>
    /// Steps in the raw (mu, Lambda) coordinates instead of coordinates whitened by the current Lambda: the solvers as
    /// they were before whitening, kept as the reference the benchmarks and tests measure against.
    /// </summary>
    internal bool RawCoordinates { get; init; }

    /// <summary>Adam's state from a previous run, for warm starts.</summary>
    public AdamState? AdamState { get; init; }
}
