using System.Text;
using Microsoft.Extensions.Logging;

namespace MvnStream.Cluster.Logging;

/// <summary>
/// A text writer that turns every line written to it into a log event of <paramref name="logger"/> at
/// <paramref name="level"/>. With <c>--log-format json</c> the CLI makes it Console.Error, so that the command's own
/// stderr lines (notes, progress) are JSON lines like every other log line (docs/ARCHITECTURE.md, "Logging").
/// </summary>
public sealed class LogLineWriter(ILogger logger, LogLevel level = LogLevel.Information) : TextWriter
{
    private readonly StringBuilder _line = new();
    private readonly object _gate = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        string? complete = null;
        lock (_gate)
        {
            if (value == '\n')
            {
                if (_line.Length > 0 && _line[^1] == '\r') _line.Length--;
                complete = _line.ToString();
                _line.Clear();
            }
            else _line.Append(value);
        }
        if (complete is not null) Emit(complete);
    }

    public override void Write(string? value)
    {
        if (value is null) return;
        foreach (var c in value) Write(c);
    }

    public override void Write(char[] buffer, int index, int count)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        for (int i = index; i < index + count; i++) Write(buffer[i]);
    }

    public override void WriteLine(string? value)
    {
        Write(value);
        Write('\n');
    }

    public override void WriteLine() => Write('\n');

    private void Emit(string line)
    {
        if (line.Length == 0) return;
        logger.Log(level, default, line, null, static (m, _) => m);
    }
}
