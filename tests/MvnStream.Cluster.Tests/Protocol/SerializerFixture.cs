using Akka.Actor;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Cluster.Tests.Protocol;

/// <summary>
/// A local (no remoting) ActorSystem with the effective MvnStream configuration, built by Akka.Hosting like a node's
/// (the serializer registered through the builder), and the serializer it resolves.
/// </summary>
public sealed class SerializerFixture : IDisposable
{
    private readonly HostedSystem _hosted;

    public SerializerFixture()
    {
        var config = new NodeConfiguration { ExtraHocon = "akka.actor.provider = local" }.Build(new Dictionary<string, string?>());
        _hosted = new HostedSystem("serializer-tests", config);
        Serializer = new MvnStreamSerializer((ExtendedActorSystem)System);
    }

    public ActorSystem System => _hosted.System;

    public MvnStreamSerializer Serializer { get; }

    public void Dispose() => _hosted.Dispose();
}
