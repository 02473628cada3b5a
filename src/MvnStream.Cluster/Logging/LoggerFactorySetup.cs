using Microsoft.Extensions.Logging;

namespace MvnStream.Cluster.Logging;

/// <summary>
/// Gives one ActorSystem's <see cref="AkkaLogForwarder"/> its own factory (tests); without it the forwarder uses the
/// process's <see cref="MvnLogging.Factory"/>.
/// </summary>
public sealed class LoggerFactorySetup(ILoggerFactory loggerFactory) : Akka.Actor.Setup.Setup
{
    public ILoggerFactory LoggerFactory { get; } = loggerFactory ?? throw new ArgumentNullException(nameof(loggerFactory));
}
