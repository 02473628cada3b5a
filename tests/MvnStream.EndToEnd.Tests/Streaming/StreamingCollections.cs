using MvnStream.EndToEnd.Tests.Support;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary>
/// One <c>mvnstream broker</c> process shared by the tests of one class (each test uses its own topics). The broker is
/// killed when the class is done, even when a test failed.
/// </summary>
public sealed class StreamingBrokerFixture : IAsyncLifetime
{
    private readonly TestScope _scope = new(null, "streaming-broker");

    public DevBroker Broker { get; private set; } = null!;

    public string Bootstrap => Broker.Bootstrap;

    public async Task InitializeAsync() => Broker = await DevBroker.StartAsync(_scope);

    public Task DisposeAsync()
    {
        _scope.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>A topic name no other test uses.</summary>
    public static string NewTopic(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];
}

/// <summary>Stream tests on embedded clusters (one OS process each): may run beside the other embedded-cluster collection.</summary>
[CollectionDefinition(Name)]
public sealed class StreamInteropCollection
{
    public const string Name = "streaming: interop, dead letters, scores";
}

[CollectionDefinition(Name)]
public sealed class StreamLifecycleCollection
{
    public const string Name = "streaming: forgetting, retention loss, Ctrl-C";
}

/// <summary>
/// Fault tests with separate node processes (coordinator, 3 workers, stream client) and SIGKILL: they run alone, after
/// the parallel collections, because failure detection (1 s heartbeats, 4 s pause) and the consumer group's session
/// timeout (6 s) must not be distorted by a busy 2-core machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StreamFaultCollection
{
    public const string Name = "streaming: faults in a multi-process cluster (not parallel)";
}
