using System.Text.Json;
using Microsoft.Extensions.Logging;
using MvnStream.Cluster.Logging;

namespace MvnStream.Cluster.Tests.Logging;

/// <summary>The line formats of the process's logging (docs/ARCHITECTURE.md, "Logging"), through a real factory.</summary>
public sealed class LogLineFormatterTests
{
    private static (ILoggerFactory Factory, CapturedLines Lines) Json(LogContext? process = null, LogLevel? level = null)
    {
        var lines = new CapturedLines();
        return (MvnLogging.Create(LogFormat.Json, level, () => lines, () => process ?? LogContext.None), lines);
    }

    [Fact]
    public void Json_gives_one_object_per_line_with_the_fields_and_the_role_and_address_of_the_scope()
    {
        var (factory, lines) = Json();
        var logger = factory.CreateLogger("akka.tcp://mvnstream@127.0.0.1:4053/user/worker");
        using (logger.BeginScope(new LogContext("worker", "akka.tcp://mvnstream@127.0.0.1:4053")))
        {
            logger.LogWarning("first line\nsecond line with \"quotes\" and a tab\t");
            logger.LogError(new InvalidOperationException("it broke", new IOException("disk")), "with a cause");
        }
        logger.LogInformation("outside the scope");

        Assert.Equal(3, lines.Lines.Count);
        var objects = lines.Lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        foreach (var o in objects)
        {
            Assert.Equal(JsonValueKind.Object, o.ValueKind);
            Assert.True(DateTime.TryParse(o.GetProperty("timestamp").GetString(), out _), $"timestamp of {o}");
            Assert.Equal("akka.tcp://mvnstream@127.0.0.1:4053/user/worker", o.GetProperty("category").GetString());
        }
        Assert.Equal("Warning", objects[0].GetProperty("level").GetString());
        Assert.Equal("first line\nsecond line with \"quotes\" and a tab\t", objects[0].GetProperty("message").GetString());
        Assert.Equal("worker", objects[0].GetProperty("role").GetString());
        Assert.Equal("akka.tcp://mvnstream@127.0.0.1:4053", objects[0].GetProperty("address").GetString());
        Assert.Equal("Error", objects[1].GetProperty("level").GetString());
        Assert.Equal("InvalidOperationException: it broke (IOException: disk)", objects[1].GetProperty("exception").GetString());
        Assert.False(objects[2].TryGetProperty("role", out _), "no role outside the scope and none for the process");
        Assert.False(objects[2].TryGetProperty("address", out _));
    }

    [Fact]
    public void The_process_context_fills_in_what_no_scope_gives_and_an_inner_scope_wins()
    {
        var (factory, lines) = Json(new LogContext("broker", null));
        var logger = factory.CreateLogger("librdkafka.rdkafka#producer-1");
        logger.LogWarning("from the process");
        using (logger.BeginScope(new LogContext("coordinator", "akka.tcp://mvnstream@10.0.0.5:4053")))
        using (logger.BeginScope(new LogContext("worker", null)))
            logger.LogWarning("from a worker");

        var first = JsonDocument.Parse(lines.Lines[0]).RootElement;
        Assert.Equal("broker", first.GetProperty("role").GetString());
        Assert.False(first.TryGetProperty("address", out _));
        var second = JsonDocument.Parse(lines.Lines[1]).RootElement;
        Assert.Equal("worker", second.GetProperty("role").GetString());
        Assert.Equal("akka.tcp://mvnstream@10.0.0.5:4053", second.GetProperty("address").GetString());
    }

    [Fact]
    public void Text_is_the_line_akka_events_had_on_stderr_before()
    {
        var line = LogLineFormatter.Format(LogFormat.Text, new DateTime(2026, 12, 6, 22, 1, 2, 345, DateTimeKind.Utc), LogLevel.Warning,
            "akka.tcp://mvnstream@127.0.0.1:4053/user/worker", "worker left", new TimeoutException("late"), new LogContext("worker", "x"));
        Assert.Equal("[WARNING] 22:01:02.345 akka.tcp://mvnstream@127.0.0.1:4053/user/worker: worker left" + Environment.NewLine + "  TimeoutException: late", line);
    }

    [Fact]
    public void Without_a_level_librdkafka_logs_from_warning_and_everything_else_from_information()
    {
        var (factory, lines) = Json();
        factory.CreateLogger("librdkafka.rdkafka#consumer-1").LogInformation("MOCK: chatter");
        factory.CreateLogger("librdkafka.rdkafka#consumer-1").LogWarning("CONFWARN: a warning");
        factory.CreateLogger("mvnstream.node").LogInformation("a note");
        factory.CreateLogger("mvnstream.node").LogDebug("a detail");
        Assert.Equal(["CONFWARN: a warning", "a note"], lines.Lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("message").GetString()));

        var (debug, debugLines) = Json(level: LogLevel.Debug);
        debug.CreateLogger("librdkafka.rdkafka#consumer-1").LogInformation("MOCK: chatter");
        debug.CreateLogger("mvnstream.node").LogDebug("a detail");
        Assert.Equal(2, debugLines.Lines.Count);
    }

    [Fact]
    public void A_log_line_writer_turns_each_written_line_into_one_event()
    {
        var (factory, lines) = Json(new LogContext("client", null));
        using var writer = new LogLineWriter(factory.CreateLogger("mvnstream.stream"));
        writer.Write("rows 1,000 ");
        writer.Write("lag 0\r\n");
        writer.WriteLine("note: second");
        writer.WriteLine();
        var messages = lines.Lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["rows 1,000 lag 0", "note: second"], messages.Select(m => m.GetProperty("message").GetString()));
        Assert.All(messages, m => Assert.Equal("mvnstream.stream", m.GetProperty("category").GetString()));
    }
}
