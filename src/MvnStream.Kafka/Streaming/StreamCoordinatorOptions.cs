using MvnStream.Core.Streaming;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// How a stream coordinator runs its jobs, fixed for the node (docs/ARCHITECTURE.md, "Streaming"): when an online update is due, how long
/// a stop waits for the workers to confirm before it finalises with what was merged, and the clock its streams' state reads (the system
/// clock; a fake one in tests).
/// </summary>
public sealed record StreamCoordinatorOptions(UpdatePolicy UpdatePolicy, TimeProvider Clock, TimeSpan StopTimeout)
{
    /// <summary>The stop timeout's default: 20 s.</summary>
    public static TimeSpan DefaultStopTimeout { get; } = TimeSpan.FromSeconds(20);

    public static StreamCoordinatorOptions Default { get; } = new(UpdatePolicy.Default, TimeProvider.System, DefaultStopTimeout);
}
