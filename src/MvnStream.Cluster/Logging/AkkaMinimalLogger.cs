using Akka.Event;
using Microsoft.Extensions.Logging;

namespace MvnStream.Cluster.Logging;

/// <summary>
/// Akka's logger of the moments when no logger actor runs (<c>akka.stdout-logger-class</c>): while an ActorSystem starts
/// and after its loggers stopped at shutdown. Akka's own writes such events on stdout (a node at akka.loglevel = INFO
/// printed "Remoting shut down." there, among the command's output); this one sends them through the process's
/// logging like every other event (docs/ARCHITECTURE.md, "Logging").
/// </summary>
public sealed class AkkaMinimalLogger : MinimalLogger
{
    protected override void Log(object message)
    {
        if (message is not LogEvent e) return;
        AkkaLogForwarder.Write(MvnLogging.Factory, e, LogContext.None);
    }
}
