using Microsoft.Extensions.Logging;

namespace MvnStream.Cluster.Logging;

/// <summary>
/// Hands a logging builder of its own (ASP.NET Core's, in the HTTP endpoint) the process's factory, so that its events
/// are written like every other (docs/ARCHITECTURE.md, "Logging"). The factory is looked up per logger: null means
/// <see cref="MvnLogging.Factory"/> as it is when the logger is made.
/// </summary>
public sealed class ForwardingLoggerProvider(ILoggerFactory? factory = null) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => (factory ?? MvnLogging.Factory).CreateLogger(categoryName);

    public void Dispose() { }
}
