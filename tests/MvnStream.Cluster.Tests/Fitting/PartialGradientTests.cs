using System.Globalization;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Formats;
using MvnStream.Core.Ingest;
using MvnStream.Core.Model;
using MvnStream.Core.Objective;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace MvnStream.Cluster.Tests.Fitting;

/// <summary>
/// docs/ARCHITECTURE.md, "Fitting a file": both summing modes give the same model (tested here): a probe in the coordinator's ActorSystem plays the
/// coordinator towards the real worker actors of two other ActorSystems (over TCP): it has them load four byte
/// ranges of a file and compute J and its gradients at one theta, sums the partial answers in shard order and
/// compares them with <see cref="MvnObjective.Evaluate(MvnStream.Core.Statistics.SufficientStatistics, MvnParameters, Span{double}, Span{double})"/>
/// on the whole file's statistics.
/// </summary>
[Collection(FittingClusterCollection.Name)]
public sealed class PartialGradientTests(FittingClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// 1e-12 relative: J and its gradients are linear in (n, n xbar, C(mu)) and C(mu) is a sum over rows, so the
    /// shard terms add up to the whole exactly in real arithmetic. What remains is rounding: each term is O(d^3)
    /// flops of backward-stable triangular solves with d = 8 and a well-conditioned S at theta (about 1e-15
    /// relative), plus the different merge order of the statistics. A dropped or doubled shard, a shard cut that
    /// loses or repeats a row, or the wrong centring (xbar - mu) in a partial changes the sum at 1e-4 or more.
    /// </summary>
    private const double Tolerance = 1e-12;

    [Theory]
    [InlineData(Parameterization.LowerTriangular)]
    [InlineData(Parameterization.Full)]
    public async Task Partial_gradients_of_four_shards_on_two_workers_sum_to_the_gradient_of_the_whole(Parameterization parameterization)
    {
        const int seed = 77031, d = 8, n = 4000, shards = 4;
        const double rho = 0.6;
        string ctx = $"seed {seed}, d {d}, n {n}, rho {rho}, {parameterization}";
        output.WriteLine(ctx);
        var path = TestData.WriteCsv(fixture.Directory, $"partial-{parameterization}.csv", d, n, rho, seed);
        var whole = ShardAccumulator.AccumulateFile(path, new RowReaderOptions { Format = RowFormat.Csv }, threads: 1).Statistics;

        // A theta away from the optimum, so that the gradients are far from zero (no cancellation to hide behind).
        var mu = new double[d];
        var lambda = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            mu[i] = whole.Mean[i] + 0.3 * (i % 3 - 1) + 0.1;
            lambda[i * d + i] = 1.3 * Math.Sqrt(whole.Scatter[i * d + i] / n);
            for (int j = 0; j < i; j++) lambda[i * d + j] = 0.05 * (i - j) + 0.02 * j;
            if (parameterization == Parameterization.Full)
                for (int j = i + 1; j < d; j++) lambda[i * d + j] = 0.03 * (j - i);
        }
        var theta = new MvnParameters(mu, lambda, parameterization);

        var system = fixture.Cluster.Coordinator.System;
        var workerNodes = fixture.Cluster.Workers.Take(2).ToArray();
        var workers = new IActorRef[2];
        for (int w = 0; w < 2; w++)
            workers[w] = await system.ActorSelection(new RootActorPath(workerNodes[w].Address) / "user" / "worker").ResolveOne(Timeout);

        var probe = new TestProbe(system, new XunitAssertions());
        string jobId = "probe-" + Guid.NewGuid().ToString("N")[..8];
        long length = new FileInfo(path).Length;
        var reader = new ReaderSettings(RowFormat.Csv, d, BadRowPolicy.Fail);
        try
        {
            // Shards 0, 1 on the first worker, 2, 3 on the second; each ComputePartialGradient is sent right
            // behind its LoadShard, so the worker must hold the round until the shard is read.
            for (int s = 0; s < shards; s++)
            {
                long start = length * s / shards, end = s == shards - 1 ? long.MaxValue : length * (s + 1) / shards;
                workers[s / 2].Tell(new LoadShard(jobId, s, path, start, end, reader, ReturnStatistics: true), probe.Ref);
            }
            var round = ThetaData.From(theta);
            for (int w = 0; w < 2; w++)
                workers[w].Tell(new ComputePartialGradient(jobId, 1, [2 * w, 2 * w + 1], round), probe.Ref);

            var loaded = new ShardLoaded?[shards];
            var partial = new PartialGradientComputed?[shards];
            while (loaded.Any(x => x is null) || partial.Any(x => x is null))
            {
                var m = probe.ReceiveOne(Timeout)
                    ?? throw new XunitException($"{ctx}: no answer from the workers within {Timeout.TotalSeconds:F0} s (loaded {loaded.Count(x => x is not null)}, computed {partial.Count(x => x is not null)})");
                var from = probe.LastSender.Path.Address;
                switch (m)
                {
                    case ShardLoadProgress:
                        break;
                    case ShardLoaded l:
                        Assert.Equal(jobId, l.JobId);
                        Assert.Null(loaded[l.ShardIndex]);
                        Assert.Equal(workerNodes[l.ShardIndex / 2].Address, from);
                        loaded[l.ShardIndex] = l;
                        break;
                    case PartialGradientComputed p:
                        Assert.Equal(jobId, p.JobId);
                        Assert.Equal(1, p.Round);
                        Assert.Null(partial[p.ShardIndex]);
                        Assert.Equal(workerNodes[p.ShardIndex / 2].Address, from);
                        partial[p.ShardIndex] = p;
                        break;
                    case ShardLoadFailed f:
                        throw new XunitException($"{ctx}: shard {f.ShardIndex} failed to load ({f.Kind}): {f.Message}");
                    default:
                        throw new XunitException($"{ctx}: unexpected message {m}");
                }
            }

            // The shard cuts count every row once.
            Assert.Equal(whole.Count, loaded.Sum(l => l!.Rows));
            Assert.All(loaded, l => Assert.True(l!.Rows > n / shards / 2, $"{ctx}: shard {l.ShardIndex} has only {l.Rows} rows"));

            // Summed in shard order, as the coordinator does.
            int packed = MvnParameters.PackedLength(d, parameterization) - d;
            double j = 0;
            var gMu = new double[d];
            var gL = new double[packed];
            foreach (var p in partial)
            {
                Assert.Equal(d, p!.GradMu.Length);
                Assert.Equal(packed, p.GradLambdaPacked.Length);
                j += p.J;
                for (int i = 0; i < d; i++) gMu[i] += p.GradMu[i];
                for (int i = 0; i < packed; i++) gL[i] += p.GradLambdaPacked[i];
            }

            var refMu = new double[d];
            var refL = new double[d * d];
            double refJ = MvnObjective.Evaluate(whole, theta, refMu, refL);
            var refPacked = new double[d + packed];
            MvnParameters.PackInto(refMu, refL, d, parameterization, refPacked);

            double rj = Close.Assert(refJ, j, Tolerance, $"{ctx}: summed partial J vs J of the whole");
            double rm = Close.Assert(refPacked.AsSpan(0, d), gMu, Tolerance, $"{ctx}: summed dJ/dmu vs the whole's");
            double rl = Close.Assert(refPacked.AsSpan(d), gL, Tolerance, $"{ctx}: summed dJ/dLambda vs the whole's");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"J {refJ:R}: rel diff {rj:E2}; |dJ/dmu| {Norm(refPacked.AsSpan(0, d)):E3}: {rm:E2}; |dJ/dLambda| {Norm(refPacked.AsSpan(d)):E3}: {rl:E2}"));
        }
        finally
        {
            foreach (var w in workers) w.Tell(new ReleaseJob(jobId));
            system.Stop(probe.Ref);
        }
    }

    private static double Norm(ReadOnlySpan<double> x)
    {
        double s = 0;
        foreach (var v in x) s += v * v;
        return Math.Sqrt(s);
    }
}
