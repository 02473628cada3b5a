using MvnStream.Core.Model;

namespace MvnStream.Core.Fitting;

/// <summary>
/// Evaluates the data's J and its gradients at theta: locally from merged statistics, or as one
/// cluster round in which workers return partial values that the coordinator sums (J and both
/// gradients are sums over shards, docs/ARCHITECTURE.md, "Fitting a file").
/// </summary>
public interface IObjectiveSource
{
    int Dimension { get; }

    /// <summary>J(theta) over all rows; writes dJ/dmu (d) and dJ/dLambda (d x d, tril for the lower-triangular parameterization).</summary>
    double Evaluate(MvnParameters theta, Span<double> gradMu, Span<double> gradLambda);
}
