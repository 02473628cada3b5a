using System.CommandLine;
using MvnStream.Cli.Commands;

namespace MvnStream.Cli;

/// <summary>The <c>mvnstream</c> command line: one subcommand per task, each in Commands/.</summary>
internal static class CliApp
{
    public static RootCommand Build()
    {
        var root = new RootCommand("mvnstream: fit a multivariate normal N(mu, Lambda Lambda^T) to large files and Kafka streams, on one machine or an Akka.NET cluster.");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(FitCommand.Create());
        root.Subcommands.Add(ScoreCommand.Create());
        root.Subcommands.Add(NodeCommand.Create());
        root.Subcommands.Add(StreamCommand.Create());
        root.Subcommands.Add(BrokerCommand.Create());
        root.Subcommands.Add(ProduceCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = Build();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) Console.Error.WriteLine($"mvnstream: {e.Message}");
            Console.Error.WriteLine("Try 'mvnstream --help' or 'mvnstream <command> --help'.");
            return ExitCodes.Usage;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
    }
}
