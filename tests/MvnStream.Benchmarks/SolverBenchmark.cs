using System.Diagnostics;
using System.Globalization;
using MvnStream.Core.Fitting;
using MvnStream.Core.Model;
using MvnStream.Core.Objective;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;
using MvnStream.Tests.Shared;

namespace MvnStream.Benchmarks;

/// <summary>
/// Iterations and milliseconds to the fit targets (mu within 1e-8 sd, every S_ij within 1e-8 sd_i sd_j of the closed
/// form) against cond(S*) at several d: the whitened solvers against the raw-coordinate ones they replaced and
/// MathNet's L-BFGS, on the same statistics in the same run. `solvers [--dims 16,64,256] [--conds 1,1e4,1e8,1e12]
/// [--max-iter N]`.
/// </summary>
internal static class SolverBenchmark
{
    public static int Run(string[] args)
    {
        int[] dims = [16, 64, 256];
        double[] conds = [1, 1e4, 1e8, 1e12];
        int maxIter = 5000;
        string only = "";
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--dims": dims = args[i + 1].Split(',').Select(int.Parse).ToArray(); break;
                case "--conds": conds = args[i + 1].Split(',').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--max-iter": maxIter = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--only": only = args[i + 1]; break;
                case "--frames":
                    var f = args[i + 1].Split(',').Select(int.Parse).ToArray();
                    (WhitenedSolver.LbfgsFrame, WhitenedSolver.GdFrame, WhitenedSolver.AdamFrame) = (f[0], f[1], f[2]);
                    break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }
        Console.WriteLine("| d | cond(S*) | solver | coordinates | iterations | evaluations | ms | mu error (sd) | S error (sd sd) | stop | meets 1e-8 |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (int d in dims)
            foreach (double cond in conds)
            {
                var r = new Random(1000 * d + (int)Math.Log10(cond));
                int n = Math.Max(20 * d, 2000);
                var rows = IllConditionedData.WithCondition(r, n, d, cond);
                IllConditionedData.ScaleAndOffset(r, rows, n, d, 0, 1e3);
                var stats = new SufficientStatistics(d);
                stats.AddBatch(rows, n);
                foreach (var (name, kind, raw, mathNet) in Cases())
                {
                    if (only.Length > 0 && !name.Contains(only, StringComparison.Ordinal)) continue;
                    var o = new SolverOptions { Kind = kind, MaxIterations = maxIter };
                    var sw = Stopwatch.StartNew();
                    FitResult? fit = null;
                    SolverResult? mn = null;
                    MvnParameters theta;
                    if (mathNet)
                    {
                        var eff = EffectiveStatistics.From(stats, Regularization.None);
                        var start = MvnFitter.InitialGuess(eff, Parameterization.LowerTriangular);
                        var x0 = new double[MvnParameters.PackedLength(d, Parameterization.LowerTriangular)];
                        start.Pack(x0);
                        mn = Minimizer.MinimizeWithMathNetLbfgs(new RawObjective(stats), x0, o);
                        theta = MvnParameters.Unpack(mn.X, d, Parameterization.LowerTriangular);
                    }
                    else
                    {
                        fit = MvnFitter.Fit(stats, new FitOptions { Solver = o, RawCoordinates = raw });
                        theta = fit.Theta;
                    }
                    double ms = sw.Elapsed.TotalMilliseconds;
                    var (eMu, eS) = FitErrors.Of(stats, theta);
                    int it = fit?.Iterations ?? mn!.Iterations, ev = fit?.Evaluations ?? mn!.Evaluations;
                    var reason = fit?.Reason ?? mn!.Reason;
                    Console.WriteLine(FormattableString.Invariant(
                        $"| {d} | {cond:G2} | {name} | {(raw || mathNet ? "raw" : "whitened")} | {it} | {ev} | {ms:F1} | {eMu:E1} | {eS:E1} | {reason} | {(eMu <= 1e-8 && eS <= 1e-8 ? "yes" : "NO")} |"));
                }
            }
        return 0;
    }

    private static IEnumerable<(string Name, SolverKind Kind, bool Raw, bool MathNet)> Cases()
    {
        yield return ("lbfgs", SolverKind.Lbfgs, false, false);
        yield return ("gd", SolverKind.GradientDescent, false, false);
        yield return ("adam", SolverKind.Adam, false, false);
        yield return ("lbfgs-raw", SolverKind.Lbfgs, true, false);
        yield return ("mathnet-lbfgs", SolverKind.Lbfgs, true, true);
    }

    /// <summary>J/n in raw packed tril coordinates, for MathNet's minimiser.</summary>
    private sealed class RawObjective(SufficientStatistics stats) : IDifferentiableFunction
    {
        private readonly int _d = stats.Dimension;
        public int Length => MvnParameters.PackedLength(_d, Parameterization.LowerTriangular);

        public double Evaluate(ReadOnlySpan<double> x, Span<double> gradient)
        {
            var theta = MvnParameters.Unpack(x, _d, Parameterization.LowerTriangular);
            var gMu = new double[_d];
            var gL = new double[_d * _d];
            double j = MvnObjective.Evaluate(stats, theta, gMu, gL);
            if (!double.IsFinite(j)) return double.PositiveInfinity;
            MvnParameters.PackInto(gMu, gL, _d, Parameterization.LowerTriangular, gradient);
            double inv = 1 / stats.Weight;
            for (int i = 0; i < gradient.Length; i++) gradient[i] *= inv;
            return j * inv;
        }
    }
}
