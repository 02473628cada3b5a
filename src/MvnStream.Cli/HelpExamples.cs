using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace MvnStream.Cli;

/// <summary>
/// The "Examples:" section that every command's --help ends with: System.CommandLine's help, then these lines.
/// Each line is a command that parses (CommandLineConsistencyTests), with at most a shell redirection or comment after it.
/// </summary>
internal static class HelpExamples
{
    /// <summary>Examples per command name; "" is the root command.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> ByCommand = new Dictionary<string, string[]>
    {
        [""] =
        [
            "mvnstream demo                                   # the whole system on the embedded defaults",
            "mvnstream fit data.csv --out model.json",
            "mvnstream broker                                 # a development Kafka broker; prints bootstrap=HOST:PORT",
        ],
        ["demo"] =
        [
            "mvnstream demo",
            "mvnstream demo --dim 8 --rows 1000000 --rate 100000 --out model.json",
        ],
        ["fit"] =
        [
            "mvnstream fit data.csv --out model.json",
            "mvnstream fit rows.f64 --dim 8 --solver closed-form",
            "mvnstream fit data.csv --on-bad-row skip --shrinkage auto --json",
            "mvnstream fit data.csv --workers 3 --summing gradients",
            "mvnstream fit /shared/data.csv --cluster akka.tcp://mvnstream@10.0.0.5:4053 --worker-wait 2m",
            "mvnstream fit data.csv --plot convergence.png --plot-size 1200x800",
        ],
        ["score"] =
        [
            "mvnstream score --model model.json data.csv > scores.csv",
        ],
        ["plot"] =
        [
            "mvnstream plot --model model.json --data data.csv --dims 0,1 --out ellipse.png",
            "mvnstream plot -m model.json --data rows.f64 --dims 2,5 --size 1200x900 --max-points 2000 --out cols-2-5.png",
        ],
        ["node"] =
        [
            "mvnstream node --settings config/appsettings.coordinator.json",
            "mvnstream node --role worker --seed-node akka.tcp://mvnstream@127.0.0.1:4053 --join-timeout 2m",
        ],
        ["stream"] =
        [
            "mvnstream stream -b 127.0.0.1:9092 -t rows --out model.json --until-idle 10s",
            "mvnstream stream -t rows --kafka-config kafka.properties --encoding json --dim 8 --scores-topic rows.scores",
            "mvnstream stream -b kafka:9092 -t rows --cluster akka.tcp://mvnstream@coordinator:4053 --checkpoint kafka:rows.checkpoints",
        ],
        ["broker"] =
        [
            "mvnstream broker",
            "mvnstream broker --brokers 3 &                   # in a script: runs until SIGTERM",
        ],
        ["produce"] =
        [
            "mvnstream produce -b 127.0.0.1:9092 -t rows --synthetic --dim 8 --rows 1000000 --rate 20000",
            "mvnstream produce -b 127.0.0.1:9092 -t rows data.csv",
            "mvnstream produce -b 127.0.0.1:9092 -t rows rows.f64 --dim 8 --encoding f64 --rows-per-record 64",
        ],
        ["generate"] =
        [
            "mvnstream generate --dim 8 --rows 1000000 --out rows.csv --truth-out truth.json",
            "mvnstream generate --dim 8 --rows 1000000 --seed 2 --out rows.f64",
        ],
    };

    /// <summary>The command-line arguments of an example line (after "mvnstream", before any shell redirection, '&amp;' or comment).</summary>
    public static string[] Arguments(string line)
    {
        var command = line.Split(" #")[0].Split(" > ")[0].Split(" | ")[0].Split(" &")[0].Trim();
        return command.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToArray();
    }

    /// <summary>Makes --help of <paramref name="root"/> and of every subcommand end with its examples.</summary>
    public static void Install(RootCommand root)
    {
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new WithExamples((HelpAction)help.Action!);
    }

    private sealed class WithExamples(HelpAction inner) : SynchronousCommandLineAction
    {
        /// <summary>As System.CommandLine's own help: --help works even when required options are missing.</summary>
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            int code = inner.Invoke(parseResult);
            var command = parseResult.CommandResult.Command;
            if (ByCommand.TryGetValue(command is RootCommand ? "" : command.Name, out var lines))
            {
                var output = parseResult.InvocationConfiguration.Output;
                output.WriteLine("Examples:");
                foreach (var line in lines) output.WriteLine("  " + line);
                output.WriteLine();
            }
            return code;
        }
    }
}
