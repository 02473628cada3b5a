using MvnStream.Core.Solvers;

namespace MvnStream.Core.Fitting;

/// <summary>
/// The one place that says which <see cref="StopReason"/> counts as converged, how a reason is named in model files and
/// <c>--json</c> summaries (a stable camelCase name), and how it reads on a human summary line. The local fit, the
/// cluster fit and the stream all use it, so their reports agree (README "Model file", exit code 6).
/// </summary>
/// <remarks>
/// Converged: the closed form, the gradient tolerance, and the relative-change test (only because the user asked for
/// it with <c>--rel-tolerance</c>). Not converged: the iteration limit, a stalled line search (<see cref="StopReason.NoProgress"/>:
/// the solver could not decrease J any more while the gradient was still above the tolerance, so the point is not known
/// to be the optimum), and Ctrl-C.
/// </remarks>
public static class StopReasons
{
    /// <summary>True when a tolerance (or the closed form) ended the solve.</summary>
    public static bool IsConverged(StopReason reason) =>
        reason is StopReason.ClosedForm or StopReason.GradientTolerance or StopReason.RelativeChange;

    /// <summary>The stable name written to model files and <c>--json</c>: closedForm, gradientTolerance, relativeChange, noProgress, maxIterations, cancelled.</summary>
    public static string ToName(StopReason reason) => reason switch
    {
        StopReason.ClosedForm => "closedForm",
        StopReason.GradientTolerance => "gradientTolerance",
        StopReason.RelativeChange => "relativeChange",
        StopReason.NoProgress => "noProgress",
        StopReason.MaxIterations => "maxIterations",
        StopReason.Cancelled => "cancelled",
        _ => char.ToLowerInvariant(reason.ToString()[0]) + reason.ToString()[1..],
    };

    /// <summary>Parses a stable name (<see cref="ToName"/>) or the enum member's name (as <c>FitJobCompleted</c> carries it); null if neither.</summary>
    public static StopReason? Parse(string? name)
    {
        if (string.IsNullOrEmpty(name)) return null;
        foreach (var r in Enum.GetValues<StopReason>())
            if (string.Equals(ToName(r), name, StringComparison.Ordinal) || string.Equals(r.ToString(), name, StringComparison.Ordinal))
                return r;
        return null;
    }

    /// <summary>
    /// The status as a summary line says it: "converged (gradient tolerance)", "NOT converged: iteration limit reached", ...
    /// Shared by the local and the cluster fit summaries and the stream summary.
    /// </summary>
    public static string Describe(StopReason reason) => reason switch
    {
        StopReason.ClosedForm => "exact (closed form)",
        StopReason.GradientTolerance => "converged (gradient tolerance)",
        StopReason.RelativeChange => "converged (relative change, --rel-tolerance)",
        StopReason.NoProgress => "NOT converged: the line search stalled (no further decrease at working precision) before the gradient tolerance",
        StopReason.MaxIterations => "NOT converged: iteration limit reached",
        StopReason.Cancelled => "NOT converged: stopped by Ctrl-C",
        _ => "NOT converged: " + ToName(reason),
    };

    /// <summary><see cref="Describe(StopReason)"/> of a name as carried on the wire; an unknown name is reported as not converged.</summary>
    public static string Describe(string? name) =>
        Parse(name) is { } r ? Describe(r) : $"NOT converged: unknown stop reason '{name}'";
}
