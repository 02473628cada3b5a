using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using MvnStream.Cli.Plotting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;

namespace MvnStream.Cli.Commands;

/// <summary>
/// <c>mvnstream plot --model M --data FILE --dims I,J --out ellipse.png</c>: a scatter of two columns of the data with the
/// 1, 2 and 3-sigma ellipses of the model's 2-D marginal, as a PNG file.
/// </summary>
internal static class PlotCommand
{
    /// <summary>Rows drawn when --max-points is not given (a uniform sample of the file beyond that).</summary>
    public const int DefaultMaxPoints = 10_000;

    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model file written by 'mvnstream fit' or 'mvnstream stream'.", Required = true, HelpName = "PATH" };
        var data = new Option<string>("--data") { Description = "Data file whose rows are drawn (csv, f64 or json; d is the model's).", Required = true, HelpName = "FILE" };
        var dims = new Option<string>("--dims") { Description = "The two columns to draw, 0-based: I on the x-axis, J on the y-axis.", DefaultValueFactory = _ => "0,1", HelpName = "I,J" };
        var output = new Option<string>("--out", "-o") { Description = "Output file: the plot (PNG).", DefaultValueFactory = _ => "ellipse.png", HelpName = "PATH" };
        var size = new Option<string>("--size") { Description = "Image size in pixels.", DefaultValueFactory = _ => $"{PlotFiles.DefaultWidth}x{PlotFiles.DefaultHeight}", HelpName = "WxH" };
        var maxPoints = new Option<int>("--max-points") { Description = "Rows drawn at most: a larger file is drawn as a uniform random sample of this many rows (seeded: the same file gives the same picture).", DefaultValueFactory = _ => DefaultMaxPoints, HelpName = "N" };
        var format = CommonOptions.Format();
        var onBadRow = CommonOptions.OnBadRow();
        var json = CommonOptions.Json();
        var cmd = new Command("plot", "Draw two columns of a data file with the fitted 1, 2 and 3-sigma ellipses of the model's 2-D marginal (mu_i, mu_j; S restricted to {i, j}) as a PNG file.")
        {
            model, data, dims, output, size, maxPoints, format, onBadRow, json,
        };
        // Off the invoking thread: System.CommandLine installs its Ctrl-C handler only once the action returns its task.
        cmd.SetAction((pr, ct) => Task.Run(() => Run(new PlotArgs(pr.GetValue(model)!, pr.GetValue(data)!, pr.GetValue(dims)!, pr.GetValue(output)!,
            pr.GetValue(size)!, pr.GetValue(maxPoints), pr.GetValue(format), pr.GetValue(onBadRow)!, pr.GetValue(json)), ct), CancellationToken.None));
        return cmd;
    }

    internal sealed record PlotArgs(string Model, string Data, string Dims, string Out, string Size, int MaxPoints, string? Format, string OnBadRow, bool Json);

    private static int Run(PlotArgs a, CancellationToken ct)
    {
        try
        {
            var (width, height) = PlotFiles.ParseSize(a.Size, "--size");
            if (a.MaxPoints <= 0) throw new UsageException($"--max-points {a.MaxPoints}: must be positive");
            var (i, j) = ParseDims(a.Dims);
            CommonOptions.RequireFile(a.Model, "model file");
            CommonOptions.RequireFile(a.Data, "data file");
            PlotFiles.CheckWritable(a.Out, "--out");
            var m = MvnModel.Load(a.Model);
            int d = m.Dimension;
            if (d < 2) throw new UsageException($"the model {a.Model} has d = 1: a 2-D plot needs a model of d >= 2");
            if (i >= d || j >= d) throw new UsageException($"--dims {i},{j}: the model {a.Model} has d = {d} (columns 0 to {d - 1})");
            RowReaderOptions options;
            try { options = CommonOptions.ReaderOptions(a.Data, a.Format, d, a.OnBadRow); }
            catch (FormatException e) { throw new UsageException(e.Message); }

            CheckWidth(a.Data, options, a.Model, d);
            var (xs, ys, rows, rejected) = Sample(a.Data, options, i, j, a.MaxPoints, ct);
            if (rows == 0) throw new InvalidDataException($"{a.Data}: no valid rows to draw" + (rejected > 0 ? $" ({rejected:N0} bad rows skipped)" : ""));
            var s = m.Theta.Covariance();
            string drawn = xs.Length == rows ? $"{rows:N0} rows" : $"{xs.Length:N0} of {rows:N0} rows (sample)";
            var plotData = new EllipsePlotData(m.Theta.Mu[i], m.Theta.Mu[j], s[i * d + i], s[i * d + j], s[j * d + j], xs, ys,
                $"column {i}", $"column {j}", ConsoleProgress.Inv($"{Path.GetFileName(a.Data)}: columns {i}, {j}; {drawn}"), "rows");
            var frame = EllipsePlot.FrameFor(plotData, width, height);
            if (PlotFonts.MissingFontsNote() is { } note) Console.Error.WriteLine("mvnstream plot: " + note);
            PlotFiles.Write(a.Out, EllipsePlot.RenderPng(plotData, frame));
            Report(a, i, j, rows, xs.Length, rejected, frame);
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException) { return Fail("stopped by Ctrl-C; no plot was written", ExitCodes.Cancelled); }
        catch (UsageException e) { return Fail(e.Message, ExitCodes.Usage); }
        catch (BadRowException e) { return Fail(e.Message, ExitCodes.BadInput); }
        catch (InvalidDataException e) { return Fail(e.Message, ExitCodes.BadInput); }
        catch (IOException e) { return Fail(e.Message, ExitCodes.Failure); }
        catch (UnauthorizedAccessException e) { return Fail(e.Message, ExitCodes.Failure); }
    }

    private static int Fail(string message, int code)
    {
        Console.Error.WriteLine("mvnstream plot: " + message);
        return code;
    }

    /// <summary>"I,J": two different non-negative column indices.</summary>
    internal static (int I, int J) ParseDims(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int j))
            throw new UsageException($"--dims '{text}': expected two 0-based column numbers I,J, e.g. 0,1");
        if (i == j) throw new UsageException($"--dims {i},{j}: give two different columns");
        return (i, j);
    }

    /// <summary>
    /// A csv or json file whose first valid row has another width than the model's d is refused as such (exit 3), rather
    /// than as a bad first row. An f64 file has no rows to count: its length must be a multiple of d doubles.
    /// </summary>
    private static void CheckWidth(string path, RowReaderOptions options, string modelPath, int d)
    {
        if (options.Format == RowFormat.F64)
        {
            long bytes = new FileInfo(path).Length;
            if (bytes % (8L * d) != 0)
                throw new InvalidDataException($"{path} has {bytes:N0} bytes, not a whole number of rows of the model's d = {d} doubles ({modelPath}): is it data of another dimension?");
            return;
        }
        int width;
        using (var probe = RowReader.Open(path, options with { Dimension = null, OnBadRow = BadRowPolicy.Skip, BlockRows = 1 }))
        {
            try { width = probe.Dimension; }
            catch (InvalidOperationException) { return; } // no valid row at all: said when the rows are read
        }
        if (width != d)
            throw new InvalidDataException($"{path} has {width} columns but the model {modelPath} has d = {d}: plot data of the model's columns");
    }

    /// <summary>
    /// Columns <paramref name="i"/> and <paramref name="j"/> of every row, or of a uniform sample of <paramref name="max"/> rows
    /// (reservoir sampling, fixed seed) when the file has more; with the number of valid and of skipped rows.
    /// </summary>
    private static (double[] Xs, double[] Ys, long Rows, long Rejected) Sample(string path, RowReaderOptions options, int i, int j, int max, CancellationToken ct)
    {
        var xs = new List<double>();
        var ys = new List<double>();
        var rng = new Random(20261206);
        int d = options.Dimension!.Value;
        using var reader = RowReader.Open(path, options);
        var block = new double[options.BlockRows * d];
        long seen = 0;
        int n;
        while ((n = reader.ReadBlock(block)) > 0)
        {
            ct.ThrowIfCancellationRequested();
            for (int r = 0; r < n; r++, seen++)
            {
                double x = block[r * d + i], y = block[r * d + j];
                if (xs.Count < max) { xs.Add(x); ys.Add(y); continue; }
                long k = rng.NextInt64(seen + 1);
                if (k < max) { xs[(int)k] = x; ys[(int)k] = y; }
            }
        }
        foreach (var rejection in reader.Rejections) Console.Error.WriteLine("skipped " + rejection);
        return (xs.ToArray(), ys.ToArray(), seen, reader.RowsRejected);
    }

    private static void Report(PlotArgs a, int i, int j, long rows, int drawn, long rejected, PlotFrame f)
    {
        if (a.Json)
        {
            var o = new JsonObject
            {
                ["out"] = Path.GetFullPath(a.Out),
                ["model"] = Path.GetFullPath(a.Model),
                ["data"] = Path.GetFullPath(a.Data),
                ["dims"] = new JsonArray(i, j),
                ["rows"] = rows,
                ["rowsDrawn"] = drawn,
                ["rejectedRows"] = rejected,
                ["width"] = f.Width,
                ["height"] = f.Height,
                // The data area's margins in pixels and the data coordinates at its edges: pixel x (from the image's left edge)
                // = left + (x - xMin) / (xMax - xMin) * (width - left - right), pixel y (from the top) = top + (yMax - y) / (yMax - yMin) * (height - top - bottom).
                ["margins"] = new JsonObject { ["left"] = f.Left, ["right"] = f.Right, ["top"] = f.Top, ["bottom"] = f.Bottom },
                ["axes"] = new JsonObject { ["xMin"] = f.XMin, ["xMax"] = f.XMax, ["yMin"] = f.YMin, ["yMax"] = f.YMax },
            };
            Console.Out.WriteLine(o.ToJsonString());
            return;
        }
        Console.Out.WriteLine(ConsoleProgress.Inv($"plot of columns {i} and {j} ({drawn:N0} of {rows:N0} rows, {rejected:N0} rejected) with the 1, 2 and 3-sigma ellipses of {a.Model} written to {a.Out} ({f.Width}x{f.Height})"));
    }
}
