using System.Text.Json;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Logging;

namespace MvnStream.Cluster.Tests.Logging;

/// <summary>
/// Akka's log through the logging: a real ActorSystem with the default HOCON's logger (config/mvnstream.hocon) and remoting
/// on loopback; an actor logs, the line arrives with the actor's path as category, the level, and the node's address.
/// </summary>
public sealed class AkkaLogForwarderTests
{
    private sealed class Talker : ReceiveActor
    {
        public Talker()
        {
            var log = Context.GetLogger();
            Receive<string>(m => log.Warning("warning from an actor: {0}", m));
            Receive<int>(m => log.Debug("debug from an actor: {0}", m));
        }
    }

    [Fact]
    public async Task A_warning_logged_by_an_actor_arrives_with_its_path_as_category_and_the_node_address()
    {
        var lines = new CapturedLines();
        var factory = MvnLogging.Create(LogFormat.Json, null, () => lines, () => LogContext.None);
        // The embedded defaults choose the logger; remoting (a client's provider) gives the node an address.
        var config = ConfigurationFactory.ParseString("akka.actor.provider = remote\nakka.remote.dot-netty.tcp.port = 0\nakka.loglevel = INFO")
            .WithFallback(NodeConfiguration.Reference);
        var setup = BootstrapSetup.Create().WithConfig(config).And(new LoggerFactorySetup(factory));
        using var system = ActorSystem.Create("logging-test", setup);
        try
        {
            var talker = system.ActorOf(Props.Create(() => new Talker()), "talker");
            talker.Tell("hello");
            talker.Tell(7); // below akka.loglevel: Akka drops it before the logger sees it
            var line = await lines.WaitForAsync(l => l.Contains("warning from an actor: hello", StringComparison.Ordinal), "the actor's warning");
            var o = JsonDocument.Parse(line).RootElement;
            var address = ((ExtendedActorSystem)system).Provider.DefaultAddress;
            Assert.Equal("Warning", o.GetProperty("level").GetString());
            Assert.Equal(talker.Path.ToStringWithAddress(address), o.GetProperty("category").GetString());
            Assert.Equal("warning from an actor: hello", o.GetProperty("message").GetString());
            Assert.Equal("client", o.GetProperty("role").GetString());
            Assert.Equal(address.ToString(), o.GetProperty("address").GetString());
            Assert.DoesNotContain(lines.Lines, l => l.Contains("debug from an actor", StringComparison.Ordinal));
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>
    /// An embedded stream's nodes stop together; a message one of them sends after its own remoting stopped was printed as
    /// "[ERROR] ... swallowing exception during message send" after a successful run (seen in a clean-clone CI run).
    /// </summary>
    [Fact]
    public void A_send_after_the_nodes_own_remoting_stopped_is_not_printed_and_other_remoting_errors_are()
    {
        var lines = new CapturedLines();
        var factory = MvnLogging.Create(LogFormat.Json, null, () => lines, () => LogContext.None);
        AkkaLogForwarder.Write(factory, new Error(new Akka.Remote.RemoteTransportException("Attempted to send remote message but Remoting is not running.", null),
            "akka.tcp://mvnstream@127.0.0.1:41831/", typeof(AkkaLogForwarderTests), "swallowing exception during message send"), LogContext.None);
        Assert.Empty(lines.Lines);
        AkkaLogForwarder.Write(factory, new Error(new Akka.Remote.RemoteTransportException("Startup timed out", null),
            "akka.tcp://mvnstream@127.0.0.1:41831/", typeof(AkkaLogForwarderTests), "remoting failed"), LogContext.None);
        Assert.Contains(lines.Lines, l => l.Contains("remoting failed", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(Akka.Event.LogLevel.DebugLevel, Microsoft.Extensions.Logging.LogLevel.Debug)]
    [InlineData(Akka.Event.LogLevel.InfoLevel, Microsoft.Extensions.Logging.LogLevel.Information)]
    [InlineData(Akka.Event.LogLevel.WarningLevel, Microsoft.Extensions.Logging.LogLevel.Warning)]
    [InlineData(Akka.Event.LogLevel.ErrorLevel, Microsoft.Extensions.Logging.LogLevel.Error)]
    public void Akka_levels_map_one_to_one(Akka.Event.LogLevel akka, Microsoft.Extensions.Logging.LogLevel expected) =>
        Assert.Equal(expected, AkkaLogForwarder.Map(akka));
}
