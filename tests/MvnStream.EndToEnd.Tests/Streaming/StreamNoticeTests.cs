using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary>
/// Each notice of <c>stream</c> is printed once: a failed checkpoint is a note of the client, not also an Akka error log
/// line of the coordinator in the same process (as LOST lines were fixed before: StreamLifecycleTests).
/// </summary>
[Collection(StreamInteropCollection.Name)]
public sealed class StreamNoticeTests(StreamingBrokerFixture broker, ITestOutputHelper output) : IClassFixture<StreamingBrokerFixture>, IDisposable
{
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(150);
    private readonly TestScope _scope = new(output, "stream-notices");

    public void Dispose() => _scope.Dispose();

    /// <summary>
    /// The checkpoint file is written once, then replaced by a directory (a disk that fails mid-run, as far as the
    /// coordinator can tell): every later save fails. Each failure must show as one "note: checkpoint to ... failed" line;
    /// before the fix each came twice, the note and "[ERROR] ... checkpoint failed" with the IOException under it.
    /// </summary>
    [Fact]
    public async Task A_failed_checkpoint_is_reported_once_per_failure()
    {
        var topic = StreamingBrokerFixture.NewTopic("notice");
        var checkpoint = _scope.PathOf("checkpoint.bin");
        using var watch = new FileReplacementWatch(checkpoint);
        var stream = _scope.Start("stream", "stream", "-b", broker.Bootstrap, "-t", topic, "--dim", "3", "--until-idle", "3s",
            "--checkpoint", "file:" + checkpoint, "--snapshot-interval", "500ms", "--model-topic", "none", "--out", _scope.PathOf("model.json"));
        await watch.WaitForMoreAsync(1, TimeSpan.FromSeconds(90), () => stream.Describe());
        // Replace the file by a directory; a save landing in between puts the file back, so try again.
        for (int attempt = 0; !Directory.Exists(checkpoint); attempt++)
        {
            try
            {
                File.Delete(checkpoint);
                Directory.CreateDirectory(checkpoint);
            }
            catch (IOException) when (attempt < 100) { }
        }
        var csv = MvnSample.Random(9101, 3, 2000).WriteCsv(_scope.PathOf("rows.csv"), header: false);
        await Kcat.ProduceFileAsync(broker.Bootstrap, topic, csv);
        int code = await stream.WaitForExitAsync(StreamTimeout);
        var lines = stream.StderrLines;
        output.WriteLine(stream.Describe());

        var notes = lines.Where(l => l.StartsWith("note: checkpoint to ", StringComparison.Ordinal) && l.Contains(" failed: ", StringComparison.Ordinal)).ToList();
        Assert.True(notes.Count >= 1, $"no 'note: checkpoint to ... failed' line although the checkpoint path became a directory (exit {code}):\n{stream.Describe()}");
        // Every mention of the failure is a note (or the final summary's reason): no Akka error line repeats it.
        var repeats = lines.Where(l => (l.Contains("checkpoint failed", StringComparison.Ordinal) || l.Contains("IOException", StringComparison.Ordinal)
            || l.StartsWith("[ERROR]", StringComparison.Ordinal)) && !l.StartsWith("note: ", StringComparison.Ordinal) && !l.StartsWith("stream finished", StringComparison.Ordinal)).ToList();
        Assert.True(repeats.Count == 0, $"the checkpoint failure was printed again besides its {notes.Count} notes:\n{string.Join('\n', repeats)}");
        // The stream itself still ends (it says the final checkpoint failed) and writes its model.
        Assert.True(code is 0 or 1, $"stream exit code {code}\n{stream.Describe()}");
        Assert.True(File.Exists(_scope.PathOf("model.json")), "no model was written");
    }
}
