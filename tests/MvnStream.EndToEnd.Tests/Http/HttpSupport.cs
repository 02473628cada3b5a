using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Support;

namespace MvnStream.EndToEnd.Tests.Http;

/// <summary>The HTTP endpoint a <c>stream</c>, <c>demo</c> or <c>node</c> process prints, and plain requests to it.</summary>
public static partial class HttpSupport
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(30) };

    [GeneratedRegex(@"http://(127\.0\.0\.1|0\.0\.0\.0|\[[0-9a-f:]+\]):(\d+)/")]
    private static partial Regex Url();

    /// <summary>Waits for the line with the served address (http://HOST:PORT/) on <paramref name="stream"/> and returns the address.</summary>
    public static async Task<Uri> WaitForUrlAsync(CliProcess p, OutputStream stream)
    {
        var line = await p.WaitForLineAsync(stream, l => Url().IsMatch(l), Patience, "the line with the HTTP address http://HOST:PORT/");
        var m = Url().Match(line);
        if (m.Groups[2].Value == "0") throw p.Failure($"the printed address has port 0, not the bound port: '{line}'");
        // Printed once, by the command: not also by the host's lifetime log ("Now listening on: ...").
        string hostPort = $"{m.Groups[1].Value}:{m.Groups[2].Value}";
        var mentions = p.StdoutLines.Concat(p.StderrLines).Where(l => l.Contains(hostPort, StringComparison.Ordinal)).ToList();
        if (mentions.Count != 1) throw p.Failure($"the address {hostPort} is printed {mentions.Count} times, expected once: {string.Join(" | ", mentions)}");
        return new Uri(m.Value);
    }

    public static async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> GetAsync(Uri baseUri, string path, string? ifNoneMatch = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, path));
        if (ifNoneMatch is not null) request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        var response = await Client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    /// <summary>
    /// Requests <paramref name="path"/> until <paramref name="done"/> holds for the answer (every 200 ms, at most <see cref="Patience"/>):
    /// the state a test waits for is reached by the process, not by the clock. The failure shows the last answer and the process.
    /// </summary>
    public static async Task<(HttpStatusCode Status, string Body)> PollAsync(Uri baseUri, string path, Func<HttpStatusCode, string, bool> done, string what, CliProcess owner)
    {
        var clock = Stopwatch.StartNew();
        (HttpStatusCode, string) last = (0, "(no answer yet)");
        while (clock.Elapsed < Patience)
        {
            if (owner.HasExited) throw owner.Failure($"the process ended while waiting for {what}; last answer of {path}: {last}");
            try
            {
                var (status, body, response) = await GetAsync(baseUri, path);
                response.Dispose();
                last = (status, body);
                if (done(status, body)) return last;
            }
            catch (HttpRequestException e) { last = (0, e.Message); }
            await Task.Delay(200);
        }
        throw owner.Failure($"timed out after {Patience.TotalSeconds:F0} s waiting for {what}; last answer of {path}: {(int)last.Item1} {last.Item2}");
    }
}

/// <summary>Debian's chromium, headless (installed by .ci/run; never downloaded): a missing browser fails the test.</summary>
public static class Chromium
{
    public const string Executable = "/usr/bin/chromium";

    /// <summary>Runs chromium headless with <paramref name="args"/> and the page <paramref name="url"/>; returns stdout.</summary>
    public static async Task<string> RunAsync(string profileDirectory, Uri url, params string[] args)
    {
        if (!File.Exists(Executable))
            throw new CliProcessException($"{Executable} is missing: install Debian's chromium (apt-get install chromium; .ci/run does it)");
        var psi = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = new UTF8Encoding(false),
        };
        foreach (var a in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", $"--user-data-dir={profileDirectory}", .. args, url.ToString()])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new CliProcessException("could not start chromium");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        }
        catch (TimeoutException)
        {
            p.Kill(entireProcessTree: true);
            throw new CliProcessException($"chromium did not finish within 120 s: {string.Join(' ', psi.ArgumentList)}\n{await stderr}");
        }
        if (p.ExitCode != 0) throw new CliProcessException($"chromium exited with {p.ExitCode}: {string.Join(' ', psi.ArgumentList)}\n{await stderr}");
        return await stdout;
    }
}
