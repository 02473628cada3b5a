using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;
using MvnStream.Cli.Commands;

namespace MvnStream.Cli;

/// <summary>The <c>mvnstream</c> command line: one subcommand per task, each in Commands/.</summary>
internal static partial class CliApp
{
    public static RootCommand Build()
    {
        var root = new RootCommand("mvnstream: fit a multivariate normal N(mu, Lambda Lambda^T) to large files and Kafka streams, on one machine or an Akka.NET cluster.");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(FitCommand.Create());
        root.Subcommands.Add(ScoreCommand.Create());
        root.Subcommands.Add(PlotCommand.Create());
        root.Subcommands.Add(NodeCommand.Create());
        root.Subcommands.Add(StreamCommand.Create());
        root.Subcommands.Add(BrokerCommand.Create());
        root.Subcommands.Add(ProduceCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        LoggingOptions.Install(root);
        HelpExamples.Install(root);
        root.Options.Add(Configuration.AppSettings.SettingsOption);
        Configuration.SettingFlags.Describe(root);
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = Build();
        var parse = root.Parse(args);
        if (ReportParseErrors(parse, Console.Error) is { } usage) return usage;
        LoggingOptions.Apply(parse);
        // A command on the generic host (docs/ARCHITECTURE.md, "Hosting") has Ctrl-C and SIGTERM handled by the host's
        // console lifetime; System.CommandLine handles them for the others.
        if (CommandHost.Commands.Contains(parse.CommandResult.Command.Name)) return await CommandHost.RunAsync(parse);
        return await parse.InvokeAsync(new InvocationConfiguration
        {
            ProcessTerminationTimeout = HostedCommands.Contains(parse.CommandResult.Command.Name) ? null : TimeSpan.FromSeconds(30),
        });
    }

    /// <summary>The commands whose process runs on the .NET generic host, which handles Ctrl-C and SIGTERM.</summary>
    public static IReadOnlySet<string> HostedCommands { get; } = new HashSet<string>(StringComparer.Ordinal) { "node" };

    /// <summary>Writes the parse errors, each once and in the user's terms; <see cref="ExitCodes.Usage"/> when there were any, else null.</summary>
    public static int? ReportParseErrors(ParseResult parse, TextWriter error)
    {
        if (parse.Errors.Count == 0) return null;
        foreach (var message in parse.Errors.Select(Message).Distinct()) error.WriteLine($"mvnstream: {message}");
        error.WriteLine("Try 'mvnstream --help' or 'mvnstream <command> --help'.");
        return ExitCodes.Usage;
    }

    /// <summary>
    /// The error's message, with System.CommandLine's conversion failure ("Cannot parse argument 'x' for option
    /// '--dim' as expected type 'System.Nullable`1[System.Int32]'") said without the .NET type.
    /// </summary>
    public static string Message(ParseError e)
    {
        var m = ConversionError().Match(e.Message);
        if (!m.Success) return e.Message;
        string type = m.Groups["type"].Value;
        string expected = type.Contains("Int", StringComparison.Ordinal) ? "a whole number"
            : type.Contains("Double", StringComparison.Ordinal) || type.Contains("Single", StringComparison.Ordinal) || type.Contains("Decimal", StringComparison.Ordinal) ? "a number"
            : type.Contains("Boolean", StringComparison.Ordinal) ? "true or false"
            : "a valid value (see --help)";
        string name = m.Groups["name"].Success ? m.Groups["name"].Value
            : e.SymbolResult switch
            {
                OptionResult o => o.Option.Name,
                ArgumentResult a => "<" + a.Argument.Name + ">",
                _ => "argument",
            };
        return $"{name} '{m.Groups["value"].Value}': expected {expected}";
    }

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*?)'(?: for (?:option|command) '(?<name>[^']*)')? as expected type '(?<type>[^']*)'")]
    private static partial Regex ConversionError();
}
