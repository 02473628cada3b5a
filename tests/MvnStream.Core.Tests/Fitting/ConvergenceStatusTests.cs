using System.Text.Json;
using MvnStream.Core.Fitting;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Core.Tests.Support;

namespace MvnStream.Core.Tests.Fitting;

/// <summary>Which stop reasons count as converged, their stable names, and what a model file says for each.</summary>
public sealed class ConvergenceStatusTests
{
    [Theory]
    [InlineData(StopReason.ClosedForm, true, "closedForm")]
    [InlineData(StopReason.GradientTolerance, true, "gradientTolerance")]
    [InlineData(StopReason.RelativeChange, true, "relativeChange")]
    [InlineData(StopReason.NoProgress, false, "noProgress")]
    [InlineData(StopReason.MaxIterations, false, "maxIterations")]
    [InlineData(StopReason.Cancelled, false, "cancelled")]
    public void Only_a_tolerance_or_the_closed_form_is_convergence(StopReason reason, bool converged, string name)
    {
        Assert.Equal(converged, StopReasons.IsConverged(reason));
        Assert.Equal(name, StopReasons.ToName(reason));
        Assert.Equal(reason, StopReasons.Parse(name));
        Assert.Equal(reason, StopReasons.Parse(reason.ToString()));
        Assert.Equal(converged, StopReasons.Describe(reason).StartsWith("NOT converged", StringComparison.Ordinal) == false);
        // FitResult and SolverResult agree with it (a stalled line search used to count as converged).
        Assert.Equal(converged, new SolverResult([], 0, 0, 0, 0, reason).Converged);

        var model = new MvnModel { Theta = Draw.Theta(new Random(5), 2, Parameterization.LowerTriangular), N = 10, Solver = "lbfgs", StopReason = reason };
        using var doc = JsonDocument.Parse(model.ToJson());
        Assert.Equal(converged, doc.RootElement.GetProperty("converged").GetBoolean());
        Assert.Equal(name, doc.RootElement.GetProperty("stopReason").GetString());
    }

    [Fact]
    public void A_model_whose_stop_reason_is_unknown_says_not_converged()
    {
        var model = new MvnModel { Theta = Draw.Theta(new Random(6), 2, Parameterization.LowerTriangular), N = 10, Solver = "lbfgs" };
        using var doc = JsonDocument.Parse(model.ToJson());
        Assert.False(doc.RootElement.GetProperty("converged").GetBoolean());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("stopReason").ValueKind);
        Assert.StartsWith("NOT converged", StopReasons.Describe("SomethingNew"), StringComparison.Ordinal);
    }
}
