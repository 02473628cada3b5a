using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Kafka.Producing;

namespace MvnStream.Cli.Commands;

/// <summary>
/// <c>mvnstream generate --dim D --rows N --out FILE [--seed S] [--format csv|f64|json] [--truth-out PATH]</c>:
/// writes rows of the seeded synthetic N(mu*, S*) that <c>produce --synthetic</c> and <c>demo</c> stream, to a file
/// that <c>fit</c> reads, so a file fit and a streamed fit can be checked against the same truth.
/// </summary>
/// <remarks>
/// The file is written beside its destination and renamed into place when complete, so a reader (a cluster's
/// workers sharing the volume) never sees half a file; Ctrl-C removes the partial file and exits 130.
/// Values are written in their shortest round-trip form, so a csv or json file holds the same doubles, bit for
/// bit, as the f64 file of the same seed.
/// </remarks>
internal static class GenerateCommand
{
    private const int BlockRows = 4096;

    public static Command Create()
    {
        var dim = new Option<int>("--dim") { Description = "Dimension d. Of the rows.", Required = true, HelpName = "D" };
        var rows = new Option<long>("--rows") { Description = "Number of rows: the rows to write.", Required = true, HelpName = "N" };
        var seed = new Option<long>("--seed") { Description = "Seed of mu*, S* and the rows: the same seed gives the same rows in 'generate', 'produce --synthetic' and 'demo'.", DefaultValueFactory = _ => 1L, HelpName = "S" };
        var format = new Option<string?>("--format") { Description = "File format: csv (one row per line), f64 (little-endian doubles, no header: fit it with --dim D) or json (JSON Lines, one array per row). Default: from the extension of --out (.csv/.txt, .f64/.bin, .json/.jsonl/.ndjson).", HelpName = "csv|f64|json" };
        var header = new Option<bool>("--header") { Description = "csv: write a header line x1,...,xd first (fit detects and skips it)." };
        var output = new Option<string>("--out", "-o") { Description = "Output file: the rows (replaced atomically when complete).", Required = true, HelpName = "PATH" };
        var truthOut = new Option<string?>("--truth-out") { Description = "Also write the true mu* and S* (a JSON truth file, kind \"truth\": not a model file), to compare a fit against.", HelpName = "PATH" };
        var quiet = CommonOptions.Quiet();
        var json = CommonOptions.Json();
        var cmd = new Command("generate",
            "Write rows drawn from a seeded N(mu*, S*) to a csv, f64 or json file (the distribution 'produce --synthetic' and 'demo' use), e.g. to try 'fit' or a cluster.")
        {
            dim, rows, seed, format, header, output, truthOut, quiet, json,
        };
        cmd.SetAction((pr, ct) => Task.Run(() => Run(new GenerateArgs(pr.GetValue(dim), pr.GetValue(rows), pr.GetValue(seed), pr.GetValue(format),
            pr.GetValue(header), pr.GetValue(output)!, pr.GetValue(truthOut), pr.GetValue(quiet), pr.GetValue(json)), ct), CancellationToken.None));
        return cmd;
    }

    internal sealed record GenerateArgs(int Dim, long Rows, long Seed, string? Format, bool Header, string Out, string? TruthOut, bool Quiet, bool Json);

