using MvnStream.Core.Fitting;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;

namespace MvnStream.Cluster.Protocol;

/// <summary>
/// The solver settings a fit and a stream share (solver, factor, limits, tolerances, step size, regularisation): the one
/// place that turns them into <see cref="FitOptions"/>, used by the local fit, the cluster fit's job settings and the
/// stream's job settings alike, so the two commands cannot drift apart (a setting added here reaches all of them).
/// </summary>
public sealed record SolverSettings(
    SolverKind Kind,
    Parameterization Parameterization,
    int MaxIterations,
    double GradientTolerance,
    double RelativeTolerance,
    double LearningRate,
    double Ridge,
    ShrinkageMode Shrinkage,
    double ShrinkageIntensity)
{
    /// <param name="maxIterations">Iteration limit of this solve when it differs from the settings' (a stream's online update); null: the settings'.</param>
    public SolverOptions ToSolverOptions(int? maxIterations = null) => new()
    {
        Kind = Kind,
        MaxIterations = maxIterations ?? MaxIterations,
        GradientTolerance = GradientTolerance,
        RelativeTolerance = RelativeTolerance,
        LearningRate = LearningRate,
    };

    public Regularization Regularization => new() { Ridge = Ridge, Shrinkage = Shrinkage, ShrinkageIntensity = ShrinkageIntensity };

    /// <inheritdoc cref="ToSolverOptions"/>
    public FitOptions ToFitOptions(int? maxIterations = null) => new()
    {
        Parameterization = Parameterization,
        Regularization = Regularization,
        Solver = ToSolverOptions(maxIterations),
    };
}
