using Microsoft.Extensions.Logging;

namespace MvnStream.Cluster.Logging;

/// <summary>
/// Writes every log event as one line (<see cref="LogLineFormatter"/>) to a text writer, synchronously and under one lock,
/// so log lines never interleave with each other or with the command's own stderr lines written meanwhile. The writer is
/// looked up per line (stderr by default: a test or a command that redirects Console.Error is followed). Role and address
/// come from the innermost logging scope that gives them (<see cref="LogContext"/>, or any scope with
/// <c>role</c>/<c>address</c> keys), else from <see cref="MvnLogging.Process"/>.
/// </summary>
public sealed class LineLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private readonly LogFormat _format;
    private readonly Func<TextWriter> _writer;
    private readonly Func<LogContext> _processContext;
    private readonly object _gate = new();
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    /// <param name="format">Text or JSON lines.</param>
    /// <param name="writer">Where lines go, looked up per line (null: Console.Error).</param>
    /// <param name="processContext">Role and address of the process when no scope gives them (null: <see cref="MvnLogging.Process"/>).</param>
    public LineLoggerProvider(LogFormat format, Func<TextWriter>? writer = null, Func<LogContext>? processContext = null)
    {
        _format = format;
        _writer = writer ?? (() => Console.Error);
        _processContext = processContext ?? (() => MvnLogging.Process);
    }

    public LogFormat Format => _format;

    public ILogger CreateLogger(string categoryName) => new LineLogger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose() { }

    private void Write<TState>(string category, LogLevel level, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        string? role = null, address = null;
        _scopes.ForEachScope((scope, _) =>
        {
            // Outermost first: an inner scope overrides.
            if (scope is IEnumerable<KeyValuePair<string, object?>> fields)
                foreach (var (key, value) in fields)
                {
                    if (value is null) continue;
                    if (key == LogContext.RoleKey) role = value.ToString();
                    else if (key == LogContext.AddressKey) address = value.ToString();
                }
        }, (object?)null);
        var process = _processContext();
        var context = new LogContext(role ?? process.Role, address ?? process.Address);
        string line = LogLineFormatter.Format(_format, DateTime.UtcNow, level, category, formatter(state, exception), exception, context);
        lock (_gate)
        {
            var w = _writer();
            w.WriteLine(line);
            w.Flush();
        }
    }

    private sealed class LineLogger(LineLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            ArgumentNullException.ThrowIfNull(formatter);
            provider.Write(category, logLevel, state, exception, formatter);
        }
    }
}
