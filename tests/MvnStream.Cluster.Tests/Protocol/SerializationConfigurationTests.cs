using Akka.Configuration;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Cluster.Tests.Protocol;

/// <summary>The effective defaults the wire format depends on (what a node gets with no file, env or options).</summary>
public sealed class SerializationConfigurationTests(SerializerFixture fixture) : IClassFixture<SerializerFixture>
{
    private static Config Defaults() => new NodeConfiguration().Build(new Dictionary<string, string?>());

    /// <summary>
    /// The serializer is registered in one place, Akka.Hosting's builder (NodeHost.AddSerializer): the node's effective
    /// HOCON binds no serializer, so a system made from the HOCON alone falls back to Akka's default for our messages.
    /// </summary>
    [Fact]
    public void The_HOCON_binds_no_serializer_the_builder_is_the_one_place()
    {
        var config = Defaults();
        Assert.False(config.HasPath("akka.actor.serializers.mvnstream"), "config/mvnstream.hocon names the mvnstream serializer");
        var bindings = config.GetConfig("akka.actor.serialization-bindings")?.AsEnumerable().Select(kv => kv.Key) ?? [];
        Assert.DoesNotContain(bindings, k => Type.GetType(k) == typeof(IMvnMessage));
        using var bare = Akka.Actor.ActorSystem.Create("hocon-only", ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(config));
        Assert.IsNotType<MvnStreamSerializer>(bare.Serialization.FindSerializerForType(typeof(SubmitFitJob)));
    }

    [Fact]
    public void The_actor_system_resolves_every_message_type_to_MvnStreamSerializer()
    {
        foreach (var type in MessageGenerators.AllMessageTypes)
        {
            var found = fixture.System.Serialization.FindSerializerForType(type);
            Assert.True(found is MvnStreamSerializer, $"{type.Name} resolves to {found.GetType().Name}");
            Assert.Equal(MvnStreamSerializer.SerializerId, found.Identifier);
        }
    }

    [Fact]
    public void Maximum_frame_size_is_at_least_4_MiB_and_fits_a_d512_full_gradient()
    {
        var frame = Defaults().GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size");
        Assert.NotNull(frame);
        Assert.True(frame >= 4L * 1024 * 1024, $"maximum-frame-size is {frame} bytes");
        var largest = fixture.Serializer.ToBinary(MessageGenerators.LargeFullGradient()).Length;
        Assert.True(frame >= 2L * largest, $"maximum-frame-size {frame} leaves no headroom over a {largest}-byte d = 512 full gradient");
    }

    [Fact]
    public void Hostname_is_loopback_by_default()
    {
        var config = Defaults();
        Assert.Equal("127.0.0.1", config.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.Equal("cluster", config.GetString("akka.actor.provider"));
    }
}
