using System.Diagnostics;
using System.Text;

namespace MvnStream.Kafka.Tests.Support;

/// <summary>The result of a finished child process.</summary>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:F1} s\n--- stderr ---\n{Stderr}\n--- stdout ---\n{(Stdout.Length > 2000 ? Stdout[..2000] + "..." : Stdout)}";
}

/// <summary>Runs kcat and the mvnstream executable as child processes, with bounded timeouts.</summary>
public static class Processes
{
    public const string Kcat = "/usr/bin/kcat";

    /// <summary>mvnstream.dll, copied next to the tests by the project reference to src/MvnStream.Cli.</summary>
    public static string MvnstreamDll { get; } = Path.Combine(AppContext.BaseDirectory, "mvnstream.dll");

    /// <summary>The dotnet host running the tests (DOTNET_HOST_PATH), else "dotnet" on PATH.</summary>
    public static string DotnetHost { get; } =
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p && File.Exists(p) ? p : "dotnet";

    public static string KcatPath()
    {
        if (File.Exists(Kcat)) return Kcat;
        throw new InvalidOperationException("kcat is not installed (Debian: apt-get install kcat); .ci/run installs it");
    }

    public static ProcessStartInfo Mvnstream(params string[] args)
    {
        var psi = new ProcessStartInfo(DotnetHost);
        psi.ArgumentList.Add(MvnstreamDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    public static ProcessStartInfo Command(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>Runs to completion (stdin closed at once), killing the process after <paramref name="timeout"/>.</summary>
    public static ProcessResult Run(ProcessStartInfo psi, TimeSpan timeout)
    {
        psi.UseShellExecute = false;
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.StandardOutputEncoding = new UTF8Encoding(false);
        psi.StandardErrorEncoding = new UTF8Encoding(false);
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} did not finish within {timeout.TotalSeconds} s\n{stderr.Result}");
        }
        p.WaitForExit();
        return new ProcessResult(p.ExitCode, stdout.Result, stderr.Result, clock.Elapsed);
    }
}
