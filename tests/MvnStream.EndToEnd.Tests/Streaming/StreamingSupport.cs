using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Support;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary>
/// <c>mvnstream broker</c> as an OS process (it ignores stdin, which the harness closes, and runs until killed):
/// its first stdout line is <c>bootstrap=HOST:PORT</c>. Killed by the scope that started it.
/// </summary>
public sealed class DevBroker
{
    private DevBroker(CliProcess process, string bootstrap)
    {
        Process = process;
        Bootstrap = bootstrap;
    }

    public CliProcess Process { get; }

    public string Bootstrap { get; }

    public static async Task<DevBroker> StartAsync(TestScope scope, string name = "broker")
    {
        var p = scope.Start(name, "broker");
        var line = await p.WaitForLineAsync(OutputStream.Stdout, l => l.StartsWith("bootstrap=", StringComparison.Ordinal), TimeSpan.FromSeconds(60),
            "the broker's first stdout line 'bootstrap=HOST:PORT'");
        if (p.StdoutLines[0] != line) throw p.Failure($"'bootstrap=...' must be the first stdout line, but the first was '{p.StdoutLines[0]}'");
        var bootstrap = line["bootstrap=".Length..].Trim();
        if (!Regex.IsMatch(bootstrap, @"^[\w.\-]+:\d+(,[\w.\-]+:\d+)*$")) throw p.Failure($"'{line}' does not name HOST:PORT");
        return new DevBroker(p, bootstrap);
    }

    /// <summary>Fails with the broker's output when it is no longer running (a test's trouble may be the broker's).</summary>
    public void EnsureRunning()
    {
        if (Process.HasExited) throw Process.Failure("the development broker is not running any more");
    }
}

/// <summary>A finished run of <c>/usr/bin/kcat</c> (Debian's kcat, an independent Kafka client).</summary>
public sealed record KcatResult(int ExitCode, string Stdout, string Stderr, string CommandLine)
{
    public string Describe => $"$ {CommandLine}\n  exit code {ExitCode}\n  --- stderr ---\n{Tail(Stderr)}\n  --- stdout ---\n{Tail(Stdout)}";

    private static string Tail(string s) => s.Length <= 3000 ? s : "... " + s[^3000..];
}

/// <summary>Runs kcat with a bounded timeout; the process is killed on timeout or failure of the test.</summary>
public static class Kcat
{
    public const string Executable = "/usr/bin/kcat";

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static async Task<KcatResult> RunAsync(IReadOnlyList<string> args, TimeSpan? timeout = null, string? stdin = null)
    {
        if (!File.Exists(Executable)) throw new CliProcessException($"{Executable} is missing (CI installs it with apt-get install kcat, see .ci/run)");
        var psi = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        string commandLine = "kcat " + string.Join(' ', args.Select(a => a.Length == 0 || a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a));
        using var p = Process.Start(psi) ?? throw new CliProcessException($"could not start {commandLine}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var limit = timeout ?? DefaultTimeout;
        try
        {
            if (stdin is not null) await p.StandardInput.WriteAsync(stdin);
            p.StandardInput.Close();
            await p.WaitForExitAsync().WaitAsync(limit);
            return new KcatResult(p.ExitCode, await stdout, await stderr, commandLine);
        }
        catch (TimeoutException)
        {
            Kill(p);
            string err = await stderr.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : "(unavailable)", TaskScheduler.Default);
            throw new CliProcessException($"kcat did not finish within {limit.TotalSeconds:F0} s (killed)\n  $ {commandLine}\n  --- stderr ---\n{err}");
        }
        finally
        {
            Kill(p);
        }
    }

    private static void Kill(Process p)
    {
        try
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
    }

    /// <summary><c>kcat -P -b B -t T [-p P] [extra] -l FILE</c>: one record per line of the file (kcat skips empty lines).</summary>
    public static async Task ProduceFileAsync(string bootstrap, string topic, string file, int? partition = null, params string[] extra)
    {
        var args = new List<string> { "-P", "-b", bootstrap, "-t", topic };
        if (partition is { } p) args.AddRange(["-p", p.ToString(CultureInfo.InvariantCulture)]);
        args.AddRange(extra);
        args.AddRange(["-l", file]);
        var r = await RunAsync(args, TimeSpan.FromSeconds(120));
        if (r.ExitCode != 0 || r.Stderr.Contains("fail", StringComparison.OrdinalIgnoreCase) || r.Stderr.Contains("error", StringComparison.OrdinalIgnoreCase))
            throw new CliProcessException("kcat could not produce the file\n" + r.Describe);
    }

