namespace MvnStream.Core.Fitting;

/// <summary>One solver iteration: J per row, J - J* per row (the gap) and the gradient norm of J/n.</summary>
public readonly record struct FitProgress(int Iteration, int Evaluations, double NllPerRow, double GapPerRow, double GradientNorm, TimeSpan Elapsed);
