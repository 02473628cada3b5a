using MvnStream.Cluster.Protocol;
using MvnStream.EndToEnd.Tests.Support;
using MvnStream.Kafka.Streaming.Checkpoints;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary>
/// <c>mvnstream stream --checkpoint file:PATH</c> given a checkpoint it must not read as state: a damaged one (a flipped
/// bit, a cut), or one written by a newer release (format version 3). The stream exits 1 at once with the file named and
/// what is wrong, and no stack trace.
/// </summary>
[Collection(StreamLifecycleCollection.Name)]
public sealed class StreamCheckpointFormatTests(StreamingBrokerFixture broker, ITestOutputHelper output) : IClassFixture<StreamingBrokerFixture>, IDisposable
{
    private readonly TestScope _scope = new(output, "stream-checkpoint-format");

    public void Dispose() => _scope.Dispose();

    [Fact]
    public async Task A_corrupt_truncated_or_newer_checkpoint_stops_the_stream_with_a_clear_error()
    {
        var topic = StreamingBrokerFixture.NewTopic("ckfmt");
        var good = CheckpointFormat.Encode(new StreamCheckpoint($"mvnstream-{topic}/{topic}", 1, 1, 3, null, [], [], 0, 0,
            new StatisticsData(3, 10, 10, [1, 2, 3], [1, 0, 1, 0, 0, 1], [0, 0, 0], 0, [0, 0, 0], [1, 1, 1]), topic, [0], [0], [10], [0], 10, 0, 0, 0, DateTime.UtcNow));
        var corrupt = good.ToArray();
        corrupt[^5] ^= 0x10;
        var newer = good.ToArray();
        newer[7] = (byte)'3';
        (string Name, byte[] Bytes, string Expected)[] cases =
        [
            ("corrupt.ckpt", corrupt, "corrupt checkpoint: the CRC-32"),
            ("cut.ckpt", good[..(good.Length / 2)], "truncated checkpoint"),
            ("newer.ckpt", newer, "checkpoint format version 3 is newer than this release reads (2); upgrade mvnstream"),
        ];
        foreach (var c in cases) await File.WriteAllBytesAsync(_scope.PathOf(c.Name), c.Bytes);
        var runs = cases.Select(c => _scope.RunAsync(["stream", "-b", broker.Bootstrap, "-t", topic, "--dim", "3", "--until-idle", "2s",
            "--checkpoint", "file:" + _scope.PathOf(c.Name), "--model-topic", "none"], TimeSpan.FromSeconds(120), "stream-" + c.Name)).ToArray();
        var results = await Task.WhenAll(runs);
        for (int i = 0; i < cases.Length; i++)
        {
            var r = results[i].ExpectExit(1);
            Assert.True(r.Stderr.Contains(cases[i].Expected, StringComparison.Ordinal) && r.Stderr.Contains(_scope.PathOf(cases[i].Name), StringComparison.Ordinal),
                $"stderr must name {cases[i].Name} and say '{cases[i].Expected}':\n{r.Description}");
            Assert.False(r.StderrLines.Any(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)), $"a stack trace was printed:\n{r.Description}");
        }
    }
}
