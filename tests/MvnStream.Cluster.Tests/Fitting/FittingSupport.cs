using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using MvnStream.Cluster.Actors;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using Xunit.Sdk;

namespace MvnStream.Cluster.Tests.Fitting;

/// <summary>
/// Every cluster-fitting test class is in this collection: they run one after another (a coordinator runs
/// one job at a time, and fault tests time the failure detector, which must not compete with another
/// cluster test for this machine's cores), and the classes that only submit jobs share one cluster.
/// </summary>
[CollectionDefinition(Name)]
public sealed class FittingClusterCollection : ICollectionFixture<FittingClusterFixture>
{
    public const string Name = "cluster fitting";
}

/// <summary>A coordinator and three worker ActorSystems on loopback TCP, and a temporary directory for data files.</summary>
public sealed class FittingClusterFixture : IAsyncLifetime
{
    public const int WorkerCount = 3;

    private EmbeddedCluster? _cluster;

    public EmbeddedCluster Cluster => _cluster ?? throw new InvalidOperationException("the fixture is not initialised");

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "mvnstream-fit-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        _cluster = await EmbeddedCluster.StartAsync(WorkerCount);
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (_cluster is not null) await _cluster.DisposeAsync();
        }
        finally
        {
            TestData.DeleteDirectory(Directory);
        }
    }
}

/// <summary>Seeded data files with a known structure.</summary>
internal static class TestData
{
    /// <summary>
    /// Writes <paramref name="n"/> rows of d columns as CSV (round-trip "R" formatting, one optional header):
    /// an AR(1) chain across the columns with correlation <paramref name="rho"/> between neighbours, column j
    /// scaled by 1 + j/4 and shifted by j - 3. <paramref name="edit"/> may replace a data row's text
    /// (argument: 0-based data row index; return null to keep the row).
    /// </summary>
    public static string WriteCsv(string directory, string name, int d, int n, double rho, int seed, bool header = false,
        Func<int, string?>? edit = null, Func<int, int, double, double>? column = null)
    {
        var path = Path.Combine(directory, name);
        var rng = new Random(seed);
        var row = new double[d];
        var sb = new StringBuilder();
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 16);
        if (header) writer.Write(string.Join(",", Enumerable.Range(1, d).Select(j => "x" + j.ToString(CultureInfo.InvariantCulture))) + "\n");
        for (int a = 0; a < n; a++)
        {
            Row(rng, rho, row);
            if (column is not null)
                for (int j = 0; j < d; j++) row[j] = column(a, j, row[j]);
            if (edit?.Invoke(a) is { } replaced)
            {
                writer.Write(replaced);
                writer.Write('\n');
                continue;
            }
            sb.Clear();
            for (int j = 0; j < d; j++)
            {
                if (j > 0) sb.Append(',');
                sb.Append(row[j].ToString("R", CultureInfo.InvariantCulture));
            }
            sb.Append('\n');
            writer.Write(sb);
        }
        return path;
    }

    /// <summary>One row of the structure described at <see cref="WriteCsv"/>.</summary>
    public static void Row(Random rng, double rho, Span<double> row)
    {
        double previous = 0, c = Math.Sqrt(1 - rho * rho);
        for (int j = 0; j < row.Length; j++)
        {
            double z = Normal(rng);
            previous = j == 0 ? z : rho * previous + c * z;
            row[j] = previous * (1 + 0.25 * j) + (j - 3);
        }
    }

    public static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    public static void DeleteDirectory(string directory)
    {
        try
        {
            if (System.IO.Directory.Exists(directory)) System.IO.Directory.Delete(directory, true);
        }
        catch (IOException)
        {
            // A temp directory left behind is not a test failure.
        }
    }
}

/// <summary>Submitting jobs and reading their outcome.</summary>
internal static class Jobs
{
    public static readonly ReaderSettings Csv = new(RowFormat.Csv, 0, BadRowPolicy.Fail);

