using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using MvnStream.Core.Formats;

namespace MvnStream.Benchmarks;

/// <summary>
/// Decoding throughput of the row formats, one thread, d = 16, on fixed-seed data; the MB/s column is
/// input bytes per operation / Mean (1 MB = 10^6 bytes). Targets: csv parse ≥ 150 MB/s, f64 ≥ 2 GB/s.
/// <list type="bullet">
/// <item>CsvParseBcl (baseline): split lines and fields with span searches, parse each field with the BCL's
/// <c>double.TryParse(utf8, NumberStyles.Float, InvariantCulture)</c>; what the parser would be without ours.</item>
/// <item>CsvParse: the same in-memory text through the product's line parser (fast double parser).</item>
/// <item>CsvFile: <see cref="RowReader"/> over the same text in a file (page cache): reads, lines, header, parse.</item>
/// <item>JsonLinesFile: <see cref="RowReader"/> over the same rows as JSON Lines (no target; for the record).</item>
/// <item>F64File: <see cref="RowReader"/> over a 64 MiB f64 file (page cache): reads into the block, finite check.</item>
/// <item>F64Record: <see cref="RecordDecoder.TryDecode"/> of a 512 KiB f64 record value into a RowBuffer
/// (copy + finite check, no I/O).</item>
/// </list>
/// The csv text is 32,768 rows written with <c>ToString("R")</c> (values of varied magnitude, 17-20 chars each),
/// about 10.5 MB. Run: <c>cd tests/MvnStream.Benchmarks &amp;&amp; dotnet run -c Release -- --filter '*Decode*'</c>.
/// </summary>
[Config(typeof(DecodeConfig))]
[MemoryDiagnoser(displayGenColumns: false)]
public class DecodeBenchmarks
{
    private const int Seed = 20240614;
    private const int D = 16;
    private const int CsvRows = 32_768;
    private const int F64FileRows = 524_288; // 64 MiB at d = 16
    private const int F64RecordRows = 4096;  // 512 KiB at d = 16

    private byte[] _csv = [];
    private byte[] _f64Record = [];
    private double[] _block = [];
    private RowBuffer _buffer = new(D);
    private string _dir = "";
    private string _csvPath = "";
    private string _jsonPath = "";
    private string _f64Path = "";

    /// <summary>Input bytes per operation of each benchmark, for the MB/s column (computed in the host too).</summary>
    public static long BytesPerOperation(string method) => method switch
    {
        nameof(CsvParseBcl) or nameof(CsvParse) or nameof(CsvFile) => Inputs.Value.Csv.Length,
        nameof(JsonLinesFile) => Inputs.Value.JsonLines.Length,
        nameof(F64File) => 8L * D * F64FileRows,
        nameof(F64Record) => 8L * D * F64RecordRows,
        _ => 0,
    };

    private static readonly Lazy<(byte[] Csv, byte[] JsonLines)> Inputs = new(MakeTextInputs);

    private static (byte[] Csv, byte[] JsonLines) MakeTextInputs()
    {
        var rnd = new Random(Seed);
        var csv = new StringBuilder(CsvRows * D * 20);
        var json = new StringBuilder(CsvRows * D * 21);
        csv.Append(string.Join(",", Enumerable.Range(1, D).Select(j => "x" + j))).Append('\n');
        for (int i = 0; i < CsvRows; i++)
        {
            json.Append('[');
            for (int j = 0; j < D; j++)
            {
                // Gaussian-ish values with magnitudes 1e-3..1e3: the typical 17-20 characters of "R".
                double v = (rnd.NextDouble() - 0.5) * Math.Pow(10, rnd.Next(-3, 4));
                string s = v.ToString("R", CultureInfo.InvariantCulture);
                if (j > 0) { csv.Append(','); json.Append(','); }
                csv.Append(s);
                json.Append(s);
            }
            csv.Append('\n');
            json.Append("]\n");
        }
        return (Encoding.UTF8.GetBytes(csv.ToString()), Encoding.UTF8.GetBytes(json.ToString()));
    }

