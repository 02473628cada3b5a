namespace MvnStream.Core.Solvers;

/// <summary>
/// Wraps a function for a solver run: counts evaluations, remembers the best finite point seen (so a
/// run stopped by a limit, a failure or Ctrl-C still returns its best point) and honours cancellation.
/// </summary>
internal sealed class TrackedFunction
{
    private readonly IDifferentiableFunction _f;
    private readonly CancellationToken _ct;

    public TrackedFunction(IDifferentiableFunction f, CancellationToken ct)
    {
        _f = f;
        _ct = ct;
        BestX = new double[f.Length];
        BestGradient = new double[f.Length];
    }

    public int Length => _f.Length;
    public int Evaluations { get; private set; }
    public double BestValue { get; private set; } = double.PositiveInfinity;
    public double[] BestX { get; }
    public double[] BestGradient { get; }

    /// <summary>Evaluates f; throws <see cref="OperationCanceledException"/> once cancellation is requested.</summary>
    public double Evaluate(ReadOnlySpan<double> x, Span<double> gradient)
    {
        _ct.ThrowIfCancellationRequested();
        double v = _f.Evaluate(x, gradient);
        Evaluations++;
        if (double.IsNaN(v)) v = double.PositiveInfinity;
        if (v < BestValue && AllFinite(gradient))
        {
            BestValue = v;
            x.CopyTo(BestX);
            gradient.CopyTo(BestGradient);
        }
        return v;
    }

    public double BestGradientNorm => Norm(BestGradient);

    public static double Norm(ReadOnlySpan<double> g) => Math.Sqrt(Numerics.Dense.Dot(g, g));

    public static bool AllFinite(ReadOnlySpan<double> v)
    {
        foreach (var e in v) if (!double.IsFinite(e)) return false;
        return true;
    }
}
