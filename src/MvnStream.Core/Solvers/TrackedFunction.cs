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
        _bestIsLast = false;
        if (double.IsNaN(v)) v = double.PositiveInfinity;
        if (v < BestValue && AllFinite(gradient))
        {
            BestValue = v;
            x.CopyTo(BestX);
            gradient.CopyTo(BestGradient);
            BestMeasure = _f is IStoppingMeasure ? double.NaN : Norm(gradient); // known once asked for (Measure)
            _bestIsLast = true;
        }
        return v;
    }

    /// <summary>True when the function has a stopping measure of its own (<see cref="IStoppingMeasure"/>).</summary>
    public bool HasOwnMeasure => _f is IStoppingMeasure;

    /// <summary>f at a point already evaluated (the best by value, or the last evaluation); evaluates again otherwise.</summary>
    public double ValueAt(double[] x)
    {
        if (x.AsSpan().SequenceEqual(BestX)) return BestValue;
        var g = new double[Length];
        return Evaluate(x, g);
    }

    public double BestGradientNorm => _f is IStoppingMeasure ? (double.IsNaN(BestMeasure) ? double.PositiveInfinity : BestMeasure) : Norm(BestGradient);

    /// <summary>The stopping measure at the best point (the gradient norm unless the function has its own).</summary>
    public double BestMeasure { get; private set; } = double.PositiveInfinity;

    /// <summary>
    /// The stopping measure at the point evaluated last (the solver's current iterate when it checks): the function's
    /// own <see cref="IStoppingMeasure"/> when it has one, else <paramref name="gradientNorm"/>.
    /// </summary>
    public double Measure(double gradientNorm)
    {
        if (_f is not IStoppingMeasure m) return gradientNorm;
        double v = m.LastStoppingMeasure;
        if (_bestIsLast) BestMeasure = v;
        return v;
    }

    private bool _bestIsLast;

    public static double Norm(ReadOnlySpan<double> g) => Math.Sqrt(Numerics.Dense.Dot(g, g));

    public static bool AllFinite(ReadOnlySpan<double> v)
    {
        foreach (var e in v) if (!double.IsFinite(e)) return false;
        return true;
    }
}
