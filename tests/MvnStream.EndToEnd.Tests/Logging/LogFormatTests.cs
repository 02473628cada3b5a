using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MvnStream.Cli;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Logging;

/// <summary><c>--log-format</c> and <c>--log-level</c> (docs/ARCHITECTURE.md, "Logging").</summary>
public sealed class LogFormatTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "logformat");

    public void Dispose() => _scope.Dispose();

    /// <summary>
    /// The broker with --log-format json: stdout keeps its bootstrap line, and every stderr line (the command's notes and
    /// librdkafka's log, at --log-level debug) is one JSON object with timestamp, level, category, message and role broker.
    /// </summary>
    [Fact]
    public async Task Broker_with_json_logs_writes_only_json_objects_on_stderr()
    {
        var broker = _scope.Start("broker", "broker", "--log-format", "json", "--log-level", "debug");
        await broker.WaitForLineAsync(OutputStream.Stdout, l => l.StartsWith("bootstrap=", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "bootstrap=HOST:PORT");
        await broker.WaitForLineAsync(OutputStream.Stderr, l => l.Contains("\"category\":\"librdkafka.", StringComparison.Ordinal), TimeSpan.FromSeconds(60),
            "a librdkafka log line (the mock cluster's, at debug)");
        await broker.WaitForLineAsync(OutputStream.Stderr, l => l.Contains("development broker", StringComparison.Ordinal), TimeSpan.FromSeconds(60),
            "the broker's note");
        using (var kill = Process.Start("/bin/kill", ["-TERM", broker.Id.ToString(CultureInfo.InvariantCulture)])!)
            await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        int code = await broker.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(code == 0, $"exit code {code} after SIGTERM\n{broker.Describe()}");

        Assert.Equal("bootstrap=", broker.StdoutLines[0][.."bootstrap=".Length]);
        Assert.NotEmpty(broker.StderrLines);
        var categories = new HashSet<string>();
        foreach (var line in broker.StderrLines)
        {
            JsonElement o;
            try { o = JsonDocument.Parse(line).RootElement; }
            catch (JsonException e) { throw broker.Failure($"stderr line is not JSON ({e.Message}): {line}"); }
            Assert.Equal(JsonValueKind.Object, o.ValueKind);
            foreach (var field in new[] { "timestamp", "level", "category", "message" })
                Assert.True(o.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String, $"no string '{field}' in {line}");
            Assert.Equal("broker", o.GetProperty("role").GetString());
            categories.Add(o.GetProperty("category").GetString()!);
        }
        Assert.Contains("mvnstream.broker", categories);
        Assert.Contains(categories, c => c.StartsWith("librdkafka.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("broker --log-format yaml", "--log-format 'yaml': expected text or json")]
    [InlineData("node --log-level loud", "--log-level 'loud': expected trace, debug, information, warning, error, critical or none")]
    public void A_wrong_value_is_a_usage_error_naming_the_option(string args, string expected)
    {
        var parse = CliApp.Build().Parse(args.Split(' '));
        using var error = new StringWriter();
        Assert.Equal(ExitCodes.Usage, CliApp.ReportParseErrors(parse, error));
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("node")]
    [InlineData("stream")]
    [InlineData("demo")]
    [InlineData("broker")]
    [InlineData("fit")]
    public void The_long_running_commands_take_both_options(string command)
    {
        var c = CliApp.Build().Subcommands.Single(s => s.Name == command);
        Assert.Contains(c.Options, o => o.Name == "--log-format");
        Assert.Contains(c.Options, o => o.Name == "--log-level");
    }
}
