using MvnStream.Core.Streaming;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// How a stream coordinator runs its jobs, fixed for the node (docs/ARCHITECTURE.md, "Streaming"): when an online update is due and the
/// clock its streams' state reads (the system clock; a fake one in tests). How long a stop waits for the workers to confirm is a
/// per-job setting (Stream:StopTimeout, <c>StreamTunables.StopTimeoutSeconds</c>).
/// </summary>
public sealed record StreamCoordinatorOptions(UpdatePolicy UpdatePolicy, TimeProvider Clock)
{
    public static StreamCoordinatorOptions Default { get; } = new(UpdatePolicy.Default, TimeProvider.System);
}
