namespace MvnStream.Core.Solvers;

/// <summary>The solvers offered by <c>fit --solver</c>.</summary>
public enum SolverKind
{
    /// <summary>mu* = xbar, S* = M/n: exact, no iterations.</summary>
    ClosedForm,

    /// <summary>Gradient descent, Barzilai-Borwein step with Armijo backtracking.</summary>
    GradientDescent,

    /// <summary>Adam with bias correction; the step size halves when progress stalls.</summary>
    Adam,

    /// <summary>Limited-memory BFGS (MathNet.Numerics' minimiser, weak Wolfe line search). The default.</summary>
    Lbfgs,
}

/// <summary>Names used on the command line and in model files.</summary>
public static class SolverNames
{
    public static string ToName(this SolverKind kind) => kind switch
    {
        SolverKind.ClosedForm => "closed-form",
        SolverKind.GradientDescent => "gd",
        SolverKind.Adam => "adam",
        _ => "lbfgs",
    };

    public static SolverKind Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "closed-form" or "closedform" or "mle" => SolverKind.ClosedForm,
        "gd" or "gradient-descent" => SolverKind.GradientDescent,
        "adam" => SolverKind.Adam,
        "lbfgs" or "l-bfgs" => SolverKind.Lbfgs,
        _ => throw new FormatException($"unknown solver '{name}': expected closed-form, gd, adam or lbfgs"),
    };
}
