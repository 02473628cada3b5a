namespace MvnStream.Core.Solvers;

/// <summary>Why a solver stopped.</summary>
public enum StopReason
{
    /// <summary>The closed form was used: exact.</summary>
    ClosedForm,

    /// <summary>Gradient norm at or below the tolerance.</summary>
    GradientTolerance,

    /// <summary>Relative change of the objective at or below the tolerance.</summary>
    RelativeChange,

    /// <summary>No further decrease possible at working precision (line search exhausted).</summary>
    NoProgress,

    /// <summary>The iteration limit was reached before the tolerances.</summary>
    MaxIterations,

    /// <summary>Cancelled by the caller (Ctrl-C); the best point so far is returned.</summary>
    Cancelled,
}
