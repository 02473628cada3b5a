using System.CommandLine;
using Microsoft.Extensions.Logging;
using MvnStream.Cluster.Logging;

namespace MvnStream.Cli;

/// <summary>
/// <c>--log-format text|json</c> and <c>--log-level LEVEL</c> of the long-running commands (and <c>fit</c>, whose
/// <c>--workers</c>/<c>--cluster</c> run a cluster): the process's one logging factory is built from them before the
/// command runs (docs/ARCHITECTURE.md, "Logging"). Log lines go to stderr, never mixing with stdout (<c>--json</c>
/// summaries, <c>bootstrap=</c>, <c>node up at</c>). With json, the command's own stderr lines (notes, progress) become
/// log events too (category <c>mvnstream.COMMAND</c>), so stderr holds only JSON lines.
/// </summary>
internal static class LoggingOptions
{
    public const string FormatName = "--log-format";
    public const string LevelName = "--log-level";

    /// <summary>The commands that take the options.</summary>
    public static IReadOnlyList<string> Commands { get; } = ["node", "stream", "demo", "broker", "fit"];

    /// <summary>The accepted levels, as written on the command line.</summary>
    public static IReadOnlyDictionary<string, LogLevel> Levels { get; } = new Dictionary<string, LogLevel>(StringComparer.OrdinalIgnoreCase)
    {
        ["trace"] = LogLevel.Trace,
        ["debug"] = LogLevel.Debug,
        ["information"] = LogLevel.Information,
        ["info"] = LogLevel.Information,
        ["warning"] = LogLevel.Warning,
        ["error"] = LogLevel.Error,
        ["critical"] = LogLevel.Critical,
        ["none"] = LogLevel.None,
    };

    public static Option<string?> Format()
    {
        var o = new Option<string?>(FormatName)
        {
            Description = "How log lines are written on stderr: text (default; human-readable) or json (one JSON object per line with "
                + "timestamp, level, category, message, and role and address of the node when known).",
            HelpName = "text|json",
        };
        o.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string?>();
            if (v is not null && ParseFormat(v) is null) r.AddError($"{FormatName} '{v}': expected text or json");
        });
        return o;
    }

    public static Option<string?> Level()
    {
        var o = new Option<string?>(LevelName)
        {
            Description = "Minimum level of log lines: trace, debug, information, warning, error, critical or none; it also sets akka.loglevel. "
                + "Default: Akka's log at akka.loglevel (WARNING on nodes, ERROR on the client of fit and stream), librdkafka's at warning, the rest at information.",
            HelpName = "LEVEL",
        };
        o.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<string?>();
            if (v is not null && !Levels.ContainsKey(v)) r.AddError($"{LevelName} '{v}': expected trace, debug, information, warning, error, critical or none");
        });
        return o;
    }

    /// <summary>Adds both options to each of <see cref="Commands"/>.</summary>
    public static void Install(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        foreach (var command in root.Subcommands.Where(c => Commands.Contains(c.Name)))
        {
            command.Options.Add(Format());
            command.Options.Add(Level());
        }
    }

    public static LogFormat? ParseFormat(string text) => text.Trim().ToLowerInvariant() switch
    {
        "text" => LogFormat.Text,
        "json" => LogFormat.Json,
        _ => null,
    };

    /// <summary>
    /// Builds the process's logging factory from the parsed options of a command that has them (others keep the default,
    /// text on stderr). With json, Console.Error becomes a <see cref="LogLineWriter"/> on the real stderr.
    /// </summary>
    public static void Apply(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        // Secrets given through the environment (MVNSTREAM_TLS_PASSWORD for the key store, ...) are masked wherever they appear.
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            if (e.Key is string name && SecretMasker.IsSecretKey(name)) SecretMasker.Register(e.Value as string);
        var command = parse.CommandResult.Command;
        if (!Commands.Contains(command.Name)) return;
        var formatOption = command.Options.OfType<Option<string?>>().FirstOrDefault(o => o.Name == FormatName);
        var levelOption = command.Options.OfType<Option<string?>>().FirstOrDefault(o => o.Name == LevelName);
        if (formatOption is null || levelOption is null) return;
        var format = parse.GetValue(formatOption) is { } f ? ParseFormat(f) ?? LogFormat.Text : LogFormat.Text;
        LogLevel? level = parse.GetValue(levelOption) is { } l && Levels.TryGetValue(l, out var parsed) ? parsed : null;
        if (command.Name == "broker") MvnLogging.Process = new LogContext("broker", null);
        if (format == LogFormat.Json)
        {
            var stderr = Console.Error;
            var factory = MvnLogging.Configure(format, level, () => stderr);
            Console.SetError(new LogLineWriter(factory.CreateLogger("mvnstream." + command.Name)));
        }
        else if (level is not null) MvnLogging.Configure(format, level);
    }
}
