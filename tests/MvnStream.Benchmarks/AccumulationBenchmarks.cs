using System.Globalization;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using MvnStream.Core.Numerics;
using MvnStream.Core.Statistics;

namespace MvnStream.Benchmarks;

/// <summary>
/// Statistics accumulation throughput (rows per second, single thread) for one block of
/// <see cref="Rows"/> rows of dimension <see cref="D"/>, all methods on the same fixed-seed data, in two
/// categories, each with its own OpenBLAS baseline for the Ratio column:
/// <list type="bullet">
/// <item><b>Kernel</b> (all start from the already-centred block Z):
/// OpenBlas (baseline): cblas_dsyrk on Z, lower triangle, one thread;
/// Syrk: our <see cref="Syrk.AccumulateLower"/>;
/// SyrkReference: the row-by-row reference kernel it replaced (for the record);
/// Naive: per-row outer products, full d x d update per row, plain loops.</item>
/// <item><b>Whole</b> (both start from the raw rows and do the same work: block mean with correction pass,
/// third and fourth moments, rank-k update, merge term, mirror, moment shift):
/// AddBatchOpenBlas (baseline): <see cref="SufficientStatistics.AddBatch"/> with cblas_dsyrk as the rank-k
/// kernel; dsyrk needs the centred block in memory, so the block is centred into a buffer first (what any
/// BLAS-based accumulation has to do);
/// AddBatch: the product's <see cref="SufficientStatistics.AddBatch"/>, whose kernel centres while packing.</item>
/// </list>
/// Ratio = time / the category's baseline (lower is faster). "x dsyrk" = rows/s as a multiple of the bare
/// dsyrk call on the same (D, Rows) (higher is faster): for the Whole category it compares the entire
/// accumulation with the bare kernel, the literal target. Rows/s = Rows / Mean.
/// Requires OpenBLAS (Debian: <c>apt-get install libopenblas0</c>); without it the OpenBLAS cases fail
/// with a message saying so and the run exits non-zero.
/// </summary>
[Config(typeof(AccumulationConfig))]
[MemoryDiagnoser(displayGenColumns: false)]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class AccumulationBenchmarks
{
    internal const string Kernel = "Kernel";
    internal const string Whole = "Whole";

    private const int Seed = 20240613;

    private double[] _raw = [];
    private double[] _centred = [];
    private double[] _m = [];
    private SufficientStatistics _stats = null!;
    private SufficientStatistics _statsBlas = null!;
    private double[] _blasScratch = [];
    private SufficientStatistics.CentredRankKUpdate _openBlasRankK = null!;

    [Params(16, 64, 256)]
    public int D { get; set; }

    /// <summary>Rows per block; the ingest path passes blocks of 4096 rows.</summary>
    [Params(512, 4096)]
    public int Rows { get; set; }

    /// <summary>Setup of the OpenBLAS case: loads OpenBLAS (clear error if missing) and pins it to one thread.</summary>
    [GlobalSetup(Targets = [nameof(OpenBlasDsyrk), nameof(AddBatchOpenBlas)])]
    public void SetupOpenBlas()
    {
        OpenBlas.EnsureSingleThreaded();
        Setup();
    }

    /// <summary>Same data for every case: fixed seed, depends only on (D, Rows).</summary>
    [GlobalSetup]
    public void Setup()
    {
        int d = D, k = Rows;
        var rnd = new Random(Seed);
        // Columns with their own offset and scale, and some correlation, so centring matters.
        var offset = new double[d];
        var scale = new double[d];
        for (int j = 0; j < d; j++)
        {
            offset[j] = 100 * (rnd.NextDouble() - 0.5);
            scale[j] = 0.1 + 3 * rnd.NextDouble();
        }
        _raw = new double[k * d];
        for (int r = 0; r < k; r++)
        {
            double common = Gaussian(rnd);
            for (int j = 0; j < d; j++)
                _raw[r * d + j] = offset[j] + scale[j] * (Gaussian(rnd) + 0.5 * common);
        }

        var mean = new double[d];
        for (int r = 0; r < k; r++)
            for (int j = 0; j < d; j++) mean[j] += _raw[r * d + j];
        for (int j = 0; j < d; j++) mean[j] /= k;
        _centred = new double[k * d];
        for (int r = 0; r < k; r++)
            for (int j = 0; j < d; j++) _centred[r * d + j] = _raw[r * d + j] - mean[j];

        _m = new double[d * d];
        _stats = new SufficientStatistics(d);
        _statsBlas = new SufficientStatistics(d);
        _blasScratch = GC.AllocateUninitializedArray<double>(k * d, pinned: true);
        _openBlasRankK = OpenBlasCentredRankK;
    }

    private static double Gaussian(Random rnd)
    {
        double u1 = 1.0 - rnd.NextDouble(), u2 = rnd.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>(a) Per-row outer products, full d x d update per row, plain scalar loops.</summary>
    [Benchmark(Description = "Naive outer products"), BenchmarkCategory(Kernel)]
    public void Naive()
    {
        int d = D, k = Rows;
        var z = _centred;
        var m = _m;
        for (int r = 0; r < k; r++)
        {
            int row = r * d;
            for (int i = 0; i < d; i++)
            {
                double zi = z[row + i];
                int mi = i * d;
                for (int j = 0; j < d; j++) m[mi + j] += zi * z[row + j];
            }
        }
    }

    /// <summary>(b) OpenBLAS cblas_dsyrk(RowMajor, Lower, Trans, n = d, k = rows, 1, Z, d, 1, M, d), one thread.</summary>
    [Benchmark(Baseline = true, Description = "OpenBLAS dsyrk"), BenchmarkCategory(Kernel)]
    public unsafe void OpenBlasDsyrk()
    {
        fixed (double* z = _centred, m = _m)
            OpenBlas.Dsyrk(OpenBlas.RowMajor, OpenBlas.Lower, OpenBlas.Trans, D, Rows, 1.0, z, D, 1.0, m, D);
    }

    /// <summary>(c) Our blocked kernel.</summary>
    [Benchmark(Description = "Syrk.AccumulateLower"), BenchmarkCategory(Kernel)]
    public void Syrk_AccumulateLower() => Syrk.AccumulateLower(_centred, Rows, D, _m);

    /// <summary>The reference kernel (row-by-row vectorised axpy), what AccumulateLower called before.</summary>
    [Benchmark(Description = "Syrk reference kernel"), BenchmarkCategory(Kernel)]
    public void Syrk_Reference() => Syrk.AccumulateLowerReference(_centred, Rows, D, _m);

    /// <summary>(d) The whole ingest step: SufficientStatistics.AddBatch on the raw block.</summary>
    [Benchmark(Description = "SufficientStatistics.AddBatch"), BenchmarkCategory(Whole)]
    public void AddBatch() => _stats.AddBatch(_raw, Rows);

    /// <summary>(e) The same whole ingest step with OpenBLAS dsyrk as its rank-k kernel (the like-for-like reference).</summary>
    [Benchmark(Baseline = true, Description = "AddBatch with OpenBLAS dsyrk"), BenchmarkCategory(Whole)]
    public void AddBatchOpenBlas() => _statsBlas.AddBatch(_raw, Rows, default, _openBlasRankK);

    /// <summary>
    /// lower(M) += sum_r w_r (x_r - c)(x_r - c)^T through dsyrk: centre (and scale) the block into a buffer,
    /// then one cblas_dsyrk. The centring loop is vectorised like the product's own passes.
    /// </summary>
    private unsafe void OpenBlasCentredRankK(ReadOnlySpan<double> rows, int k, int d, ReadOnlySpan<double> centre,
        ReadOnlySpan<double> weights, Span<double> lower)
    {
        var z = _blasScratch.AsSpan(0, k * d);
        for (int r = 0; r < k; r++)
        {
            var x = rows.Slice(r * d, d);
            var zr = z.Slice(r * d, d);
            double f = weights.IsEmpty ? 1.0 : Math.Sqrt(weights[r]);
            int j = 0;
            if (System.Numerics.Vector<double>.Count <= d)
            {
                int width = System.Numerics.Vector<double>.Count;
                for (; j + width <= d; j += width)
                {
                    var v = new System.Numerics.Vector<double>(x[j..]) - new System.Numerics.Vector<double>(centre[j..]);
                    (weights.IsEmpty ? v : v * f).CopyTo(zr[j..]);
                }
            }
            for (; j < d; j++) zr[j] = weights.IsEmpty ? x[j] - centre[j] : (x[j] - centre[j]) * f;
        }
        fixed (double* zp = z, m = lower)
            OpenBlas.Dsyrk(OpenBlas.RowMajor, OpenBlas.Lower, OpenBlas.Trans, d, k, 1.0, zp, d, 1.0, m, d);
    }
}

/// <summary>Adds Rows/s, Median and Min to BenchmarkDotNet's default columns (Mean, Error, Ratio, ...).</summary>
public sealed class AccumulationConfig : ManualConfig
{
    public AccumulationConfig()
    {
        AddColumn(new RowsPerSecondColumn());
        AddColumn(new RelativeToDsyrkColumn());
        // Median and Min are robust to interference from other processes on a shared machine.
        AddColumn(StatisticColumn.Median, StatisticColumn.Min);
        SummaryStyle = SummaryStyle.Default.WithRatioStyle(RatioStyle.Value);
    }
}

/// <summary>
/// Rows per second = value of the benchmark's <c>Rows</c> parameter / Mean (BenchmarkDotNet's Mean is
/// per operation). Reusable by any benchmark class with an integer <c>Rows</c> parameter.
/// </summary>
public sealed class RowsPerSecondColumn : IColumn
{
    public string Id => nameof(RowsPerSecondColumn);
    public string ColumnName => "Rows/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Rows processed per second (Rows / Mean), in millions (M) or thousands (k)";

    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        var rowsParameter = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Rows");
        if (stats is null || rowsParameter?.Value is null || !(stats.Mean > 0)) return "NA";
        double rows = Convert.ToDouble(rowsParameter.Value, CultureInfo.InvariantCulture);
        double perSecond = rows / (stats.Mean * 1e-9);
        return perSecond >= 1e6
            ? (perSecond / 1e6).ToString("F2", CultureInfo.InvariantCulture) + " M"
            : (perSecond / 1e3).ToString("F1", CultureInfo.InvariantCulture) + " k";
    }

    public override string ToString() => ColumnName;
}