    private static int Run(GenerateArgs a, CancellationToken ct)
    {
        var progress = new ConsoleProgress(a.Quiet || a.Json);
        try
        {
            if (a.Dim <= 0) throw new UsageException($"--dim {a.Dim}: the dimension must be positive");
            if (a.Rows < 0) throw new UsageException($"--rows {a.Rows}: must be >= 0");
            if (string.IsNullOrWhiteSpace(a.Out)) throw new UsageException("--out: the path is empty");
            RowFormat fmt;
            try { fmt = a.Format is not null ? RowFormats.Parse(a.Format) : RowFormats.FromExtension(a.Out); }
            catch (FormatException e) { throw new UsageException((a.Format is null ? "--out: " : "--format: ") + e.Message); }
            if (a.Header && fmt != RowFormat.Csv) throw new UsageException($"--header is for csv files, not {fmt.ToName()}");

            var source = new SyntheticSource(a.Dim, a.Seed);
            int d = a.Dim;
            string full = Path.GetFullPath(a.Out);
            string dir = Path.GetDirectoryName(full)!;
            if (!Directory.Exists(dir)) throw new UsageException($"--out: directory '{dir}' does not exist");
            var clock = Stopwatch.StartNew();
            var lastReport = Stopwatch.StartNew();
            long written = 0;
            var encoder = fmt == RowFormat.F64 ? null : new RecordEncoder(fmt, d);
            var block = new double[BlockRows * d];
            bool complete = MvnStream.Core.IO.Durability.ReplaceFile(full, file =>
            {
                if (a.Header)
                {
                    var names = string.Join(',', Enumerable.Range(1, d).Select(i => "x" + i));
                    file.Write(System.Text.Encoding.ASCII.GetBytes(names + "\n"));
                }
                while (written < a.Rows)
                {
                    if (ct.IsCancellationRequested) return false;
                    int k = (int)Math.Min(BlockRows, a.Rows - written);
                    var rowsBlock = block.AsSpan(0, k * d);
                    source.NextRows(rowsBlock);
                    if (encoder is null)
                        WriteLittleEndian(file, rowsBlock);
                    else
                        for (int r = 0; r < k; r++)
                        {
                            file.Write(encoder.Encode(rowsBlock.Slice(r * d, d)));
                            file.WriteByte((byte)'\n');
                        }
                    written += k;
                    if (lastReport.ElapsedMilliseconds >= 1000)
                    {
                        lastReport.Restart();
                        double s = clock.Elapsed.TotalSeconds;
                        progress.Line(ConsoleProgress.Inv($"generate: {written,14:N0} rows  {written / s,12:N0} rows/s  {file.Position / 1048576.0,9:F1} MB  {s:F1} s"));
                    }
                }
                return true;
            });
            if (!complete)
            {
                Console.Error.WriteLine(ConsoleProgress.Inv($"mvnstream generate: stopped by Ctrl-C after {written:N0} rows; nothing was written to {a.Out}"));
                return ExitCodes.Cancelled;
            }

            if (a.TruthOut is not null)
                TruthFile.Save(a.TruthOut, source.Truth, a.Seed, a.Rows);

            double seconds = clock.Elapsed.TotalSeconds;
            long bytes = new FileInfo(full).Length;
            if (a.Json)
                Console.Out.WriteLine(new JsonObject
                {
                    ["out"] = full,
                    ["format"] = fmt.ToName(),
                    ["dimension"] = d,
                    ["rows"] = a.Rows,
                    ["seed"] = a.Seed,
                    ["bytes"] = bytes,
                    ["seconds"] = seconds,
                    ["truth"] = a.TruthOut is null ? null : Path.GetFullPath(a.TruthOut),
                }.ToJsonString());
            else if (!a.Quiet)
                Console.Out.WriteLine(ConsoleProgress.Inv(
                    $"wrote {a.Rows:N0} rows of N(mu*, S*) (d = {d}, seed {a.Seed}) to {a.Out} as {fmt.ToName()} ({bytes:N0} bytes) in {seconds:F2} s")
                    + (a.TruthOut is null ? "" : $"; truth in {a.TruthOut}"));
            return ExitCodes.Ok;
        }
        catch (UsageException e) { return Fail(e.Message, ExitCodes.Usage); }
        catch (IOException e) { return Fail(e.Message, ExitCodes.Failure); }
        catch (UnauthorizedAccessException e) { return Fail(e.Message, ExitCodes.Failure); }
    }

    private static void WriteLittleEndian(Stream file, ReadOnlySpan<double> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
            return;
        }
        Span<byte> b = stackalloc byte[8];
        foreach (var v in values)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(b, v);
            file.Write(b);
        }
    }

    private static int Fail(string message, int code)
    {
        Console.Error.WriteLine("mvnstream generate: " + message);
        return code;
    }
}