    /// <summary>
    /// Every record of the topic from the beginning, one output line per record in <paramref name="format"/> (kcat -f),
    /// until the end of every partition (-e).
    /// </summary>
    public static async Task<IReadOnlyList<string>> ConsumeAsync(string bootstrap, string topic, string format, TimeSpan? timeout = null)
    {
        var r = await RunAsync(["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", format], timeout ?? TimeSpan.FromSeconds(120));
        if (r.ExitCode != 0) throw new CliProcessException($"kcat could not read topic {topic}\n" + r.Describe);
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Per partition: the first offset still held (the low watermark), the end (high watermark) and the record count.</summary>
    public static async Task<Dictionary<int, (long First, long End, long Count)>> PartitionExtentsAsync(string bootstrap, string topic)
    {
        var result = new Dictionary<int, (long First, long End, long Count)>();
        foreach (var line in await ConsumeAsync(bootstrap, topic, "%p %o\\n"))
        {
            var parts = line.Split(' ');
            int p = int.Parse(parts[0], CultureInfo.InvariantCulture);
            long o = long.Parse(parts[1], CultureInfo.InvariantCulture);
            result[p] = result.TryGetValue(p, out var x) ? (Math.Min(x.First, o), Math.Max(x.End, o + 1), x.Count + 1) : (o, o + 1, 1);
        }
        return result;
    }
}

/// <summary>The status lines, notes and summaries that <c>mvnstream stream</c> prints.</summary>
public static partial class StreamOutput
{
    [GeneratedRegex(@"^stream\s+rows\s+([\d,]+)\s")]
    private static partial Regex StatusRows();

    [GeneratedRegex(@"\slost\s+([\d,]+)\s")]
    private static partial Regex StatusLost();

    [GeneratedRegex(@"\sv(\d+)\s")]
    private static partial Regex StatusVersion();

    [GeneratedRegex(@"\s([\d.]+) s$")]
    private static partial Regex StatusSeconds();

    [GeneratedRegex(@"resumed from the checkpoint with ([\d,]+) rows")]
    private static partial Regex Resumed();

    /// <summary>The rows of a status line <c>stream  rows N ...</c>, or -1 for any other line.</summary>
    public static long RowsOf(string line) =>
        StatusRows().Match(line) is { Success: true } m ? long.Parse(m.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture) : -1;

    /// <summary>The 'lost N' of a status line, or -1.</summary>
    public static long LostOf(string line) =>
        RowsOf(line) >= 0 && StatusLost().Match(line) is { Success: true } m ? long.Parse(m.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture) : -1;

    /// <summary>The model version 'vN' of a status line, or -1.</summary>
    public static long VersionOf(string line) =>
        RowsOf(line) >= 0 && StatusVersion().Match(line) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;

    /// <summary>The job clock 'S s' at the end of a status line, or -1.</summary>
    public static double SecondsOf(string line) =>
        RowsOf(line) >= 0 && StatusSeconds().Match(line) is { Success: true } m ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;

    /// <summary>The N of 'resumed from the checkpoint with N rows', or -1.</summary>
    public static long ResumedRowsOf(string line) =>
        Resumed().Match(line) is { Success: true } m ? long.Parse(m.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture) : -1;

    /// <summary>The one JSON object that <c>stream --json</c> prints on stdout.</summary>
    public static JsonObject JsonSummary(CliResult run)
    {
        var line = run.StdoutLines.LastOrDefault(l => l.TrimStart().StartsWith('{'));
        return line is not null && JsonNode.Parse(line) is JsonObject o ? o : throw new CliProcessException("no JSON summary on stdout\n" + run.Description);
    }

    public static JsonObject JsonSummary(CliProcess p)
    {
        var line = p.StdoutLines.LastOrDefault(l => l.TrimStart().StartsWith('{'));
        return line is not null && JsonNode.Parse(line) is JsonObject o ? o : throw p.Failure("no JSON summary on stdout");
    }

    public static long Long(JsonObject o, string key) =>
        o[key]?.GetValue<long>() ?? throw new CliProcessException($"'{key}' is missing from {o.ToJsonString()}");
}

/// <summary>The stream-specific parts of a model file: per-partition offsets covered and the version.</summary>
public static class StreamModel
{
    /// <summary>"topic/partition" -> [start, next).</summary>
    public static Dictionary<string, (long Start, long Next)> Offsets(ModelFile m)
    {
        if (m.Json["offsets"] is not JsonObject o) throw new CliProcessException($"{m.Path}: no 'offsets' object\n{m.Text}");
        return o.ToDictionary(kv => kv.Key, kv => (kv.Value!["start"]!.GetValue<long>(), kv.Value!["next"]!.GetValue<long>()));
    }

