using Akka.Configuration;
using Microsoft.Extensions.Logging;

namespace MvnStream.Cluster.Logging;

/// <summary>
/// The process's one <see cref="ILoggerFactory"/> (docs/ARCHITECTURE.md, "Logging"): Akka's log (through
/// <see cref="AkkaLogForwarder"/>), librdkafka's log and the command's own log lines all go through it. The CLI
/// configures it once from <c>--log-format</c> and <c>--log-level</c> before a command runs; until then (tests, library
/// use) it writes text lines on stderr at the default levels.
/// </summary>
public static class MvnLogging
{
    /// <summary>Category prefix of librdkafka's log: <c>librdkafka.CLIENT-NAME</c>.</summary>
    public const string LibrdkafkaCategory = "librdkafka";

    /// <summary>librdkafka's level when no <c>--log-level</c> is given: its informational chatter stays out of sight.</summary>
    public const LogLevel DefaultLibrdkafkaLevel = LogLevel.Warning;

    private static volatile ILoggerFactory _factory = Create(LogFormat.Text, null);
    private static volatile LogContext _process = LogContext.None;

    /// <summary>The process's factory.</summary>
    public static ILoggerFactory Factory => _factory;

    /// <summary>How the process's factory writes (text unless configured).</summary>
    public static LogFormat Format { get; private set; } = LogFormat.Text;

    /// <summary>
    /// Role and address of this process for log lines whose event carries none (the command's own lines, librdkafka's):
    /// set by <c>node</c> once it is up, by a cluster client once connected, by <c>broker</c>.
    /// </summary>
    public static LogContext Process
    {
        get => _process;
        set => _process = value ?? LogContext.None;
    }

    /// <summary>
    /// The Akka level (DEBUG, INFO, WARNING, ERROR, OFF) that an explicit <c>--log-level</c> gives every ActorSystem of the
    /// process (<see cref="WithAkkaLogLevel"/>); null: each keeps <c>akka.loglevel</c> of its configuration.
    /// </summary>
    public static string? AkkaLogLevel { get; private set; }

    /// <summary>
    /// Replaces the process's factory. <paramref name="level"/> null: the defaults (see <see cref="Create"/>), with Akka
    /// at its configured <c>akka.loglevel</c>; else that minimum for every category, Akka's included.
    /// </summary>
    public static ILoggerFactory Configure(LogFormat format, LogLevel? level, Func<TextWriter>? writer = null)
    {
        // The previous factory is not disposed: an ActorSystem's logger that already holds it keeps working.
        Format = format;
        AkkaLogLevel = level is { } l ? AkkaLevel(l) : null;
        _factory = Create(format, level, writer);
        return _factory;
    }

    /// <summary>
    /// A factory writing lines (<see cref="LineLoggerProvider"/>). <paramref name="level"/> null: Information for every
    /// category (Akka's events are already filtered by akka.loglevel before they reach it, so Akka shows exactly what it
    /// showed before) and <see cref="DefaultLibrdkafkaLevel"/> for librdkafka; else that minimum for everything.
    /// </summary>
    public static ILoggerFactory Create(LogFormat format, LogLevel? level, Func<TextWriter>? writer = null, Func<LogContext>? processContext = null) =>
        LoggerFactory.Create(b =>
        {
            b.ClearProviders();
            b.AddProvider(new LineLoggerProvider(format, writer, processContext));
            b.SetMinimumLevel(level ?? LogLevel.Information);
            if (level is null) b.AddFilter(LibrdkafkaCategory, DefaultLibrdkafkaLevel);
        });

    /// <summary>Akka's name of a level (akka.loglevel accepts DEBUG, INFO, WARNING, ERROR and OFF).</summary>
    public static string AkkaLevel(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => "DEBUG",
        LogLevel.Information => "INFO",
        LogLevel.Warning => "WARNING",
        LogLevel.Error or LogLevel.Critical => "ERROR",
        _ => "OFF",
    };

    /// <summary><paramref name="config"/> with <c>akka.loglevel</c> set to <see cref="AkkaLogLevel"/> when one was given.</summary>
    public static Config WithAkkaLogLevel(Config config) =>
        AkkaLogLevel is { } level ? ConfigurationFactory.ParseString($"akka.loglevel = {level}").WithFallback(config) : config;
}
