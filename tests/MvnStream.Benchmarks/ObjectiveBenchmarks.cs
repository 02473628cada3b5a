using BenchmarkDotNet.Attributes;
using MathNet.Numerics.LinearAlgebra;
using MvnStream.Core.Model;
using MvnStream.Core.Numerics;
using MvnStream.Core.Objective;
using MvnStream.Core.Statistics;

namespace MvnStream.Benchmarks;

/// <summary>
/// The O(d^3) part of every objective evaluation from statistics (a fit's iteration, a cluster worker's round):
/// the two triangular solves with d right-hand sides, S^-1 B = L^-T (L^-1 B), on the same fixed-seed L and B.
/// <list type="bullet">
/// <item>Rowwise (baseline): the row-by-row axpy substitution the objective used before the blocked solves.</item>
/// <item>Blocked: <see cref="Dense.SolveLowerInPlace"/> then <see cref="Dense.SolveLowerTransposeInPlace"/>, blocked with
/// the register-blocked <see cref="ProductKernel"/>.</item>
/// <item>MathNet: MathNet.Numerics' Cholesky solve (managed provider; its native providers do not load here), the same
/// two triangular solves, given the factor.</item>
/// <item>Objective: the whole <see cref="MvnObjective.Evaluate(SufficientStatistics, MvnParameters, Span{double}, Span{double})"/>
/// with gradients (three d x d solves and the rest), for the absolute figure.</item>
/// </list>
/// Each solve case starts from a copy of B (included in its time; MathNet allocates its result instead).
/// Run: <c>dotnet run -c Release --project tests/MvnStream.Benchmarks -- --filter '*ObjectiveBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class ObjectiveBenchmarks
{
    private const int Seed = 20261202;

    private double[] _l = [];
    private double[] _b = [];
    private double[] _x = [];
    private MathNet.Numerics.LinearAlgebra.Factorization.Cholesky<double> _cholesky = null!;
    private Matrix<double> _bMatrix = null!;
    private SufficientStatistics _stats = null!;
    private MvnParameters _theta = null!;
    private double[] _gradMu = [];
    private double[] _gradLambda = [];

    [Params(64, 256, 512)]
    public int D { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        int d = D;
        var r = new Random(Seed + d);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
        _l = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j < i; j++) _l[i * d + j] = 0.3 / Math.Sqrt(d) * Normal();
            _l[i * d + i] = 0.5 + r.NextDouble();
        }
        _b = new double[d * d];
        for (int i = 0; i < _b.Length; i++) _b[i] = Normal();
        _x = new double[d * d];

        var s = new double[d * d];
        Dense.MultiplyByOwnTranspose(_l, d, s);
        _cholesky = Matrix<double>.Build.Dense(d, d, (i, j) => s[i * d + j]).Cholesky();
        _bMatrix = Matrix<double>.Build.Dense(d, d, (i, j) => _b[i * d + j]);

        // Statistics of 4d rows of N(0, L L^T), and a theta near but not at the optimum.
        int n = 4 * d;
        var rows = new double[n * d];
        var z = new double[d];
        for (int a = 0; a < n; a++)
        {
            for (int j = 0; j < d; j++) z[j] = Normal();
            for (int i = 0; i < d; i++)
            {
                double v = 0;
                for (int j = 0; j <= i; j++) v += _l[i * d + j] * z[j];
                rows[a * d + i] = v;
            }
        }
        _stats = new SufficientStatistics(d);
        _stats.AddBatch(rows, n);
        // A dense lower factor (the identity would let the solves skip every zero of L).
        var lambda = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++) lambda[i * d + j] = (i == j ? 1.1 : 1.0) * _l[i * d + j];
        _theta = new MvnParameters(new double[d], lambda, Parameterization.LowerTriangular);
        _gradMu = new double[d];
        _gradLambda = new double[d * d];
    }

    [Benchmark(Baseline = true)]
    public double Rowwise()
    {
        _b.CopyTo(_x, 0);
        Dense.SolveLowerInPlaceRowwise(_l, D, _x, D, 0, D);
        Dense.SolveLowerTransposeInPlaceRowwise(_l, D, _x, D, 0, D);
        return _x[0];
    }

    [Benchmark]
    public double Blocked()
    {
        _b.CopyTo(_x, 0);
        Dense.SolveLowerInPlace(_l, D, _x, D);
        Dense.SolveLowerTransposeInPlace(_l, D, _x, D);
        return _x[0];
    }

    [Benchmark]
    public double MathNet() => _cholesky.Solve(_bMatrix)[0, 0];

    [Benchmark]
    public double Objective() => MvnObjective.Evaluate(_stats, _theta, _gradMu, _gradLambda);
}
