using MvnStream.Core.Streaming;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// How a stream coordinator runs its jobs, fixed for the node (docs/ARCHITECTURE.md, "Streaming"): when an online update is due, and the
/// clock its streams' state reads (the system clock; a fake one in tests).
/// </summary>
public sealed record StreamCoordinatorOptions(UpdatePolicy UpdatePolicy, TimeProvider Clock)
{
    public static StreamCoordinatorOptions Default { get; } = new(UpdatePolicy.Default, TimeProvider.System);
}
