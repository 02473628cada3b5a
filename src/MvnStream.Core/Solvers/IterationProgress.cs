namespace MvnStream.Core.Solvers;

/// <summary>One solver iteration as reported to progress displays: the value and gradient norm are of J/n.</summary>
public readonly record struct IterationProgress(int Iteration, int Evaluations, double Value, double GradientNorm);
