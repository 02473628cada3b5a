using Akka.Actor;
using Akka.Serialization;

namespace MvnStream.Cluster.Protocol;

/// <summary>Placeholder so the configuration binds; the binary format is being written.</summary>
public sealed class MvnStreamSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int SerializerId = 4217;

    public override int Identifier => SerializerId;

    public override byte[] ToBinary(object obj) => throw new NotImplementedException();

    public override object FromBinary(byte[] bytes, string manifest) => throw new NotImplementedException();

    public override string Manifest(object o) => throw new NotImplementedException();
}
