using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;
using Microsoft.Extensions.Logging;
using AkkaLogLevel = Akka.Event.LogLevel;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace MvnStream.Cluster.Logging;

/// <summary>
/// Akka's logger (<c>akka.loggers</c> in config/mvnstream.hocon): forwards every log event to an <see cref="ILogger"/>
/// whose category is the event's log source (an actor path, or Akka's component name), with the node's role and address
/// as a scope (docs/ARCHITECTURE.md, "Logging"). Akka filters by <c>akka.loglevel</c> before events reach it. The factory
/// is the ActorSystem's <see cref="LoggerFactorySetup"/>, else the process's <see cref="MvnLogging.Factory"/>.
/// A peer that shut down or left is reported by the cluster ("worker ... left"); remoting's own "Disassociated" errors for
/// it are dropped as noise, while every other association failure (TLS mismatch, unreachable host) is shown.
/// </summary>
/// <remarks>
/// Akka.Hosting 1.5.73 has a bridge (LoggerFactoryLogger), but it logs every event under one category per logging class
/// with Akka's own text template around the message, and it needs Akka.Hosting's dependency-injection setup.
/// </remarks>
public sealed class AkkaLogForwarder : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private readonly ILoggerFactory _factory;
    private readonly Dictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);
    private readonly string? _role;
    private LogContext? _context;

    public AkkaLogForwarder()
    {
        var setup = Context.System.Settings.Setup.Get<LoggerFactorySetup>();
        _factory = setup.HasValue ? setup.Value.LoggerFactory : MvnLogging.Factory;
        _role = RoleOf(Context.System.Settings.Config);
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(Forward);
    }

    /// <summary>The Microsoft.Extensions.Logging level of an Akka level.</summary>
    public static LogLevel Map(AkkaLogLevel level) => level switch
    {
        AkkaLogLevel.DebugLevel => LogLevel.Debug,
        AkkaLogLevel.InfoLevel => LogLevel.Information,
        AkkaLogLevel.WarningLevel => LogLevel.Warning,
        AkkaLogLevel.ErrorLevel => LogLevel.Error,
        _ => LogLevel.Error,
    };

    private void Forward(LogEvent e)
    {
        if (IsPeerShutdownNoise(e)) return;
        string category = Category(e);
        if (!_loggers.TryGetValue(category, out var logger))
        {
            logger = _factory.CreateLogger(category);
            if (_loggers.Count < 10_000) _loggers[category] = logger;
        }
        Write(logger, e, NodeContext());
    }

    /// <summary>Writes one Akka event to <paramref name="factory"/> (used where no logger actor runs: <see cref="AkkaMinimalLogger"/>).</summary>
    internal static void Write(ILoggerFactory factory, LogEvent e, LogContext context)
    {
        if (IsPeerShutdownNoise(e)) return;
        Write(factory.CreateLogger(Category(e)), e, context);
    }

    private static string Category(LogEvent e) => string.IsNullOrEmpty(e.LogSource) ? "akka" : e.LogSource;

    private static void Write(ILogger logger, LogEvent e, LogContext context)
    {
        var level = Map(e.LogLevel());
        if (!logger.IsEnabled(level)) return;
        using var scope = context.Count > 0 ? logger.BeginScope(context) : null;
        logger.Log(level, default, Text(e.Message), e.Cause, static (m, _) => m);
    }

    /// <summary>The node's role and address; the address once remoting listens (loggers start before it does).</summary>
    private LogContext NodeContext()
    {
        if (_context is not null) return _context;
        string? address = null;
        try
        {
            var a = ((ExtendedActorSystem)Context.System).Provider.DefaultAddress;
            if (a?.Host is not null) address = a.ToString();
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException) { }
        var context = new LogContext(_role, address);
        if (address is not null || _role is null) _context = context;
        return context;
    }

    private static string? RoleOf(Akka.Configuration.Config config)
    {
        var provider = config.GetString("akka.actor.provider", "local") ?? "local";
        if (provider.Contains("cluster", StringComparison.OrdinalIgnoreCase))
        {
            var roles = config.GetStringList("akka.cluster.roles", []);
            return roles.Count > 0 ? string.Join(",", roles) : null;
        }
        return provider.Contains("remote", StringComparison.OrdinalIgnoreCase) ? "client" : null;
    }

    private static string Text(object? message)
    {
        try { return message?.ToString() ?? ""; }
        catch (Exception e) when (e is FormatException or InvalidOperationException or NullReferenceException)
        {
            return $"(a log message that could not be formatted: {e.Message})";
        }
    }

    /// <summary>
    /// What nodes stopping together log about each other: a peer's association ended, a channel already gone, and a message
    /// a node's actor sent after its own remoting stopped ("swallowing exception during message send", seen at the end of
    /// an embedded stream whose nodes all stop at once: the message could only have gone to a node that is stopping too).
    /// </summary>
    private static bool IsPeerShutdownNoise(LogEvent e) =>
        e.Cause?.GetType().Name == "EndpointDisassociatedException"
        || (e.Cause is Akka.Remote.RemoteTransportException t && t.Message.Contains("Remoting is not running", StringComparison.Ordinal))
        || (e.Message?.ToString() is { } m && m.StartsWith("Association with remote system", StringComparison.Ordinal)
            && m.Contains("EndpointDisassociatedException", StringComparison.Ordinal))
        || (e.Message?.ToString() is { } r && r.StartsWith("Unable to REMOVE channel", StringComparison.Ordinal));
}
