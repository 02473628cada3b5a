using Akka.Actor;

namespace MvnStream.Cluster.Tests.Actors;

/// <summary>Actor refs for pure-state tests: a path on a node, nothing behind it, no ActorSystem.</summary>
internal static class FakeRefs
{
    public static Address Node(int port) => new("akka.tcp", "mvnstream", "127.0.0.1", port);

    public static IActorRef At(Address node, string name) => new Ref(new RootActorPath(node) / "user" / name);

    private sealed class Ref(ActorPath path) : MinimalActorRef
    {
        public override ActorPath Path => path;
        public override IActorRefProvider Provider => throw new NotSupportedException("a fake ref has no provider");
    }
}
