using System.Text.Json;
using Akka.Actor;
using Akka.Event;
using MvnStream.Cluster.Logging;

namespace MvnStream.Cluster.Tests.Logging;

/// <summary>Tests that replace the process's logging factory: run alone, so no other test's ActorSystem logs meanwhile.</summary>
[CollectionDefinition(nameof(ProcessLogging), DisableParallelization = true)]
public sealed class ProcessLogging;

/// <summary>
/// The process's factory (<see cref="MvnLogging"/>): what <c>--log-level</c> gives Akka, and Akka's logger of the moments
/// without a logger actor (<see cref="AkkaMinimalLogger"/>, akka.stdout-logger-class), which wrote on stdout before.
/// </summary>
[Collection(nameof(ProcessLogging))]
public sealed class ProcessLoggingTests : IDisposable
{
    private readonly CapturedLines _lines = new();

    public void Dispose() => MvnLogging.Configure(LogFormat.Text, null);

    [Fact]
    public void Akkas_startup_and_shutdown_logger_writes_through_the_process_factory()
    {
        MvnLogging.Configure(LogFormat.Json, null, () => _lines);
        IActorRef logger = new AkkaMinimalLogger();
        logger.Tell(new Warning("remoting-terminator", typeof(ProcessLoggingTests), "Remoting shut down."));
        logger.Tell("not a log event");
        var o = JsonDocument.Parse(Assert.Single(_lines.Lines)).RootElement;
        Assert.Equal("remoting-terminator", o.GetProperty("category").GetString());
        Assert.Equal("Warning", o.GetProperty("level").GetString());
        Assert.Equal("Remoting shut down.", o.GetProperty("message").GetString());
    }

    [Fact]
    public void An_explicit_level_sets_akka_loglevel_and_none_keeps_the_configured_one()
    {
        var config = Akka.Configuration.ConfigurationFactory.ParseString("akka.loglevel = WARNING");
        MvnLogging.Configure(LogFormat.Text, Microsoft.Extensions.Logging.LogLevel.Debug);
        Assert.Equal("DEBUG", MvnLogging.WithAkkaLogLevel(config).GetString("akka.loglevel"));
        MvnLogging.Configure(LogFormat.Text, null);
        Assert.Equal("WARNING", MvnLogging.WithAkkaLogLevel(config).GetString("akka.loglevel"));
    }
}
