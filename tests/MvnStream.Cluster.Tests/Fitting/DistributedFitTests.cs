using System.Globalization;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Ingest;
using MvnStream.Core.Solvers;
using Xunit.Abstractions;

namespace MvnStream.Cluster.Tests.Fitting;

/// <summary>
/// A job over three worker ActorSystems (six byte-range shards, real TCP on loopback) fits the same model
/// as <see cref="MvnFitter.Fit(MvnStream.Core.Statistics.SufficientStatistics, FitOptions, Action{FitProgress}?, CancellationToken)"/>
/// on the whole file's statistics in this process, whichever way the coordinator sums (docs/ARCHITECTURE.md, "Fitting a file").
/// </summary>
[Collection(FittingClusterCollection.Name)]
public sealed class DistributedFitTests(FittingClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Tolerance 1e-10 relative: the distributed and local fits see the same rows, but the statistics are merged
    /// from different shard cuts (six equal byte ranges here, one range locally), which changes the last bits of
    /// (xbar, M), about 1e-16 relative; in gradient mode J and its gradient are further sums of per-shard terms.
    /// The closed form maps those bits to about 1e-15 in (mu, S). L-BFGS stops at |grad(J/n)| &lt;= 1e-10 on a
    /// well-conditioned problem (neighbour correlation 0.5, scales 1..2.25), so each fit is within about 1e-10 / lambda_min(H)
    /// of the optimum, and in practice both follow the same iterates and stop at the same iteration, agreeing far
    /// closer. A real difference (a shard dropped or counted twice, a wrong merge, a gradient not summed) moves
    /// mu and S by more than 1e-4 with 6 shards of 1000 rows.
    /// </summary>
    private const double Tolerance = 1e-10;

    [Theory]
    [InlineData(SolverKind.Lbfgs)]
    [InlineData(SolverKind.ClosedForm)]
    public async Task Distributed_fit_equals_the_single_process_fit_in_both_summing_modes(SolverKind solver)
    {
        const int seed = 20240611, d = 6, n = 6000;
        const double rho = 0.5;
        string ctx = $"seed {seed}, d {d}, n {n}, rho {rho}, solver {solver}";
        output.WriteLine(ctx);
        var path = TestData.WriteCsv(fixture.Directory, $"fit-{solver}.csv", d, n, rho, seed, header: true);

        var options = Jobs.Settings(solver, SummingMode.Statistics, FittingClusterFixture.WorkerCount).ToFitOptions();
        var whole = ShardAccumulator.AccumulateFile(path, new RowReaderOptions { Format = RowFormat.Csv, OnBadRow = BadRowPolicy.Fail }, threads: 1);
        var local = MvnFitter.Fit(whole.Statistics, options);
        Assert.Equal(n, whole.Statistics.Count);
        Assert.True(local.Converged, $"{ctx}: the local reference did not converge ({local.Reason})");

        var results = new Dictionary<SummingMode, FitJobCompleted>();
        foreach (var summing in new[] { SummingMode.Statistics, SummingMode.Gradients })
        {
            string what = $"{ctx}, {summing} summed";
            var job = Jobs.Submit(path, Jobs.Settings(solver, summing, FittingClusterFixture.WorkerCount));
            var (outcome, events) = await Jobs.RunAsync(fixture.Cluster.Coordinator, job, Limit);
            var c = Jobs.Completed(outcome, what);
            results[summing] = c;

            var accepted = Assert.Single(events.OfType<FitJobAccepted>());
            Assert.Equal(FittingClusterFixture.WorkerCount, accepted.Workers);
            Assert.Equal(2 * FittingClusterFixture.WorkerCount, accepted.Shards);
            Assert.Equal(d, accepted.Dimension);
            Assert.Equal(FittingClusterFixture.WorkerCount, c.WorkersUsed);
            Assert.Equal(0, c.ShardsReassigned);
            Assert.Equal(0, c.WorkersLost);
            Assert.Equal(FittingClusterFixture.WorkerCount, c.WorkersAtEnd);
            Assert.Equal(0, c.RejectedRows);
            Assert.Equal(whole.Statistics.Count, c.N); // n exactly: every row once, the header never
            Assert.True(c.Converged, $"{what}: stopped with {c.StopReason}");
            if (summing == SummingMode.Gradients && solver != SolverKind.ClosedForm)
            {
                // Otherwise this would not test the summed gradients at all.
                Assert.True(c.Rounds >= c.Iterations && c.Iterations > 0, $"{what}: {c.Rounds} rounds for {c.Iterations} iterations");
            }
            else Assert.Equal(0, c.Rounds);

            double r = Close.AssertModel(local.Theta, c.Theta.ToParameters(), Tolerance, $"{what} vs MvnFitter.Fit");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{summing}: {c.Iterations} iterations, {c.Rounds} rounds, gap {c.GapPerRow:E2}; vs local fit ({local.Iterations} iterations): {r:E2}"));
        }

        double between = Close.AssertModel(results[SummingMode.Statistics].Theta.ToParameters(), results[SummingMode.Gradients].Theta.ToParameters(),
            Tolerance, $"{ctx}: statistics-summed vs gradient-summed");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"statistics vs gradients: {between:E2}"));
        Assert.Equal(results[SummingMode.Statistics].N, results[SummingMode.Gradients].N);
    }

    /// <summary>
    /// Ill-conditioned data (cond(S*) = 1e12 before its columns are scaled by 10^U(-6,6) and offset by 1e5 of their sds):
    /// both summing modes meet the fit targets against the closed form of the file's statistics (mu within 1e-8 sd, S
    /// within 1e-8 sd_i sd_j), with L-BFGS and gradient descent, within 100 iterations. In gradient summing the coordinator
    /// whitens the summed partial gradients (docs/ARCHITECTURE.md, "Solvers").
    /// </summary>
    [Theory]
    [InlineData(SolverKind.Lbfgs)]
    [InlineData(SolverKind.GradientDescent)]
    public async Task Ill_conditioned_file_meets_the_fit_targets_in_both_summing_modes(SolverKind solver)
    {
        const int seed = 1012, d = 5, n = 3000;
        var r = new Random(seed);
        var rows = MvnStream.Tests.Shared.IllConditionedData.WithCondition(r, n, d, 1e12);
        MvnStream.Tests.Shared.IllConditionedData.ScaleAndOffset(r, rows, n, d, 6, 1e5);
        var path = Path.Combine(fixture.Directory, $"ill-{solver}.csv");
        using (var w = new StreamWriter(path))
            for (int a = 0; a < n; a++)
                w.WriteLine(string.Join(",", Enumerable.Range(0, d).Select(j => rows[a * d + j].ToString("R", CultureInfo.InvariantCulture))));
        var whole = ShardAccumulator.AccumulateFile(path, new RowReaderOptions { Format = RowFormat.Csv, OnBadRow = BadRowPolicy.Fail }, threads: 1);
        var stats = whole.Statistics;
        foreach (var summing in new[] { SummingMode.Statistics, SummingMode.Gradients })
        {
            string what = $"seed {seed}, d {d}, {solver}, {summing} summed";
            var job = Jobs.Submit(path, Jobs.Settings(solver, summing, FittingClusterFixture.WorkerCount));
            var (outcome, _) = await Jobs.RunAsync(fixture.Cluster.Coordinator, job, Limit);
            var c = Jobs.Completed(outcome, what);
            var theta = c.Theta.ToParameters();
            var s = theta.Covariance();
            var m = stats.Scatter;
            double eMu = 0, eS = 0;
            for (int i = 0; i < d; i++)
            {
                double sdi = Math.Sqrt(m[i * d + i] / n);
                eMu = Math.Max(eMu, Math.Abs(theta.Mu[i] - stats.Mean[i]) / sdi);
                for (int j = 0; j < d; j++)
                    eS = Math.Max(eS, Math.Abs(s[i * d + j] - m[i * d + j] / n) / (sdi * Math.Sqrt(m[j * d + j] / n)));
            }
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {c.Iterations} iterations, {c.Rounds} rounds, {c.StopReason}, mu {eMu:E1} sd, S {eS:E1}"));
            Assert.True(c.Converged, $"{what}: stopped with {c.StopReason}");
            Assert.True(eMu <= 1e-8 && eS <= 1e-8, $"{what}: mu off by {eMu:E2} sd, S off by {eS:E2} sd_i sd_j");
            Assert.True(c.Iterations <= 100, $"{what}: {c.Iterations} iterations");
        }
    }
}
