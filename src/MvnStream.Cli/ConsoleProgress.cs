using System.Diagnostics;
using System.Globalization;
using MvnStream.Core.Fitting;
using MvnStream.Core.Ingest;

namespace MvnStream.Cli;

/// <summary>
/// Progress lines on stderr, at most a few per second, so long work shows rows/s, J - J* and elapsed time. An iteration or
/// round line held back by that limit is kept; <see cref="Flush"/> prints it, so progress ends with the final one, once.
/// </summary>
internal sealed class ConsoleProgress(bool quiet, TextWriter? writer = null) : MvnStream.Core.IProgressSink
{
    private readonly TextWriter _w = writer ?? Console.Error;
    private readonly Stopwatch _sinceLast = Stopwatch.StartNew();
    private bool _first = true;
    private string? _held;

    public bool Quiet => quiet;

    public void Line(string text)
    {
        if (!quiet) _w.WriteLine(text);
    }

    public void Ingest(string label, IngestProgress p) => Line(Inv(
        $"{label}: {p.Rows,12:N0} rows  {p.RowsPerSecond,12:N0} rows/s  {p.MegabytesPerSecond,7:F1} MB/s  {p.Rejected:N0} rejected  {p.Elapsed.TotalSeconds:F1} s"));

    public void Iteration(FitProgress p) => Throttled(
        Inv($"iter {p.Iteration,6}  J/n {Fixed(p.NllPerRow, 12),18}  J-J* {p.GapPerRow,10:0.000e+00}/row  |grad| {p.GradientNorm,10:0.000e+00}  evals {p.Evaluations,6}  {p.Elapsed.TotalSeconds:F2} s"));

    /// <summary>
    /// A cluster fit's progress. Gradient summing (<paramref name="rounds"/>) numbers its cluster rounds ("round N"); statistics
    /// summing runs no rounds, the coordinator iterates on the summed statistics, so its lines are iterations ("iter N"), as locally.
    /// </summary>
    public void Round(MvnStream.Cluster.Protocol.FitJobRoundProgress p, bool rounds)
    {
        if (rounds)
            Throttled(Inv($"round {p.Round,6}  workers {p.WorkersAnswered}/{p.Workers}  round {p.RoundMilliseconds,7:F2} ms  J/n {Fixed(p.NllPerRow, 12),18}  J-J* {p.GapPerRow,10:0.000e+00}/row  |grad| {p.GradientNorm,10:0.000e+00}  {p.Seconds:F2} s"));
        else
            Throttled(Inv($"iter {p.Round,6}  J/n {Fixed(p.NllPerRow, 12),18}  J-J* {p.GapPerRow,10:0.000e+00}/row  |grad| {p.GradientNorm,10:0.000e+00}  {p.Seconds:F2} s"));
    }

    /// <summary>Prints the last iteration or round line if the rate limit held it back (the final state of the solver).</summary>
    public void Flush()
    {
        if (_held is null) return;
        _w.WriteLine(_held);
        _held = null;
    }

    private void Throttled(string line)
    {
        if (quiet) return;
        if (!_first && _sinceLast.ElapsedMilliseconds < 250)
        {
            _held = line;
            return;
        }
        _first = false;
        _held = null;
        _sinceLast.Restart();
        _w.WriteLine(line);
    }

    public static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>Beyond this magnitude a figure is printed in scientific notation: fixed notation of 1e200 is 200 digits.</summary>
    public const double FixedLimit = 1e9;

    /// <summary>
    /// <paramref name="value"/> with <paramref name="decimals"/> decimals: fixed notation below <see cref="FixedLimit"/> in
    /// magnitude, else scientific with as many decimals (1.000000000000e+200), so no line ever holds a 200-digit number.
    /// </summary>
    public static string Fixed(double value, int decimals)
    {
        var format = Math.Abs(value) < FixedLimit || !double.IsFinite(value)
            ? "F" + decimals.ToString(CultureInfo.InvariantCulture)
            : "0." + new string('0', decimals) + "e+00";
        return value.ToString(format, CultureInfo.InvariantCulture);
    }
}