    public static long Version(ModelFile m) =>
        m.Json["version"]?.GetValue<long>() ?? throw new CliProcessException($"{m.Path}: no 'version'\n{m.Text}");

    public static string Show(Dictionary<string, (long Start, long Next)> offsets) =>
        string.Join(", ", offsets.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} [{kv.Value.Start}, {kv.Value.Next})"));
}

/// <summary>Waits (event-driven, inotify through FileSystemWatcher) until a file has been replaced a number of times.</summary>
public sealed class FileReplacementWatch : IDisposable
{
    private readonly FileSystemWatcher _watcher;
    private readonly string _name;
    private readonly object _gate = new();
    private readonly List<(int Target, TaskCompletionSource Done)> _waiters = [];
    private int _count;

    /// <summary>Starts counting renames onto / creations of <paramref name="path"/> from now on.</summary>
    public FileReplacementWatch(string path)
    {
        _name = Path.GetFileName(path);
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(path)!)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite,
            IncludeSubdirectories = false,
        };
        _watcher.Renamed += (_, e) => { if (e.Name == _name) Bump(); };
        _watcher.Created += (_, e) => { if (e.Name == _name) Bump(); };
        _watcher.EnableRaisingEvents = true;
    }

    public int Count
    {
        get { lock (_gate) return _count; }
    }

    private void Bump()
    {
        List<TaskCompletionSource> fire;
        lock (_gate)
        {
            _count++;
            fire = _waiters.Where(w => _count >= w.Target).Select(w => w.Done).ToList();
        }
        foreach (var f in fire) f.TrySetResult();
    }

    /// <summary>Completes once the file has been written <paramref name="times"/> more times than now.</summary>
    public async Task WaitForMoreAsync(int times, TimeSpan timeout, Func<string> describe)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int target;
        lock (_gate)
        {
            target = _count + times;
            _waiters.Add((target, done));
        }
        if (Count >= target) done.TrySetResult();
        try { await done.Task.WaitAsync(timeout); }
        catch (TimeoutException)
        {
            throw new CliProcessException($"{_name} was not written {times} more time(s) within {timeout.TotalSeconds:F0} s\n{describe()}");
        }
    }

    public void Dispose() => _watcher.Dispose();
}

/// <summary>Independent reference numbers (plain loops, nothing from the product).</summary>
public static class Reference
{
    /// <summary>
    /// P(chi2_d > x) for even d: exp(-x/2) sum_{k=0}^{d/2-1} (x/2)^k / k!  (the Poisson identity, exact up to rounding).
    /// </summary>
    public static double ChiSquareUpperTailEven(double x, int d)
    {
        if (d <= 0 || d % 2 != 0) throw new ArgumentException($"d = {d}: this closed form needs an even, positive d");
        if (x <= 0) return 1;
        double h = x / 2, term = 1, sum = 1;
        for (int k = 1; k < d / 2; k++)
        {
            term *= h / k;
            sum += term;
        }
        return Math.Exp(-h) * sum;
    }

    /// <summary>
    /// Mean and biased covariance with weights w_i = f^(n-1-i) (row i of n, in arrival order): what exponential forgetting
    /// with factor f per row gives when the rows arrive in this order.
    /// </summary>
    public static (double[] Mean, double[] Covariance) WeightedMoments(double[] rows, int d, double f)
    {
        int n = rows.Length / d;
        var w = new double[n];
        for (int i = n - 1, k = 0; i >= 0; i--, k++) w[i] = Math.Pow(f, k);
        double total = w.Sum();
        var mean = new double[d];
        for (int r = 0; r < n; r++)
            for (int i = 0; i < d; i++) mean[i] += w[r] * rows[r * d + i];
        for (int i = 0; i < d; i++) mean[i] /= total;
        var cov = new double[d * d];
        for (int r = 0; r < n; r++)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) cov[i * d + j] += w[r] * (rows[r * d + i] - mean[i]) * (rows[r * d + j] - mean[j]);
        for (int k = 0; k < cov.Length; k++) cov[k] /= total;
        return (mean, cov);
    }
}
