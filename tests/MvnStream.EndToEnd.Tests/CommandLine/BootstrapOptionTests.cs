using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.CommandLine;

/// <summary>-b/--bootstrap is optional in stream as in produce: bootstrap.servers may come from --kafka-config or -X.</summary>
public sealed class BootstrapOptionTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "bootstrap-option");

    public void Dispose() => _scope.Dispose();

    [Theory]
    [InlineData("stream")]
    [InlineData("produce")]
    public async Task Without_any_bootstrap_the_command_says_where_to_give_one_and_exits_2(string command)
    {
        string[] args = command == "stream" ? ["stream", "-t", "rows", "--dim", "2"] : ["produce", "-t", "rows", "--synthetic", "--dim", "2", "--rows", "5"];
        var run = (await _scope.RunAsync(args)).ExpectExit(2);
        Assert.Contains("no Kafka bootstrap servers: give --bootstrap HOST:PORT[,HOST:PORT] (or bootstrap.servers in the Kafka properties)", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("is required", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_takes_bootstrap_servers_from_the_kafka_config_file()
    {
        var config = _scope.PathOf("kafka.properties");
        await File.WriteAllTextAsync(config, "bootstrap.servers=127.0.0.1:9\n");
        // Past the bootstrap check, the next to fail is the checkpoint spec (before any cluster starts); without the file it is the bootstrap.
        var run = (await _scope.RunAsync("stream", "-t", "rows", "--dim", "2", "--kafka-config", config, "--checkpoint", "bogus")).ExpectExit(2);
        Assert.Contains("--checkpoint 'bogus': expected kafka:TOPIC, file:PATH or none", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("bootstrap", run.Stderr, StringComparison.Ordinal);
    }
}