    public static FitJobSettings Settings(SolverKind solver, SummingMode summing, int minWorkers, double gradientTolerance = 1e-10,
        int maxIterations = 5000, double workerWaitSeconds = 30, Parameterization parameterization = Parameterization.LowerTriangular,
        double learningRate = 0) =>
        new(solver, parameterization, maxIterations, gradientTolerance, RelativeTolerance: 0, LearningRate: learningRate, Ridge: 0,
            ShrinkageMode.None, ShrinkageIntensity: 0, summing, ShardsPerWorker: 2, MinWorkers: minWorkers, WorkerWaitSeconds: workerWaitSeconds);

    public static SubmitFitJob Submit(string path, FitJobSettings settings, ReaderSettings? reader = null) =>
        new("t" + Guid.NewGuid().ToString("N")[..11], path, reader ?? Csv, settings);

    /// <summary>Runs a job to its end; fails the test (instead of hanging) when it takes longer than <paramref name="limit"/>.</summary>
    public static async Task<(FitJobOutcome Outcome, IReadOnlyList<IMvnMessage> Events)> RunAsync(ClusterNode node, SubmitFitJob job, TimeSpan limit,
        Action<IMvnMessage>? onEvent = null)
    {
        var events = new ConcurrentQueue<IMvnMessage>();
        var run = FitJobRunner.RunAsync(node, job, m =>
        {
            events.Enqueue(m);
            onEvent?.Invoke(m);
        }, TimeSpan.FromSeconds(60));
        try
        {
            var outcome = await run.WaitAsync(limit);
            return (outcome, events.ToList());
        }
        catch (TimeoutException)
        {
            throw new XunitException($"job {job.JobId} ({job.Settings.Solver}, {job.Settings.Summing}) did not end within {limit.TotalSeconds:F0} s; events so far:\n  "
                + string.Join("\n  ", events.TakeLast(20)));
        }
    }

    /// <summary>The completed job, or a test failure that shows why it failed.</summary>
    public static FitJobCompleted Completed(FitJobOutcome outcome, string context)
    {
        if (outcome.Failed is { } f) throw new XunitException($"{context}: the job failed ({f.Kind}): {f.Message}");
        return outcome.Completed ?? throw new XunitException($"{context}: the job has no outcome");
    }

    /// <summary>The failed job, or a test failure when it completed.</summary>
    public static FitJobFailed Failed(FitJobOutcome outcome, string context)
    {
        if (outcome.Completed is { } c) throw new XunitException($"{context}: expected the job to fail, it completed with n = {c.N}, {c.Iterations} iterations ({c.StopReason})");
        return outcome.Failed ?? throw new XunitException($"{context}: the job has no outcome");
    }
}

/// <summary>Relative Frobenius comparisons with messages that say what, how far and under which seed.</summary>
internal static class Close
{
    /// <summary>||actual - expected||_F / ||expected||_F (absolute when expected is 0).</summary>
    public static double Relative(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual)
    {
        if (expected.Length != actual.Length) return double.PositiveInfinity;
        double diff = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = actual[i] - expected[i];
            diff += e * e;
            norm += expected[i] * expected[i];
        }
        return norm > 0 ? Math.Sqrt(diff / norm) : Math.Sqrt(diff);
    }

    public static double Assert(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double tolerance, string what)
    {
        double r = Relative(expected, actual);
        if (!(r <= tolerance))
            throw new XunitException(string.Create(CultureInfo.InvariantCulture, $"{what}: relative Frobenius difference {r:E3} exceeds {tolerance:E1}"));
        return r;
    }

    public static double Assert(double expected, double actual, double tolerance, string what) =>
        Assert([expected], [actual], tolerance, what);

    /// <summary>Compares mu and S = Lambda Lambda^T of two models; returns the larger relative difference.</summary>
    public static double AssertModel(MvnParameters expected, MvnParameters actual, double tolerance, string what)
    {
        double a = Assert(expected.Mu, actual.Mu, tolerance, what + ", mu");
        double b = Assert(expected.Covariance(), actual.Covariance(), tolerance, what + ", S");
        return Math.Max(a, b);
    }
}
