using MvnStream.Core.Model;
using MvnStream.Core.Objective;
using MvnStream.Core.Statistics;

namespace MvnStream.Core.Fitting;

/// <summary>The data term evaluated from sufficient statistics on this machine.</summary>
public sealed class StatisticsObjective : IObjectiveSource
{
    private readonly SufficientStatistics _stats;

    public StatisticsObjective(SufficientStatistics stats)
    {
        ArgumentNullException.ThrowIfNull(stats);
        _stats = stats;
    }

    public int Dimension => _stats.Dimension;

    public double Evaluate(MvnParameters theta, Span<double> gradMu, Span<double> gradLambda) =>
        MvnObjective.Evaluate(_stats, theta, gradMu, gradLambda);
}
