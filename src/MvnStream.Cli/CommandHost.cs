using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MvnStream.Cluster.Hosting;

namespace MvnStream.Cli;

/// <summary>
/// The generic host a long-running command's process runs on (docs/ARCHITECTURE.md, "Hosting"): <c>stream</c>,
/// <c>demo</c> and <c>broker</c> get their cancellation token from the host's console lifetime (Ctrl-C, SIGTERM: the
/// application stops), and their cluster nodes are built by <see cref="NodeHost"/>. <c>node</c> runs on its node's own
/// host (<see cref="ClusterNode.Host"/>), whose console lifetime does the same.
/// </summary>
internal static class CommandHost
{
    /// <summary>Commands run inside a process host here.</summary>
    public static IReadOnlySet<string> Commands { get; } = new HashSet<string>(StringComparer.Ordinal) { "stream", "demo", "broker" };

    /// <summary>How long a command may take to stop after Ctrl-C or SIGTERM before the process exits 130 anyway.</summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Runs the parsed command with the host's ApplicationStopping as its cancellation token.</summary>
    public static async Task<int> RunAsync(ParseResult parse)
    {
        using var host = NodeHost.CreateBuilder(ownsProcess: true).Build();
        await host.StartAsync();
        var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        try
        {
            var run = parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, stopping);
            var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var onStop = stopping.Register(() => stopped.TrySetResult());
            // After Ctrl-C the command stops cleanly (its own messages and exit code); one that hangs is not waited for forever.
            var forced = stopped.Task.ContinueWith(_ => Task.Delay(StopTimeout), TaskScheduler.Default).Unwrap();
            return await Task.WhenAny(run, forced) == run ? await run : ExitCodes.Cancelled;
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await host.StopAsync(stop.Token);
        }
    }
}