    [GlobalSetup]
    public void Setup()
    {
        _csv = Inputs.Value.Csv;
        _block = new double[4096 * D];
        _dir = Path.Combine(Path.GetTempPath(), "mvnstream-decode-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
        _csvPath = Path.Combine(_dir, "rows.csv");
        File.WriteAllBytes(_csvPath, _csv);
        _jsonPath = Path.Combine(_dir, "rows.jsonl");
        File.WriteAllBytes(_jsonPath, Inputs.Value.JsonLines);

        var rnd = new Random(Seed);
        var values = new double[D * F64FileRows];
        for (int i = 0; i < values.Length; i++) values[i] = rnd.NextDouble() - 0.5;
        var bytes = new byte[8 * values.Length];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length); // little-endian machine
        _f64Path = Path.Combine(_dir, "rows.f64");
        File.WriteAllBytes(_f64Path, bytes);
        _f64Record = bytes[..(8 * D * F64RecordRows)];
        _buffer = new RowBuffer(D, F64RecordRows);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    [Benchmark(Baseline = true)]
    public double CsvParseBcl()
    {
        ReadOnlySpan<byte> text = _csv;
        Span<double> row = stackalloc double[D];
        double sum = 0;
        text = text[(text.IndexOf((byte)'\n') + 1)..]; // header
        while (!text.IsEmpty)
        {
            int nl = text.IndexOf((byte)'\n');
            var line = nl < 0 ? text : text[..nl];
            text = nl < 0 ? default : text[(nl + 1)..];
            int field = 0;
            while (true)
            {
                int comma = line.IndexOf((byte)',');
                var f = comma < 0 ? line : line[..comma];
                if (field < D && double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) row[field] = v;
                field++;
                if (comma < 0) break;
                line = line[(comma + 1)..];
            }
            sum += row[0];
        }
        return sum;
    }

    [Benchmark]
    public double CsvParse()
    {
        ReadOnlySpan<byte> text = _csv;
        Span<double> row = stackalloc double[D];
        double sum = 0;
        text = text[(text.IndexOf((byte)'\n') + 1)..]; // header
        while (!text.IsEmpty)
        {
            int nl = text.IndexOf((byte)'\n');
            var line = nl < 0 ? text : text[..nl];
            text = nl < 0 ? default : text[(nl + 1)..];
            CsvRowParser.Parse(line, row, allowNonFinite: false, out _, out _);
            sum += row[0];
        }
        return sum;
    }

    [Benchmark]
    public long CsvFile() => ReadFile(_csvPath, new RowReaderOptions { Format = RowFormat.Csv, Dimension = D });

    [Benchmark]
    public long JsonLinesFile() => ReadFile(_jsonPath, new RowReaderOptions { Format = RowFormat.Json, Dimension = D });

    [Benchmark]
    public long F64File() => ReadFile(_f64Path, new RowReaderOptions { Format = RowFormat.F64, Dimension = D });

    [Benchmark]
    public int F64Record()
    {
        _buffer.Clear();
        int d = D;
        if (RecordDecoder.TryDecode(_f64Record, RowFormat.F64, ref d, false, _buffer) is string reason)
            throw new InvalidOperationException(reason);
        return _buffer.Rows;
    }

    private long ReadFile(string path, RowReaderOptions options)
    {
        using var reader = RowReader.Open(path, options);
        long rows = 0;
        int n;
        while ((n = reader.ReadBlock(_block)) > 0) rows += n;
        if (reader.RowsRejected != 0) throw new InvalidOperationException($"{reader.Rejections[0]}");
        return rows;
    }

    /// <summary>Adds the MB/s column.</summary>
    public sealed class DecodeConfig : ManualConfig
    {
        public DecodeConfig()
        {
            AddColumn(new ThroughputColumn());
            SummaryStyle = SummaryStyle.Default.WithRatioStyle(RatioStyle.Value);
        }
    }

    /// <summary>Input MB (10^6 bytes) per second: <see cref="BytesPerOperation"/> / Mean.</summary>
    private sealed class ThroughputColumn : IColumn
    {
        public string Id => "DecodeThroughput";
        public string ColumnName => "MB/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Input megabytes (10^6 bytes) decoded per second: bytes per operation / Mean";

        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var stats = summary[benchmarkCase]?.ResultStatistics;
            long bytes = BytesPerOperation(benchmarkCase.Descriptor.WorkloadMethod.Name);
            if (stats is null || bytes == 0 || !(stats.Mean > 0)) return "NA";
            return (bytes / (stats.Mean * 1e-9) / 1e6).ToString("F0", CultureInfo.InvariantCulture);
        }

        public override string ToString() => ColumnName;
    }
}
