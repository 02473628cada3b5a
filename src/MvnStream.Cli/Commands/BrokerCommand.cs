using System.CommandLine;
using MvnStream.Kafka.Broker;

namespace MvnStream.Cli.Commands;

/// <summary>
/// <c>mvnstream broker [--brokers N]</c>: runs the embedded development broker (librdkafka's mock cluster).
/// Prints <c>bootstrap=HOST:PORT[,...]</c> as its first stdout line, says on stderr that it is a development
/// broker, and runs until Ctrl-C / SIGTERM (also in the background of a script, where stdin is /dev/null), then exits 0.
/// With <c>--exit-on-stdin-close</c> it also stops when its stdin closes, so a parent process that dies takes it along.
/// </summary>
internal static class BrokerCommand
{
    public static Command Create()
    {
        var brokers = new Option<int>("--brokers") { Description = "Number of brokers in the mock cluster.", DefaultValueFactory = _ => 1, HelpName = "N" };
        var exitOnStdinClose = new Option<bool>("--exit-on-stdin-close") { Description = "Also stop when stdin closes (end of file), so the parent process that started the broker with a pipe as its stdin takes it along when it ends." };
        // Stopping on the end of stdin used to be the default, with --ignore-stdin to turn it off; it is now opt-in, and
        // --ignore-stdin is accepted (hidden) so that scripts written for the old default keep working.
        var ignoreStdin = new Option<bool>("--ignore-stdin") { Description = "Deprecated: the broker ignores stdin unless --exit-on-stdin-close is given.", Hidden = true };
        var cmd = new Command("broker",
            "Run a development Kafka broker (librdkafka mock cluster: in memory, not durable, keeps only the last 5 MB / 100,000 message sets per partition) until Ctrl-C or SIGTERM. Prints bootstrap=HOST:PORT first.")
        {
            brokers, exitOnStdinClose, ignoreStdin,
        };
        cmd.SetAction((pr, ct) => RunAsync(pr.GetValue(brokers), !pr.GetValue(exitOnStdinClose), ct));
        return cmd;
    }

    private static async Task<int> RunAsync(int brokers, bool ignoreStdin, CancellationToken ct)
    {
        if (brokers < 1)
        {
            Console.Error.WriteLine($"mvnstream broker: --brokers {brokers}: must be at least 1");
            return ExitCodes.Usage;
        }
        DevelopmentBroker broker;
        try { broker = DevelopmentBroker.Start(brokers); }
        catch (TimeoutException e) { Console.Error.WriteLine("mvnstream broker: " + e.Message); return ExitCodes.Failure; }

        using (broker)
        {
            Console.Out.WriteLine("bootstrap=" + broker.Bootstrap);
            Console.Out.Flush();
            Console.Error.WriteLine($"mvnstream broker: {broker.Brokers.Count} broker(s) at {broker.Bootstrap}. This is a {DevelopmentBroker.Description}. "
                + $"Topics are created on first produce with {DevelopmentBroker.PartitionsPerTopic} partitions. "
                + (ignoreStdin ? "Stop with Ctrl-C or SIGTERM." : "Stop with Ctrl-C, SIGTERM or by closing stdin (--exit-on-stdin-close)."));
            Console.Error.Flush();

            // Console.In.ReadToEnd is not cancellable, so it runs on its own thread and is simply abandoned on Ctrl-C.
            var stdinClosed = ignoreStdin
                ? new TaskCompletionSource().Task
                : Task.Factory.StartNew(DrainStdin, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var cancelled = Task.Delay(Timeout.Infinite, ct);
            var which = await Task.WhenAny(stdinClosed, cancelled);
            Console.Error.WriteLine(which == stdinClosed ? "mvnstream broker: stdin closed; stopping" : "mvnstream broker: stopping");
        }
        return ExitCodes.Ok;
    }

    private static void DrainStdin()
    {
        try
        {
            using var stdin = Console.OpenStandardInput();
            var buffer = new byte[4096];
            while (stdin.Read(buffer, 0, buffer.Length) > 0) { }
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }
}
