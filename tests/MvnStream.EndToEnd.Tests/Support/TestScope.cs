using System.Globalization;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Support;

/// <summary>The outcome of one finished run of the executable.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr, IReadOnlyList<string> StdoutLines, IReadOnlyList<string> StderrLines,
    TimeSpan Elapsed, string Description)
{
    /// <summary>Asserts the exit code, showing the whole run when it differs.</summary>
    public CliResult ExpectExit(int expected)
    {
        if (ExitCode != expected)
            throw new CliProcessException($"expected exit code {expected}, got {ExitCode}\n{Description}");
        return this;
    }
}

/// <summary>
/// One test's resources: a fresh temporary directory (the working directory of every process it starts, deleted
/// at the end) and every process it started (killed in <see cref="Dispose"/> if still running, even when the test
/// failed). Process descriptions go to the test output so a failure shows what each process printed.
/// </summary>
public sealed class TestScope : IDisposable
{
    /// <summary>Default bound for a short command (start-up of the runtime included; the machine may be busy).</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);

    private readonly ITestOutputHelper? _output;
    private readonly List<CliProcess> _processes = [];
    private readonly object _gate = new();

    public TestScope(ITestOutputHelper? output, string name)
    {
        _output = output;
        Directory = Path.Combine(Path.GetTempPath(), "mvnstream-e2e", $"{(name.Length > 40 ? name[..40] : name)}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public string PathOf(string fileName) => Path.Combine(Directory, fileName);

    public void Log(string message) => _output?.WriteLine(message);

    /// <summary>Starts <c>mvnstream ARGS</c> in the scope's directory; it is killed when the scope ends.</summary>
    public CliProcess Start(string name, params string[] args)
    {
        var p = CliProcess.Start(name, Directory, args);
        lock (_gate) _processes.Add(p);
        Log($"started [{name}] pid {p.Id}: {p.CommandLine}");
        return p;
    }

    /// <summary>Runs <c>mvnstream ARGS</c> to completion (bounded by <paramref name="timeout"/>, default <see cref="CommandTimeout"/>).</summary>
    public async Task<CliResult> RunAsync(string[] args, TimeSpan? timeout = null, string? name = null)
    {
        var p = Start(name ?? args.FirstOrDefault() ?? "mvnstream", args);
        int code = await p.WaitForExitAsync(timeout ?? CommandTimeout);
        var result = new CliResult(code, p.Stdout, p.Stderr, p.StdoutLines, p.StderrLines, p.Elapsed, p.Describe());
        Log(string.Create(CultureInfo.InvariantCulture, $"[{p.Name}] exit {code} after {p.Elapsed.TotalSeconds:F2} s"));
        return result;
    }

    public Task<CliResult> RunAsync(params string[] args) => RunAsync(args, null, null);

    public void Dispose()
    {
        List<CliProcess> all;
        lock (_gate) all = [.. _processes];
        foreach (var p in all)
        {
            if (!p.HasExited) Log($"[{p.Name}] pid {p.Id} still running at the end of the test: killed");
            p.KillAndWait(TimeSpan.FromSeconds(10));
        }
        foreach (var p in all)
        {
            try { Log(p.Describe(3000)); }
            catch (InvalidOperationException) { } // no test is running any more
            p.Dispose();
        }
        for (int attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
                break;
            }
            catch (IOException) { Thread.Sleep(200); }
            catch (UnauthorizedAccessException) { Thread.Sleep(200); }
        }
    }
}
