namespace MvnStream.Core.Solvers;

/// <summary>
/// A scalar function of a packed parameter vector with its gradient. An evaluation may be local
/// (from statistics) or a whole cluster round (workers' partial gradients summed); the solvers only
/// see values and gradients (the seed's "family of algorithms that use only gradients").
/// </summary>
public interface IDifferentiableFunction
{
    /// <summary>Length of the parameter vector.</summary>
    int Length { get; }

    /// <summary>Returns f(x) and writes grad f(x) into <paramref name="gradient"/>. +infinity marks an infeasible x.</summary>
    double Evaluate(ReadOnlySpan<double> x, Span<double> gradient);
}
