using System.Globalization;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>One data file and its closed-form model, shared by the solver cases.</summary>
public sealed class SolverFixture : IAsyncLifetime
{
    public const int Seed = 4201, D = 4, N = 20_000;

    public TestScope Scope { get; } = new(null, "solvers");
    public MvnSample Sample { get; } = MvnSample.Random(Seed, D, N);
    public string Csv { get; private set; } = "";
    public ModelFile ClosedForm { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Csv = Sample.WriteCsv(Scope.PathOf("data.csv"));
        var path = Scope.PathOf("closed-form.json");
        (await Scope.RunAsync("fit", Csv, "--solver", "closed-form", "--out", path)).ExpectExit(0);
        ClosedForm = ModelFile.Load(path);
    }

    public Task DisposeAsync()
    {
        Scope.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>Test 2: every solver and both parameterizations reach the closed-form model; --json is one JSON object on stdout.</summary>
public sealed class SolverTests(SolverFixture fixture, ITestOutputHelper output) : IClassFixture<SolverFixture>, IDisposable
{
    private readonly TestScope _scope = new(output, "solver");

    public void Dispose() => _scope.Dispose();

    [Theory]
    [InlineData("closed-form", "tril")]
    [InlineData("gd", "tril")]
    [InlineData("adam", "tril")]
    [InlineData("lbfgs", "tril")]
    [InlineData("closed-form", "full")]
    [InlineData("gd", "full")]
    [InlineData("adam", "full")]
    [InlineData("lbfgs", "full")]
    public async Task Solver_and_parameterization_give_the_closed_form_model(string solver, string param)
    {
        var sample = fixture.Sample;
        int d = sample.D;
        string ctx = $"--solver {solver} --param {param}, {sample.Describe}";
        var modelPath = _scope.PathOf("model.json");
        var run = (await _scope.RunAsync("fit", fixture.Csv, "--solver", solver, "--param", param, "--json", "--out", modelPath)).ExpectExit(0);

        // --json: stdout is exactly one JSON object (one line), progress stays on stderr.
        var summary = JsonSummary.Parse(run, ctx);
        Assert.Equal(solver, summary["solver"]?.GetValue<string>());
        Assert.Equal(param, summary["parameterization"]?.GetValue<string>());
        Assert.Equal(sample.N, summary["n"]?.GetValue<long>());
        Assert.Equal(Path.GetFullPath(modelPath), summary["model"]?.GetValue<string>());

        var m = ModelFile.Load(modelPath);
        Assert.Equal(param, m.Parameterization);
        Assert.Equal(solver, m.Solver);
        Assert.Equal(sample.N, m.N);
        Check.Finite(m, ctx);
        var cf = fixture.ClosedForm;

        // The reported gap J/n - J*/n is checked against one computed here from the data's own moments (plain loops):
        // both are differences of two O(5) numbers, so they agree to rounding, ~1e-14; 1e-12 leaves room for that only.
        double gap = m.Gap!.Value;
        double ownGap = GapPerRow(sample, m.Mu, m.Covariance);
        Assert.True(Math.Abs(gap - ownGap) <= 1e-12, Inv($"reported gap {gap:E3} but J/n - J*/n = {ownGap:E3} at the written model ({ctx})"));
        Assert.True(gap > -1e-12, Inv($"gap {gap:E3} < 0: the model claims to beat the optimum ({ctx})"));

        // Tolerance, elementwise in standard-deviation units (|dmu_i| / sqrt(S_ii), |dS_ij| / sqrt(S_ii S_jj)):
        // - closed-form and L-BFGS (gradient tolerance 1e-10): 1e-6.
        // - gd and Adam stop when a step no longer lowers J at working precision; their distance from the optimum
        //   follows from the gap g they report: J/n - J*/n = 1/2 dmu^T S^-1 dmu + (a non-negative S term), so
        //   |dmu_i| <= sqrt(2 g S_ii) exactly; and to second order g >= 1/4 ||S*^-1/2 S S*^-1/2 - I||_F^2, so
        //   |dS_ij| <= 2 sqrt(g) sqrt(S_ii S_jj). We allow twice these bounds, with g floored at 1e-14 (the rounding
        //   noise of J/n ~ 5), and never less than 1e-6.
        bool loose = solver is "gd" or "adam";
        double g = Math.Max(gap, 0) + 1e-14;
        double tolMu = loose ? Math.Max(1e-6, 2 * Math.Sqrt(2 * g)) : 1e-6;
        double tolS = loose ? Math.Max(1e-6, 4 * Math.Sqrt(g)) : 1e-6;
        output.WriteLine(Inv($"{ctx}: gap {gap:E3} (own {ownGap:E3}), tolerance mu {tolMu:E2}, S {tolS:E2}"));
        for (int i = 0; i < d; i++)
        {
            double e = Math.Abs(m.Mu[i] - cf.Mu[i]) / Math.Sqrt(cf.Covariance[i * d + i]);
            Assert.True(e <= tolMu, Inv($"mu[{i}] = {m.Mu[i]:R}, closed form {cf.Mu[i]:R}: {e:E3} sd > {tolMu:E2} ({ctx})"));
        }
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double e = Math.Abs(m.Covariance[i * d + j] - cf.Covariance[i * d + j]) / Math.Sqrt(cf.Covariance[i * d + i] * cf.Covariance[j * d + j]);
                Assert.True(e <= tolS, Inv($"S[{i},{j}] = {m.Covariance[i * d + j]:R}, closed form {cf.Covariance[i * d + j]:R}: {e:E3} > {tolS:E2} ({ctx})"));
            }
    }

    /// <summary>
    /// J/n at (mu, S) minus its minimum, from the rows' mean xbar and covariance C = M/n:
    /// 1/2 [log|S| - log|C| + tr(S^-1 C) - d + (mu - xbar)^T S^-1 (mu - xbar)], via Cholesky factors.
    /// </summary>
    private static double GapPerRow(MvnSample sample, double[] mu, double[] s)
    {
        int d = sample.D;
        var (xbar, c) = sample.SampleMoments();
        var ls = Linalg.Cholesky(s, d);
        var lc = Linalg.Cholesky(c, d);
        double logDetS = 0, logDetC = 0;
        for (int i = 0; i < d; i++)
        {
            logDetS += 2 * Math.Log(ls[i * d + i]);
            logDetC += 2 * Math.Log(lc[i * d + i]);
        }
        // tr(S^-1 C) = ||Ls^-1 Lc||_F^2, column by column.
        double trace = 0;
        var col = new double[d];
        for (int j = 0; j < d; j++)
        {
            for (int i = 0; i < d; i++) col[i] = lc[i * d + j];
            var w = Linalg.ForwardSolve(ls, d, col);
            foreach (var x in w) trace += x * x;
        }
        var delta = new double[d];
        for (int i = 0; i < d; i++) delta[i] = mu[i] - xbar[i];
        var z = Linalg.ForwardSolve(ls, d, delta);
        double quad = z.Sum(x => x * x);
        return 0.5 * (logDetS - logDetC + trace - d + quad);
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
