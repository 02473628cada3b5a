using System.Diagnostics;
using System.Text;

namespace MvnStream.EndToEnd.Tests.Support;

/// <summary>Which output stream of a process a line came from.</summary>
public enum OutputStream
{
    Stdout,
    Stderr,
}

/// <summary>A test failure about a child process: the message always carries its command line and captured stderr.</summary>
public sealed class CliProcessException(string message) : Exception(message);

/// <summary>
/// The real <c>mvnstream</c> executable run as an OS process (<c>dotnet mvnstream.dll ARGS</c>): stdout and
/// stderr are read asynchronously, line by line, into buffers guarded by one lock; tests await a line matching
/// a predicate (completed by the line's arrival, not by polling) or the exit, always with a bounded timeout
/// whose failure message includes the captured stderr. <see cref="Kill"/> is SIGKILL of the whole process tree.
/// Every process is also registered with <see cref="ProcessRegistry"/>, which kills survivors when the test host exits.
/// </summary>
public sealed class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly object _gate = new();
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly List<Waiter> _waiters = [];
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stopwatch _clock;
    private bool _disposed;

    private sealed record Waiter(OutputStream Stream, Func<string, bool> Predicate, TaskCompletionSource<string> Found);

    private CliProcess(string name, IReadOnlyList<string> args, string workingDirectory)
    {
        Name = name;
        Arguments = args;
        var psi = new ProcessStartInfo(DotnetHost)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
            WorkingDirectory = workingDirectory,
        };
        psi.ArgumentList.Add(DllPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        // The product layers MVNSTREAM_* variables over its configuration: a developer's shell must not leak into the tests.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MVNSTREAM_", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);

        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(OutputStream.Stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(OutputStream.Stderr, e.Data);
        _clock = Stopwatch.StartNew();
        if (!_process.Start()) throw new CliProcessException($"could not start {CommandLine}");
        Id = _process.Id;
        ProcessRegistry.Add(this);
        _process.StandardInput.Close(); // no interactive input: a prompt would see EOF instead of hanging
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>mvnstream.dll, copied next to the test assembly by the project reference.</summary>
    public static string DllPath { get; } = Path.Combine(AppContext.BaseDirectory, "mvnstream.dll");

    /// <summary>The dotnet host that runs the tests (DOTNET_HOST_PATH, set by the dotnet CLI), else "dotnet" on PATH.</summary>
    public static string DotnetHost { get; } =
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p && File.Exists(p) ? p : "dotnet";

    public string Name { get; }
    public IReadOnlyList<string> Arguments { get; }
    public int Id { get; }
    public TimeSpan Elapsed => _clock.Elapsed;
    public string CommandLine => "mvnstream " + string.Join(' ', Arguments.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a));

    public bool HasExited
    {
        get
        {
            try { return _process.HasExited; }
            catch (InvalidOperationException) { return true; }
        }
    }

    public static CliProcess Start(string name, string workingDirectory, IReadOnlyList<string> args)
    {
        if (!File.Exists(DllPath)) throw new CliProcessException($"{DllPath} is missing: the test project must reference src/MvnStream.Cli");
        return new CliProcess(name, args, workingDirectory);
    }

    public IReadOnlyList<string> StdoutLines
    {
        get { lock (_gate) return _stdout.ToList(); }
    }

    public IReadOnlyList<string> StderrLines
    {
        get { lock (_gate) return _stderr.ToList(); }
    }

    public string Stdout => string.Join('\n', StdoutLines);
    public string Stderr => string.Join('\n', StderrLines);

    /// <summary>
    /// Completes with the first line (already captured or still to come) on <paramref name="stream"/> that matches
    /// <paramref name="predicate"/>. Fails with a message naming <paramref name="what"/> and showing stderr when the
    /// stream closes first (the process exited) or after <paramref name="timeout"/>.
    /// </summary>
    public async Task<string> WaitForLineAsync(OutputStream stream, Func<string, bool> predicate, TimeSpan timeout, string what)
    {
        Waiter w;
        lock (_gate)
        {
            foreach (var line in stream == OutputStream.Stdout ? _stdout : _stderr)
                if (predicate(line)) return line;
            if ((stream == OutputStream.Stdout ? _stdoutClosed : _stderrClosed).Task.IsCompleted)
                throw Failure($"{stream} closed (the process ended, exit code {ExitCodeText()}) before {what}");
            w = new Waiter(stream, predicate, new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));
            _waiters.Add(w);
        }
        try
        {
            return await w.Found.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw Failure($"timed out after {timeout.TotalSeconds:F0} s waiting for {what} on {stream}");
        }
        finally
        {
            lock (_gate) _waiters.Remove(w);
        }
    }

    /// <summary>Waits for the exit and the end of both output streams; on timeout kills the process and fails with its stderr.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await Task.WhenAll(_process.WaitForExitAsync(), _stdoutClosed.Task, _stderrClosed.Task).WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Kill();
            throw Failure($"did not exit within {timeout.TotalSeconds:F0} s (killed)");
        }
        return _process.ExitCode;
    }

    /// <summary>SIGKILL (on Unix) of the process and any children: no shutdown hooks run, as in a crash.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { } // already gone
        catch (System.ComponentModel.Win32Exception) { } // exiting as we speak
    }

    /// <summary>Kills the process if it still runs and waits (bounded) until it is gone, so its exit code is known.</summary>
    public void KillAndWait(TimeSpan timeout)
    {
        Kill();
        try { _process.WaitForExit((int)timeout.TotalMilliseconds); }
        catch (InvalidOperationException) { }
    }

    /// <summary>A failure whose message shows the command, pid, runtime, exit code and captured output.</summary>
    public CliProcessException Failure(string message) => new(message + "\n" + Describe());

    public string Describe(int maxChars = 6000)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInvariant($"[{Name}] pid {Id}, {Elapsed.TotalSeconds:F1} s, exit code {ExitCodeText()}\n  $ {CommandLine}\n"));
        sb.Append("  --- stderr ---\n").Append(Tail(Stderr, maxChars)).Append('\n');
        sb.Append("  --- stdout ---\n").Append(Tail(Stdout, Math.Min(maxChars, 2000)));
        return sb.ToString();
    }

    private string ExitCodeText()
    {
        try { return _process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "(running)"; }
        catch (InvalidOperationException) { return "(unknown)"; }
    }

    private static string Tail(string s, int maxChars) =>
        s.Length <= maxChars ? s : "... (" + (s.Length - maxChars) + " chars cut) ...\n" + s[^maxChars..];

    private static string CultureInvariant(FormattableString s) => s.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private void OnLine(OutputStream stream, string? line)
    {
        List<Waiter> fire = [];
        List<Waiter> orphaned = [];
        lock (_gate)
        {
            if (line is null)
            {
                (stream == OutputStream.Stdout ? _stdoutClosed : _stderrClosed).TrySetResult();
                orphaned.AddRange(_waiters.Where(w => w.Stream == stream));
            }
            else
            {
                (stream == OutputStream.Stdout ? _stdout : _stderr).Add(line);
                foreach (var w in _waiters)
                    if (w.Stream == stream && !w.Found.Task.IsCompleted && SafeMatch(w.Predicate, line)) fire.Add(w);
            }
        }
        foreach (var w in fire) w.Found.TrySetResult(line!);
        foreach (var w in orphaned)
            w.Found.TrySetException(Failure($"{stream} closed (the process ended) before the awaited line appeared"));
    }

    private static bool SafeMatch(Func<string, bool> predicate, string line)
    {
        try { return predicate(line); }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException) { return false; }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Kill();
        try { _process.WaitForExit(10_000); }
        catch (InvalidOperationException) { }
        ProcessRegistry.Remove(this);
        _process.Dispose();
    }
}

/// <summary>Every process the tests started and has not disposed; survivors are killed when the test host exits.</summary>
public static class ProcessRegistry
{
    private static readonly object Gate = new();
    private static readonly HashSet<CliProcess> Live = [];

    static ProcessRegistry()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
    }

    public static void Add(CliProcess p)
    {
        lock (Gate) Live.Add(p);
    }

    public static void Remove(CliProcess p)
    {
        lock (Gate) Live.Remove(p);
    }

    public static void KillAll()
    {
        List<CliProcess> all;
        lock (Gate) all = [.. Live];
        foreach (var p in all) p.Kill();
    }
}
