using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace MvnStream.Cluster.Hosting;

/// <summary>
/// Akka's log events on stderr (Akka's standard logger writes to stdout, which belongs to command output
/// such as --json summaries and score CSV). A peer that shut down or left is reported by the cluster
/// ("worker ... left"); remoting's own "Disassociated" errors for it are dropped as noise, while every
/// other association failure (TLS mismatch, unreachable host) is shown.
/// </summary>
public sealed class StderrLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public StderrLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e =>
        {
            if (IsPeerShutdownNoise(e)) return;
            var text = $"[{e.LogLevel().ToString().Replace("Level", "", StringComparison.Ordinal).ToUpperInvariant()}] {e.Timestamp:HH:mm:ss.fff} {e.LogSource}: {e.Message}";
            if (e.Cause is not null) text += Environment.NewLine + "  " + e.Cause.GetType().Name + ": " + e.Cause.Message;
            Console.Error.WriteLine(text);
        });
    }

    private static bool IsPeerShutdownNoise(LogEvent e) =>
        e.Cause?.GetType().Name == "EndpointDisassociatedException"
        || (e.Message?.ToString() is { } m && m.StartsWith("Association with remote system", StringComparison.Ordinal)
            && m.Contains("EndpointDisassociatedException", StringComparison.Ordinal))
        || (e.Message?.ToString() is { } r && r.StartsWith("Unable to REMOVE channel", StringComparison.Ordinal));
}