/// <summary>
/// Throughput as a multiple of the bare OpenBLAS dsyrk case with the same parameters:
/// Mean(dsyrk) / Mean(this), so 1.25 means 25% more rows per second than dsyrk alone.
/// </summary>
public sealed class RelativeToDsyrkColumn : IColumn
{
    public string Id => nameof(RelativeToDsyrkColumn);
    public string ColumnName => "x dsyrk";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 1;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Rows/s as a multiple of the bare OpenBLAS dsyrk call on the same (D, Rows): Mean(dsyrk) / Mean (higher is faster)";

    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var reference = summary.BenchmarksCases.FirstOrDefault(b =>
            b.Descriptor.WorkloadMethod.Name == nameof(AccumulationBenchmarks.OpenBlasDsyrk) &&
            b.Parameters.ValueInfo == benchmarkCase.Parameters.ValueInfo &&
            b.Job.DisplayInfo == benchmarkCase.Job.DisplayInfo);
        var mine = summary[benchmarkCase]?.ResultStatistics;
        var theirs = reference is null ? null : summary[reference]?.ResultStatistics;
        if (mine is null || theirs is null || !(mine.Mean > 0)) return "NA";
        return (theirs.Mean / mine.Mean).ToString("F2", CultureInfo.InvariantCulture);
    }

    public override string ToString() => ColumnName;
}

