using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace MvnStream.Cluster.Logging;

/// <summary>
/// One log event as one line of text (docs/ARCHITECTURE.md, "Logging"), secrets masked (<see cref="SecretMasker"/>).
/// Text: <c>[WARNING] 22:01:02.345 CATEGORY: message</c>, the cause on a second line as <c>  Type: message</c> (what
/// Akka's events looked like on stderr before). JSON: one object per line with <c>timestamp</c> (UTC, ISO 8601),
/// <c>level</c>, <c>category</c>, <c>message</c>, then <c>role</c> and <c>address</c> when known and <c>exception</c>
/// when there is one. Never a stack trace: a cause is its type and message.
/// </summary>
public static class LogLineFormatter
{
    /// <summary>Formats one event; <paramref name="context"/> gives role and address (null fields are left out).</summary>
    public static string Format(LogFormat format, DateTime timestampUtc, LogLevel level, string category, string message,
        Exception? exception, LogContext context)
    {
        ArgumentNullException.ThrowIfNull(category);
        ArgumentNullException.ThrowIfNull(context);
        message = SecretMasker.Apply(message ?? "");
        string? cause = exception is null ? null : SecretMasker.Apply(Describe(exception));
        return format == LogFormat.Json ? Json(timestampUtc, level, category, message, cause, context)
            : Text(timestampUtc, level, category, message, cause);
    }

    /// <summary>The upper-case level name of the text format (Akka's names: DEBUG, INFO, WARNING, ERROR).</summary>
    public static string TextLevel(LogLevel level) => level switch
    {
        LogLevel.Trace => "TRACE",
        LogLevel.Debug => "DEBUG",
        LogLevel.Information => "INFO",
        LogLevel.Warning => "WARNING",
        LogLevel.Error => "ERROR",
        LogLevel.Critical => "CRITICAL",
        _ => level.ToString().ToUpperInvariant(),
    };

    private static string Text(DateTime timestamp, LogLevel level, string category, string message, string? cause)
    {
        var text = $"[{TextLevel(level)}] {timestamp.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)} {category}: {message}";
        return cause is null ? text : text + Environment.NewLine + "  " + cause;
    }

    private static string Json(DateTime timestamp, LogLevel level, string category, string message, string? cause, LogContext context)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("timestamp", timestamp.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            w.WriteString("level", level.ToString());
            w.WriteString("category", category);
            w.WriteString("message", message);
            if (context.Role is not null) w.WriteString(LogContext.RoleKey, context.Role);
            if (context.Address is not null) w.WriteString(LogContext.AddressKey, context.Address);
            if (cause is not null) w.WriteString("exception", cause);
            w.WriteEndObject();
        }
        // Utf8JsonWriter escapes control characters, so a message with line breaks stays on one line.
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static string Describe(Exception e)
    {
        var text = e.GetType().Name + ": " + e.Message;
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
            text += " (" + inner.GetType().Name + ": " + inner.Message + ")";
        return text;
    }
}
