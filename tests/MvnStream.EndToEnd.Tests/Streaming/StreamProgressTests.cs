using System.Globalization;
using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary>
/// What long streaming work shows (the team standard: rows/s, J - J*, elapsed; never NaN): the live view of
/// <c>mvnstream demo</c> and the status lines of <c>mvnstream stream</c>, before and after the first model.
/// </summary>
[Collection(StreamInteropCollection.Name)]
public sealed partial class StreamProgressTests(StreamingBrokerFixture broker, ITestOutputHelper output) : IClassFixture<StreamingBrokerFixture>, IDisposable
{
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(150);
    private readonly TestScope _scope = new(output, "stream-progress");

    public void Dispose() => _scope.Dispose();

    [GeneratedRegex(@"^demo\s+rows\s+[\d,]+\s+[\d,]+ rows/s\s+lag\s+[\d,]+\s+J/n\s+(\S+)\s+J-J\*\s+(\S+)\s+\|mu - mu\*\|\s+(\S+)\s+\|S - S\*\|/\|S\*\|\s+(\S+)\s+model v(\d+)\s+[\d.]+ s$")]
    private static partial Regex DemoLine();

    [GeneratedRegex(@"^\s+streamed model \(v(\d+)\)\s+\S")]
    private static partial Regex DemoTableRow();

    /// <summary>
    /// <c>demo</c>'s live view: every line has rows/s, J/n, J - J*, the distances to the truth, the model version and the
    /// elapsed time; before the first model (v0) the figures are dashes, afterwards numbers, and J - J* of the current model
    /// against the closed form of the rows merged so far is never below -1e-9 per row (J* is the minimum). Nothing prints
    /// NaN. The final table names the version as "(vN)" (no stray space) and it is the model file's version.
    /// </summary>
    [Fact]
    public async Task Demo_live_view_shows_the_gap_and_dashes_before_the_first_model_never_NaN()
    {
        var model = _scope.PathOf("demo-model.json");
        var run = (await _scope.RunAsync(["demo", "--dim", "3", "--rows", "20000", "--rate", "10000", "--workers", "2", "--out", model], StreamTimeout, "demo")).ExpectExit(0);
        var problems = new List<string>();
        foreach (var l in run.StdoutLines.Concat(run.StderrLines).Where(l => l.Contains("NaN", StringComparison.Ordinal)))
            problems.Add($"prints NaN: '{l}'");
        var live = run.StderrLines.Where(l => l.StartsWith("demo ", StringComparison.Ordinal)).ToList();
        int before = 0, after = 0;
        foreach (var l in live)
        {
            var m = DemoLine().Match(l);
            if (!m.Success)
            {
                problems.Add($"live line without rows/s, lag, J/n, J-J*, distances, version and elapsed: '{l}'");
                continue;
            }
            string[] figures = [m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value, m.Groups[4].Value];
            if (m.Groups[5].Value == "0")
            {
                before++;
                if (figures.Any(f => f != "-")) problems.Add($"no model yet (v0) but figures are shown: '{l}'");
                continue;
            }
            after++;
            if (figures.Any(f => !double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
                problems.Add($"a model exists but a figure is not a number: '{l}'");
            else if (double.Parse(figures[1], CultureInfo.InvariantCulture) < -1e-9)
                problems.Add($"J - J* below -1e-9 per row (J* is the minimum of J on the merged statistics): '{l}'");
        }
        if (after == 0) problems.Add("no live line with a model");
        var row = run.StdoutLines.Select(l => DemoTableRow().Match(l)).FirstOrDefault(x => x.Success);
        var file = ModelFile.Load(model);
        if (row is null) problems.Add("the final table has no row 'streamed model (vN)' (version directly followed by ')')");
        else if (long.Parse(row.Groups[1].Value, CultureInfo.InvariantCulture) != StreamModel.Version(file))
            problems.Add($"the table says v{row.Groups[1].Value}, the model file has version {StreamModel.Version(file)}");
        output.WriteLine($"{live.Count} live lines: {before} before the first model, {after} with one");
        if (problems.Count > 0) throw new Xunit.Sdk.XunitException(string.Join("\n", problems) + "\n" + run.Description);
    }

    /// <summary>
    /// <c>stream</c> on a topic of 2 rows with d = 3 never gets a model: its status lines show "-" for J/n and J - J*
    /// (not NaN), and the run ends with n = 2 and exit 4 (no model was written: too few rows for d).
    /// </summary>
    [Fact]
    public async Task Stream_status_lines_show_dashes_not_NaN_while_there_is_no_model()
    {
        var topic = StreamingBrokerFixture.NewTopic("nomodel");
        MvnSample.WriteLines(_scope.PathOf("two.csv"), ["1,2,3", "2,3,5"]);
        await Kcat.ProduceFileAsync(broker.Bootstrap, topic, _scope.PathOf("two.csv"), 0);
        var run = (await _scope.RunAsync(["stream", "-b", broker.Bootstrap, "-t", topic, "--dim", "3", "--until-idle", "2s", "--checkpoint", "none",
            "--model-topic", "none", "--json", "--out", _scope.PathOf("model.json")], StreamTimeout, "stream-" + topic)).ExpectExit(4); // no model: 2 rows for d = 3
        var status = run.StderrLines.Where(l => StreamOutput.RowsOf(l) >= 0).ToList();
        Assert.True(status.Count > 0, "no status line\n" + run.Description);
        var bad = status.Where(l => l.Contains("NaN", StringComparison.Ordinal) || !Regex.IsMatch(l, @"J/n\s+-\s+J-J\*\s+-\s")).ToList();
        Assert.True(bad.Count == 0, $"status lines without a model must show 'J/n -  J-J* -', never NaN:\n  {string.Join("\n  ", bad)}\n{run.Description}");
        Assert.True(StreamOutput.Long(StreamOutput.JsonSummary(run), "n") == 2, run.Description);
    }
}
