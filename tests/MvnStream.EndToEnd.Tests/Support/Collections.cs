namespace MvnStream.EndToEnd.Tests.Support;

/// <summary>
/// Tests that start Akka clusters (4-5 ActorSystems, failure detection on 1 s heartbeats) run alone, after the
/// parallel ones: on a 2-core machine a concurrent 200k-row fit could delay heartbeats and make timings meaningless.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "cluster (not parallel)";
}
