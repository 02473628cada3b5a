using Akka.Actor;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Cluster.Tests.Protocol;

/// <summary>A local (no remoting) ActorSystem with the effective MvnStream configuration, and the serializer it resolves.</summary>
public sealed class SerializerFixture : IDisposable
{
    public SerializerFixture()
    {
        var config = new NodeConfiguration { ExtraHocon = "akka.actor.provider = local" }.Build(new Dictionary<string, string?>());
        System = ActorSystem.Create("serializer-tests", config);
        Serializer = new MvnStreamSerializer((ExtendedActorSystem)System);
    }

    public ActorSystem System { get; }

    public MvnStreamSerializer Serializer { get; }

    public void Dispose() => System.Terminate().Wait(TimeSpan.FromSeconds(10));
}