/// <summary>P/Invoke into Debian's OpenBLAS (package libopenblas0), pinned to one thread.</summary>
internal static unsafe class OpenBlas
{
    private const string Library = "libopenblas.so.0";
    internal const int RowMajor = 101;  // CblasRowMajor
    internal const int Lower = 122;     // CblasLower
    internal const int Trans = 112;     // CblasTrans

    [DllImport(Library, EntryPoint = "cblas_dsyrk")]
    internal static extern void Dsyrk(int order, int uplo, int trans, int n, int k, double alpha,
        double* a, int lda, double beta, double* c, int ldc);

    [DllImport(Library, EntryPoint = "openblas_set_num_threads")]
    private static extern void SetNumThreads(int threads);

    [DllImport(Library, EntryPoint = "openblas_get_num_threads")]
    private static extern int GetNumThreads();

    [DllImport(Library, EntryPoint = "openblas_get_corename")]
    private static extern IntPtr GetCoreName();

    [DllImport(Library, EntryPoint = "openblas_get_config")]
    private static extern IntPtr GetConfig();

    /// <summary>True when OpenBLAS can be loaded (used by Program to explain a failed baseline).</summary>
    internal static bool IsAvailable() => NativeLibrary.TryLoad(Library, typeof(OpenBlas).Assembly, null, out _);

    /// <summary>Loads OpenBLAS, sets one thread and prints its build; throws a clear error if it is missing.</summary>
    internal static void EnsureSingleThreaded()
    {
        try
        {
            SetNumThreads(1);
            int threads = GetNumThreads();
            if (threads != 1)
                throw new InvalidOperationException($"OpenBLAS reports {threads} threads after openblas_set_num_threads(1); the baseline must be single-threaded.");
            Console.WriteLine($"// OpenBLAS: {Marshal.PtrToStringAnsi(GetConfig())}, core {Marshal.PtrToStringAnsi(GetCoreName())}, threads {threads}");
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            throw new InvalidOperationException(
                $"OpenBLAS ({Library}) could not be loaded, so the OpenBLAS baseline of {nameof(AccumulationBenchmarks)} cannot run: " +
                $"install it with `apt-get install libopenblas0` (Debian/Ubuntu). Loader error: {e.Message}", e);
        }
    }
}
