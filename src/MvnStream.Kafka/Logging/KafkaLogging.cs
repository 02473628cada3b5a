using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using MvnStream.Cluster.Logging;

namespace MvnStream.Kafka.Logging;

/// <summary>
/// librdkafka's log and errors through the process's logging (docs/ARCHITECTURE.md, "Logging"): every producer,
/// consumer and admin client gets a log handler that maps librdkafka's syslog level to a <see cref="LogLevel"/>, under
/// the category <c>librdkafka.CLIENT-NAME</c> (librdkafka's name of the client, e.g. <c>rdkafka#consumer-1</c>), and an
/// error handler that logs (fatal errors as Error, the transient ones librdkafka retries by itself as Warning). A
/// client whose owner acts on its errors (the stream intake tracks broker reachability, the producer keeps the last
/// error for its message) passes its own handler instead, which reports them its own way, so nothing is said twice.
/// Secrets are masked by the line writer (<see cref="SecretMasker"/>).
/// </summary>
public static class KafkaLogging
{
    /// <summary>The level of a librdkafka (syslog) level: emergency, alert and critical are Critical; notice and info are Information.</summary>
    public static LogLevel Map(SyslogLevel level) => level switch
    {
        SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical => LogLevel.Critical,
        SyslogLevel.Error => LogLevel.Error,
        SyslogLevel.Warning => LogLevel.Warning,
        SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
        SyslogLevel.Debug => LogLevel.Debug,
        _ => LogLevel.Information,
    };

    /// <summary>The category of a client's log: <c>librdkafka.NAME</c>.</summary>
    public static string Category(string? clientName) =>
        MvnLogging.LibrdkafkaCategory + "." + (string.IsNullOrEmpty(clientName) ? "client" : clientName);

    /// <summary>Logs one librdkafka log message to <paramref name="factory"/> (null: the process's).</summary>
    public static void Log(LogMessage message, LogContext? context = null, ILoggerFactory? factory = null)
    {
        ArgumentNullException.ThrowIfNull(message);
        var logger = (factory ?? MvnLogging.Factory).CreateLogger(Category(message.Name));
        Write(logger, LevelOf(message), $"{message.Facility}: {message.Message}", context);
    }

    /// <summary>
    /// <see cref="Map"/>, except a failed offset commit (COMMITFAIL), which is Information: the group's committed offsets
    /// only show lag to operators (the ledger in the checkpoint decides what is counted:
    /// docs/ARCHITECTURE.md, "The offset ledger"), and a commit refused while the group rebalances, as at every stream's
    /// stop, loses nothing.
    /// </summary>
    public static LogLevel LevelOf(LogMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var level = Map(message.Level);
        return message.Facility == "COMMITFAIL" && level > LogLevel.Information ? LogLevel.Information : level;
    }

    /// <summary>
    /// Logs one error reported through a client's error handler, except a connection failure that librdkafka has just
    /// logged itself (facility FAIL, at error level): it is said once.
    /// </summary>
    public static void Log(string? clientName, Error error, LogContext? context = null, ILoggerFactory? factory = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (IsLoggedByLibrdkafka(error)) return;
        var logger = (factory ?? MvnLogging.Factory).CreateLogger(Category(clientName));
        Write(logger, error.IsFatal ? LogLevel.Error : LogLevel.Warning, $"{(error.IsFatal ? "fatal error" : "error")} {error.Code}: {error.Reason}", context);
    }

    /// <summary>A transport or name-resolution failure of one broker connection: librdkafka logs it (FAIL) besides reporting it.</summary>
    public static bool IsLoggedByLibrdkafka(Error error) =>
        !error.IsFatal && error.Code is ErrorCode.Local_Transport or ErrorCode.Local_Resolve;

    private static void Write(ILogger logger, LogLevel level, string text, LogContext? context)
    {
        if (!logger.IsEnabled(level)) return;
        using var scope = context is { Count: > 0 } ? logger.BeginScope(context) : null;
        logger.Log(level, default, text, null, static (m, _) => m);
    }

    /// <summary>A client's error handler: <paramref name="onError"/> when given, else the log.</summary>
    private static Action<IClient, Error> ErrorHandler(LogContext? context, Action<Error>? onError, ILoggerFactory? factory) =>
        (client, e) =>
        {
            if (onError is null) Log(client.Name, e, context, factory);
            else onError(e);
        };

    /// <summary>Log and errors of a producer through the logging; with <paramref name="onError"/>, errors go to it instead.</summary>
    public static ProducerBuilder<TKey, TValue> WithLogging<TKey, TValue>(this ProducerBuilder<TKey, TValue> builder, LogContext? context = null,
        Action<Error>? onError = null, ILoggerFactory? factory = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.SetLogHandler((_, m) => Log(m, context, factory)).SetErrorHandler(ErrorHandler(context, onError, factory));
    }

    /// <summary>Log and errors of a consumer through the logging; with <paramref name="onError"/>, errors go to it instead.</summary>
    public static ConsumerBuilder<TKey, TValue> WithLogging<TKey, TValue>(this ConsumerBuilder<TKey, TValue> builder, LogContext? context = null,
        Action<Error>? onError = null, ILoggerFactory? factory = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.SetLogHandler((_, m) => Log(m, context, factory)).SetErrorHandler(ErrorHandler(context, onError, factory));
    }

    /// <summary>Log and errors of an admin client through the logging.</summary>
    public static AdminClientBuilder WithLogging(this AdminClientBuilder builder, LogContext? context = null, ILoggerFactory? factory = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.SetLogHandler((_, m) => Log(m, context, factory)).SetErrorHandler((client, e) => Log(client.Name, e, context, factory));
    }
}
