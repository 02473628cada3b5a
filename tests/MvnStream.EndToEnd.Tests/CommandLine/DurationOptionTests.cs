using System.CommandLine;
using MvnStream.Cli;

namespace MvnStream.EndToEnd.Tests.CommandLine;

/// <summary>
/// Every duration option of every command takes one syntax (30s, 500ms, 2m, 1h; a bare number is seconds) and a bad
/// value is a usage error (exit 2) naming the option, never a .NET type: parsed by the real command line.
/// </summary>
public sealed class DurationOptionTests
{
    /// <summary>Each command's duration options, with the arguments the command needs to parse at all.</summary>
    public static readonly TheoryData<string, string, string> Options = new()
    {
        { "fit", "--worker-wait", "fit data.csv --workers 2" },
        { "node", "--join-timeout", "node --role coordinator" },
        { "produce", "--connect-timeout", "produce -b 127.0.0.1:9092 -t rows --synthetic --dim 2 --rows 5" },
        { "stream", "--until-idle", "stream -b 127.0.0.1:9092 -t rows" },
        { "stream", "--snapshot-interval", "stream -b 127.0.0.1:9092 -t rows" },
        { "stream", "--linger", "stream -b 127.0.0.1:9092 -t rows" },
        { "stream", "--broker-timeout", "stream -b 127.0.0.1:9092 -t rows" },
    };

    private static (int? Code, string Error) Parse(string args)
    {
        var parse = CliApp.Build().Parse(args.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var error = new StringWriter();
        return (CliApp.ReportParseErrors(parse, error), error.ToString());
    }

    [Fact]
    public void The_table_lists_every_duration_option_and_none_takes_plain_seconds()
    {
        var listed = Options.Select(r => ((string)r[0], (string)r[1])).ToHashSet();
        foreach (var command in CliApp.Build().Subcommands)
            foreach (var option in command.Options)
            {
                Assert.False(option.HelpName is "SECONDS" or "MS" or "MILLISECONDS",
                    $"{command.Name} {option.Name} takes a number of {option.HelpName}: make it a duration (Durations.Option)");
                if (option.HelpName == Durations.HelpName)
                    Assert.True(listed.Contains((command.Name, option.Name)), $"{command.Name} {option.Name} is a duration option missing from this test's table");
            }
        foreach (var (command, name) in listed)
        {
            var option = CliApp.Build().Subcommands.Single(c => c.Name == command).Options.SingleOrDefault(o => o.Name == name);
            Assert.True(option is not null, $"{command} has no option {name}");
            Assert.Equal(Durations.HelpName, option.HelpName);
        }
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void Accepts_every_form_of_a_duration(string command, string option, string args)
    {
        foreach (var value in new[] { "30s", "500ms", "2m", "1h", "45", "1.5s", "0.25", "2M", " 10s" })
        {
            var (code, error) = Parse($"{args} {option} {value.Trim()}");
            Assert.True(code is null, $"{command} {option} {value}: {error}");
            Assert.True(Durations.TryParseSeconds(value, out _));
        }
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void Rejects_junk_with_exit_2_naming_the_option_and_no_dotnet_type(string command, string option, string args)
    {
        foreach (var value in new[] { "abc", "10x", "-5s", "s", "ms", "1e3", "5 sec", "NaN", "1,5s" })
        {
            var parse = CliApp.Build().Parse([.. args.Split(' ', StringSplitOptions.RemoveEmptyEntries), option, value]);
            var error = new StringWriter();
            int? code = CliApp.ReportParseErrors(parse, error);
            string text = error.ToString();
            Assert.True(code == 2, $"{command} {option} '{value}' was accepted");
            Assert.Contains($"{option} '{value}': expected a duration such as 30s, 500ms or 2m", text, StringComparison.Ordinal);
            AssertNoTypeName(text);
        }
    }

    [Fact]
    public void Seconds_of_each_unit()
    {
        Assert.True(Durations.TryParseSeconds("500ms", out var ms) && ms == 0.5);
        Assert.True(Durations.TryParseSeconds("30s", out var s) && s == 30);
        Assert.True(Durations.TryParseSeconds("2m", out var m) && m == 120);
        Assert.True(Durations.TryParseSeconds("1h", out var h) && h == 3600);
        Assert.True(Durations.TryParseSeconds("45", out var bare) && bare == 45);
    }

    /// <summary>Not only durations: a number option given a word says what it expected, not which .NET type failed to convert.</summary>
    [Theory]
    [InlineData("fit data.csv --dim abc", "--dim 'abc': expected a whole number")]
    [InlineData("fit data.csv --tolerance small", "--tolerance 'small': expected a number")]
    [InlineData("generate --dim 2 --rows many --out x.csv", "--rows 'many': expected a whole number")]
    [InlineData("node --port http", "--port 'http': expected a whole number")]
    [InlineData("demo --rate fast", "--rate 'fast': expected a number")]
    public void Conversion_errors_name_the_option_and_what_it_expects(string args, string expected)
    {
        var (code, error) = Parse(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        AssertNoTypeName(error);
    }

    private static void AssertNoTypeName(string text)
    {
        foreach (var marker in new[] { "System.", "`1", "expected type", "Nullable", "Int32", "Double" })
            Assert.False(text.Contains(marker, StringComparison.Ordinal), $"the error shows a .NET type ('{marker}'): {text}");
    }
}
