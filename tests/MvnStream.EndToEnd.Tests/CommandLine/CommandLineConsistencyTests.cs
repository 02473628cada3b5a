using System.CommandLine;
using System.Text.RegularExpressions;
using MvnStream.Cli;

namespace MvnStream.EndToEnd.Tests.CommandLine;

/// <summary>
/// The command line as a whole, through the real parser: every command's --help ends with examples (which parse), and
/// an option name (or alias) means one thing in every command that has it.
/// </summary>
public sealed partial class CommandLineConsistencyTests
{
    public static TheoryData<string> Commands()
    {
        var data = new TheoryData<string> { "" };
        foreach (var c in CliApp.Build().Subcommands) data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_ends_with_examples_that_parse(string command)
    {
        string[] args = command == "" ? ["--help"] : [command, "--help"];
        var output = new StringWriter();
        var help = CliApp.Build().Parse(args);
        Assert.Null(CliApp.ReportParseErrors(help, output)); // as 'mvnstream' runs it: --help despite missing required options
        int code = help.Invoke(new InvocationConfiguration { Output = output, Error = output });
        var text = output.ToString().Replace("\r\n", "\n", StringComparison.Ordinal);
        Assert.Equal(0, code);
        int at = text.IndexOf("\nExamples:\n", StringComparison.Ordinal);
        Assert.True(at >= 0, $"'mvnstream {command} --help' has no Examples section:\n{text}");
        var examples = text[at..].Split('\n').Skip(2).TakeWhile(l => l.Length > 0).Select(l => l.Trim()).ToList();
        Assert.NotEmpty(examples);
        foreach (var line in examples)
        {
            Assert.StartsWith("mvnstream ", line, StringComparison.Ordinal);
            var example = HelpExamples.Arguments(line);
            if (command != "") Assert.True(example[0] == command, $"an example of '{command}' runs '{example[0]}': {line}");
            var parse = CliApp.Build().Parse(example);
            Assert.True(parse.Errors.Count == 0, $"the example '{line}' does not parse: {string.Join("; ", parse.Errors.Select(CliApp.Message))}");
        }
    }

    /// <summary>
    /// Commands where an option is required although it has a default or another source elsewhere: generate has nothing
    /// to write without its dimension, row count and file (produce --synthetic checks --dim and --rows itself, since a
    /// data file needs neither).
    /// </summary>
    private static readonly HashSet<(string Command, string Option)> RequiredOnlyHere =
    [
        ("generate", "--dim"), ("generate", "--rows"), ("generate", "--out"),
    ];

    /// <summary>The meaning of an option: the start of its description up to the first '.' or ':' (followed by a space or the end).</summary>
    [GeneratedRegex(@"^(.*?)[.:](?=\s|$)")]
    private static partial Regex Lead();

    private static string Meaning(Option o) => Lead().Match(o.Description ?? "") is { Success: true } m ? m.Groups[1].Value : o.Description ?? "";

    [Fact]
    public void No_option_name_has_two_meanings()
    {
        // Hidden options are deprecated old names kept so that scripts keep working; they are not shown or documented.
        var uses = new Dictionary<string, List<(string Command, Option Option)>>();
        foreach (var command in CliApp.Build().Subcommands)
            foreach (var option in command.Options.Where(o => !o.Hidden))
                foreach (var name in option.Aliases.Prepend(option.Name))
                {
                    if (!uses.TryGetValue(name, out var list)) uses[name] = list = [];
                    list.Add((command.Name, option));
                }

        var problems = new List<string>();
        foreach (var (name, list) in uses.Where(kv => kv.Value.Count > 1).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            string Show(Func<Option, string> f) => string.Join("; ", list.Select(u => $"{u.Command}: {f(u.Option)}"));
            if (list.Select(u => u.Option.Name).Distinct().Count() > 1)
                problems.Add($"{name} stands for different options: {Show(o => o.Name)}");
            if (list.Select(u => Meaning(u.Option)).Distinct().Count() > 1)
                problems.Add($"{name} means different things: {Show(Meaning)}");
            if (list.Select(u => Nullable.GetUnderlyingType(u.Option.ValueType) ?? u.Option.ValueType).Distinct().Count() > 1)
                problems.Add($"{name} takes different values: {Show(o => o.ValueType.Name)}");
            if (list.Where(u => !RequiredOnlyHere.Contains((u.Command, u.Option.Name))).Select(u => u.Option.Required).Distinct().Count() > 1)
                problems.Add($"{name} is required in some commands only: {Show(o => o.Required ? "required" : "optional")}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        // The test sees what it should: the shared options are there.
        Assert.True(uses["--dim"].Count >= 5 && uses["-b"].Count == 2 && uses["--out"].Count >= 4, "expected --dim, -b and --out in several commands");
    }

    /// <summary>The renames keep old scripts working (a note on stderr), under names that no longer show in --help.</summary>
    [Theory]
    [InlineData("produce -t rows --synthetic --dim 2 --rows 5 --format json", "produce", "--format", "--encoding")]
    [InlineData("stream -b 127.0.0.1:9092 -t rows --format json", "stream", "--format", "--encoding")]
    [InlineData("node --role worker --seed akka.tcp://mvnstream@127.0.0.1:4053", "node", "--seed", "--seed-node")]
    [InlineData("broker --ignore-stdin", "broker", "--ignore-stdin", "--exit-on-stdin-close")]
    public void Deprecated_names_still_parse_and_are_hidden(string args, string command, string old, string shown)
    {
        var parse = CliApp.Build().Parse(args.Split(' '));
        Assert.Empty(parse.Errors);
        var help = new StringWriter();
        CliApp.Build().Parse([command, "--help"]).Invoke(new InvocationConfiguration { Output = help });
        Assert.Contains(shown, help.ToString(), StringComparison.Ordinal);
        Assert.DoesNotMatch($@"(^|[\s,]){Regex.Escape(old)}[\s,<]", help.ToString());
    }
}
