using System.Text;

namespace MvnStream.Cluster.Tests.Logging;

/// <summary>
/// A text writer that keeps every line written to it; a test awaits a line matching a predicate (completed by the
/// line's arrival, not by polling), bounded by a generous timeout whose failure shows what arrived.
/// </summary>
internal sealed class CapturedLines : TextWriter
{
    private readonly object _gate = new();
    private readonly StringBuilder _current = new();
    private readonly List<string> _lines = [];
    private readonly List<(Func<string, bool> Predicate, TaskCompletionSource<string> Found)> _waiters = [];

    public override Encoding Encoding => Encoding.UTF8;

    public IReadOnlyList<string> Lines
    {
        get { lock (_gate) return _lines.ToList(); }
    }

    public override void Write(char value)
    {
        lock (_gate)
        {
            if (value != '\n')
            {
                _current.Append(value);
                return;
            }
            var line = _current.ToString().TrimEnd('\r');
            _current.Clear();
            _lines.Add(line);
            foreach (var w in _waiters.Where(w => w.Predicate(line)).ToList())
            {
                w.Found.TrySetResult(line);
                _waiters.Remove(w);
            }
        }
    }

    public async Task<string> WaitForAsync(Func<string, bool> predicate, string what)
    {
        TaskCompletionSource<string> found;
        lock (_gate)
        {
            if (_lines.FirstOrDefault(predicate) is { } line) return line;
            found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((predicate, found));
        }
        try
        {
            return await found.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"no log line with {what} within 60 s; lines:\n{string.Join('\n', Lines)}");
        }
    }
}
