using System.Globalization;
using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary>
/// A stream started before its topic exists (the README's own order: start <c>stream</c>, then the producer): the consumers
/// must be reading before the development broker's 5 MB per-partition window passes their position, and must never stall
/// behind a log start that moves on, so every row is counted and nothing is reported lost.
/// </summary>
[Collection(StreamLifecycleCollection.Name)]
public sealed partial class StreamLateTopicTests(StreamingBrokerFixture broker, ITestOutputHelper output) : IClassFixture<StreamingBrokerFixture>, IDisposable
{
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(150);
    private readonly TestScope _scope = new(output, "stream-late-topic");

    public void Dispose() => _scope.Dispose();

    [GeneratedRegex(@"\sunread ([\d.]+) s\s")]
    private static partial Regex Unread();

    /// <summary>
    /// <c>stream</c> without --dim on a topic that does not exist yet; once it waits for a first record with its cluster up, 160,000 synthetic
    /// rows (d = 8, ~150 bytes each) are produced at 8,000 rows/s over 4 partitions, ~0.3 MB/s per partition, so a partition
    /// not read within ~16 s of the producer's start loses its head (at 16,000 rows/s, ~8 s, a loaded 2-core CI machine
    /// lost a head: the stream learns d from the first records and joins its consumer group before it reads). Expected: exit 0, n = 160,000, nothing lost, no LOST
    /// line; and every status line reports how long the longest-unread partition with lag went without a record read
    /// ("unread S s"), never more than 2 s.
    /// </summary>
    [Fact]
    public async Task A_stream_started_before_its_topic_exists_counts_every_row_and_never_leaves_a_partition_unread()
    {
        const int rows = 160_000, rate = 8_000;
        var topic = StreamingBrokerFixture.NewTopic("early");
        string ctx = $"{rows:N0} synthetic rows (d = 8) at {rate:N0} rows/s into {topic}, created after the stream started";
        var stream = _scope.Start("stream-" + topic, "stream", "-b", broker.Bootstrap, "-t", topic, "--until-idle", "5s", "--checkpoint", "none",
            "--model-topic", "none", "--json", "--out", _scope.PathOf("model.json"));
        // As a user would: the stream says it waits for the topic, and its cluster is up (it starts while d is unknown).
        await stream.WaitForLineAsync(OutputStream.Stderr, l => l.Contains("waiting for valid records", StringComparison.Ordinal), StreamTimeout,
            "the stream waiting for the topic's first record");
        await stream.WaitForLineAsync(OutputStream.Stderr, l => l.StartsWith("cluster up", StringComparison.Ordinal), TimeSpan.FromSeconds(60),
            "the stream's cluster up while it waits for the first record");
        var produce = await _scope.RunAsync(["produce", "-b", broker.Bootstrap, "-t", topic, "--synthetic", "--dim", "8", "--rows", rows.ToString(CultureInfo.InvariantCulture),
            "--rate", rate.ToString(CultureInfo.InvariantCulture)], StreamTimeout, "produce-" + topic);
        produce.ExpectExit(0);
        int code = await stream.WaitForExitAsync(StreamTimeout);
        Assert.True(code == 0, $"exit code {code}, expected 0 ({ctx})\n{stream.Describe()}");
        var summary = StreamOutput.JsonSummary(stream);
        long n = StreamOutput.Long(summary, "n"), lost = StreamOutput.Long(summary, "lostRecords");
        Assert.True(n == rows && lost == 0, $"n = {n:N0}, lost = {lost:N0}; expected n = {rows:N0}, nothing lost ({ctx})\n{stream.Describe()}");
        Assert.DoesNotContain(stream.StderrLines, l => l.Contains("LOST", StringComparison.Ordinal));

        var status = stream.StderrLines.Where(l => StreamOutput.RowsOf(l) >= 0).ToList();
        Assert.True(status.Count > 0, $"no status line ({ctx})\n{stream.Describe()}");
        var noMetric = status.Where(l => !Unread().IsMatch(l)).ToList();
        Assert.True(noMetric.Count == 0, $"status lines without 'unread S s':\n  {string.Join("\n  ", noMetric.Take(5))}\n({ctx})");
        var unread = status.Select(l => double.Parse(Unread().Match(l).Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        output.WriteLine($"{status.Count} status lines; longest unread partition with lag: {unread.Max():F1} s");
        Assert.True(unread.Max() <= 2.0, $"a partition with lag went {unread.Max():F1} s without a record read (limit 2 s) ({ctx})\n{stream.Describe()}");
    }
}
