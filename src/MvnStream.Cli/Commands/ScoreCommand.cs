using System.CommandLine;
using System.Globalization;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Scoring;

namespace MvnStream.Cli.Commands;

/// <summary><c>mvnstream score --model model.json FILE</c>: per-row log-density and squared Mahalanobis distance as CSV on stdout.</summary>
internal static class ScoreCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "Rows to score (csv, f64 or json)." };
        var model = new Option<string>("--model", "-m") { Description = "Model file written by 'mvnstream fit' or 'mvnstream stream'.", Required = true, HelpName = "PATH" };
        var format = CommonOptions.Format();
        var dim = CommonOptions.Dim();
        var onBadRow = CommonOptions.OnBadRow();
        var cmd = new Command("score", "Print row,log_density,mahalanobis2 (CSV) for every row of FILE under a fitted model; row is the 1-based index of the data row (skipped bad rows keep their numbers).")
        {
            file, model, format, dim, onBadRow,
        };
        // Off the invoking thread: System.CommandLine installs its Ctrl-C handler only once the action returns its task.
        cmd.SetAction((pr, ct) => Task.Run(() => Run(pr.GetValue(file)!, pr.GetValue(model)!, pr.GetValue(format), pr.GetValue(dim), pr.GetValue(onBadRow)!, ct), CancellationToken.None));
        return cmd;
    }

    private static int Run(string file, string modelPath, string? format, int? dim, string onBadRow, CancellationToken ct)
    {
        try
        {
            CommonOptions.RequireFile(modelPath, "model file");
            CommonOptions.RequireFile(file, "data file");
            var m = MvnModel.Load(modelPath);
            int d = m.Dimension;
            if (dim is { } given && given != d) throw new UsageException($"--dim {given} does not match the model's dimension {d}");
            RowReaderOptions options;
            try { options = CommonOptions.ReaderOptions(file, format, d, onBadRow); }
            catch (FormatException e) { throw new UsageException(e.Message); }
            // Under skip, one row per read: the rows a read rejects come before the row it returns, so the
            // data-row number of that row is RowsRead + RowsRejected and a skipped row keeps its number.
            bool skipping = options.OnBadRow == BadRowPolicy.Skip;
            if (skipping) options = options with { BlockRows = 1 };
            var scorer = new MvnScorer(m.Theta);
            using var reader = RowReader.Open(file, options);
            var block = new double[options.BlockRows * d];
            var stdout = new StreamWriter(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(false), 1 << 16) { AutoFlush = false };
            stdout.WriteLine("row,log_density,mahalanobis2");
            long row = 0;
            int rows;
            while ((rows = reader.ReadBlock(block)) > 0)
            {
                ct.ThrowIfCancellationRequested();
                for (int r = 0; r < rows; r++)
                {
                    var (logDensity, m2) = scorer.Score(block.AsSpan(r * d, d));
                    row = skipping ? reader.RowsRead + reader.RowsRejected : row + 1;
                    stdout.Write(row.ToString(CultureInfo.InvariantCulture));
                    stdout.Write(',');
                    stdout.Write(logDensity.ToString("R", CultureInfo.InvariantCulture));
                    stdout.Write(',');
                    stdout.WriteLine(m2.ToString("R", CultureInfo.InvariantCulture));
                }
            }
            stdout.Flush();
            foreach (var r in reader.Rejections) Console.Error.WriteLine("skipped " + r);
            if (reader.RowsRejected > 0) Console.Error.WriteLine($"mvnstream score: {reader.RowsRejected} bad rows skipped");
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException) { Console.Error.WriteLine("mvnstream score: stopped by Ctrl-C"); return ExitCodes.Cancelled; }
        catch (UsageException e) { Console.Error.WriteLine("mvnstream score: " + e.Message); return ExitCodes.Usage; }
        catch (BadRowException e) { Console.Error.WriteLine("mvnstream score: " + e.Message); return ExitCodes.BadInput; }
        catch (InvalidDataException e) { Console.Error.WriteLine("mvnstream score: " + e.Message); return ExitCodes.BadInput; }
        catch (IOException e) { Console.Error.WriteLine("mvnstream score: " + e.Message); return ExitCodes.Failure; }
    }
}
