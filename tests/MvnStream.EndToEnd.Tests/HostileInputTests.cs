using System.Diagnostics;
using System.Text.RegularExpressions;
using MvnStream.Cli;
using MvnStream.Cli.Commands;
using MvnStream.Core.Fitting;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>
/// Hostile input details (defect 8 of the issue): a line longer than 2^31 bytes, a directory given as data, figures
/// too large to print in fixed notation.
/// </summary>
public sealed partial class HostileInputTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "hostile");

    public void Dispose() => _scope.Dispose();

    [GeneratedRegex(@"\d{25,}")]
    private static partial Regex LongDigitRun();

    /// <summary>
    /// The issue's file: 2.2 GB of NUL bytes and no newline, one line longer than 2^31 bytes (a sparse file, so it
    /// takes no disk). fit reports the line and the limit with exit 3, no stack trace, no OverflowException.
    /// --dim 1 --threads 1 keep it to reading the limit's worth of bytes (without them fit also reads the whole line
    /// once to look for the dimension, and a second thread scans its half for a line start: the same outcome, slower).
    /// </summary>
    [Fact]
    public async Task A_line_longer_than_2_GiB_is_a_bad_row_with_exit_3_not_an_overflow()
    {
        var path = _scope.PathOf("nul.csv");
        using (var f = new FileStream(path, FileMode.CreateNew)) f.SetLength(2200L * 1024 * 1024);
        var clock = Stopwatch.StartNew();
        var run = (await _scope.RunAsync(["fit", path, "--dim", "1", "--threads", "1", "--out", _scope.PathOf("model.json")], TimeSpan.FromSeconds(120))).ExpectExit(3);
        _scope.Log($"fit of a 2.2 GB line took {clock.Elapsed.TotalSeconds:F1} s");
        Check.Contains($"{path}:1: line 1 is longer than the limit", run.Stderr, "stderr of fit on a 2.2 GB line");
        Assert.DoesNotContain("Exception", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(_scope.PathOf("model.json")), "no model may be written");
    }

    [Fact]
    public async Task A_directory_given_as_data_is_called_a_directory()
    {
        var dir = _scope.PathOf("data-dir");
        Directory.CreateDirectory(dir);
        var fit = (await _scope.RunAsync(["fit", dir, "--out", _scope.PathOf("model.json")])).ExpectExit(2);
        Check.Contains($"'{dir}' is a directory", fit.Stderr, "stderr of fit on a directory");
        Assert.DoesNotContain("does not exist", fit.Stderr, StringComparison.Ordinal);

        var csv = MvnSample.Random(11, 2, 50).WriteCsv(_scope.PathOf("data.csv"));
        (await _scope.RunAsync(["fit", csv, "--out", _scope.PathOf("model.json")])).ExpectExit(0);
        var score = (await _scope.RunAsync(["score", "--model", _scope.PathOf("model.json"), dir])).ExpectExit(2);
        Check.Contains($"'{dir}' is a directory", score.Stderr, "stderr of score on a directory");
        var scoreModel = (await _scope.RunAsync(["score", "--model", dir, csv])).ExpectExit(2);
        Check.Contains($"'{dir}' is a directory", scoreModel.Stderr, "stderr of score with a directory as the model");
    }

    /// <summary>A J/n of 1e200 (a start far from data of huge magnitude) is printed in bounded scientific notation.</summary>
    [Fact]
    public void Progress_lines_never_print_a_200_digit_number()
    {
        var w = new StringWriter();
        var progress = new ConsoleProgress(false, w);
        progress.Iteration(new FitProgress(1, 1, 1e200, 3e199, 1e150, TimeSpan.FromSeconds(1)));
        progress.Flush();
        progress.Iteration(new FitProgress(2, 2, -7.5e120, 1, 1, TimeSpan.FromSeconds(2)));
        progress.Flush();
        string lines = w.ToString() + StreamCommand.Figure(1e200, 14, "F9") + " " + StreamCommand.Figure(-2e30, 11, "F6");
        Assert.False(LongDigitRun().IsMatch(lines), $"a very long number was printed:\n{lines}");
        Assert.Contains("1.000000000000e+200", lines, StringComparison.Ordinal);
        Assert.Contains("-2.000000e+30", lines, StringComparison.Ordinal);
        Assert.Contains("12.345678900", StreamCommand.Figure(12.3456789, 14, "F9"), StringComparison.Ordinal);
    }
}
