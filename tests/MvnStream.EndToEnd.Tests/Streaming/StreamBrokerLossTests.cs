using System.Diagnostics;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary>
/// The Kafka broker goes away in the middle of a stream (its process is SIGKILLed): the stream must not hang or look
/// healthy. It says which broker is unreachable, stops after --broker-timeout with a clear error and exit code 1, and
/// keeps what it had merged (final checkpoint and model file).
/// </summary>
[Collection(StreamLifecycleCollection.Name)]
public sealed class StreamBrokerLossTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "stream-broker-loss");

    public void Dispose() => _scope.Dispose();

    [Fact]
    public async Task A_broker_that_goes_away_is_reported_and_the_stream_stops_with_an_error_keeping_what_it_merged()
    {
        const int seed = 5701, d = 3, n = 5000;
        var broker = await DevBroker.StartAsync(_scope, "own-broker");
        var sample = MvnSample.Random(seed, d, n);
        var csv = sample.WriteCsv(_scope.PathOf("data.csv"), header: false);
        var topic = StreamingBrokerFixture.NewTopic("gone");
        string ctx = $"{sample.Describe}, topic {topic} on a broker of its own";
        await Kcat.ProduceFileAsync(broker.Bootstrap, topic, csv);
        var checkpoint = _scope.PathOf("ck.bin");
        var stream = _scope.Start("stream", "stream", "-b", broker.Bootstrap, "-t", topic, "--dim", "3", "--checkpoint", "file:" + checkpoint,
            "--broker-timeout", "5s", "--out", _scope.PathOf("model.json"));
        await stream.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.RowsOf(l) == n && StreamOutput.VersionOf(l) >= 1, TimeSpan.FromSeconds(120),
            $"a status line with all {n} rows and a model");

        broker.Process.Kill();
        var sinceKill = Stopwatch.StartNew();
        await stream.WaitForLineAsync(OutputStream.Stderr, l => l.Contains($"no Kafka broker reachable at {broker.Bootstrap}", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), "a note that the broker is unreachable");
        int code = await stream.WaitForExitAsync(TimeSpan.FromSeconds(90));
        output.WriteLine($"exit {code} {sinceKill.Elapsed.TotalSeconds:F1} s after the broker was killed");
        if (code != 1) throw stream.Failure($"a stream whose broker is gone must stop with exit code 1 after --broker-timeout, got {code} ({ctx})");
        var last = stream.StderrLines.LastOrDefault(l => l.StartsWith("mvnstream stream:", StringComparison.Ordinal)) ?? "";
        Check.Contains($"no Kafka broker reachable at {broker.Bootstrap}", last, "the final error");
        Check.Contains($"{n:N0} rows were merged", last, "the final error says what was kept");
        var model = ModelFile.Load(_scope.PathOf("model.json"));
        Assert.True(model.N == n, $"the model file has n = {model.N}, expected the {n} rows merged before the broker went away ({ctx})");
        Assert.True(File.Exists(checkpoint), $"no final checkpoint at {checkpoint} ({ctx})");
    }
}
