using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using MvnStream.Cluster.Logging;
using MvnStream.Kafka.Logging;

namespace MvnStream.Kafka.Tests.Logging;

/// <summary>librdkafka's log through the process's logging (docs/ARCHITECTURE.md, "Logging").</summary>
public sealed class KafkaLoggingTests
{
    private sealed class Lines : TextWriter
    {
        private readonly StringBuilder _all = new();
        public override Encoding Encoding => Encoding.UTF8;
        public override void Write(char value)
        {
            lock (_all) _all.Append(value);
        }
        public IReadOnlyList<string> All
        {
            get { lock (_all) return _all.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries); }
        }
    }

    [Theory]
    [InlineData(SyslogLevel.Emergency, LogLevel.Critical)]
    [InlineData(SyslogLevel.Alert, LogLevel.Critical)]
    [InlineData(SyslogLevel.Critical, LogLevel.Critical)]
    [InlineData(SyslogLevel.Error, LogLevel.Error)]
    [InlineData(SyslogLevel.Warning, LogLevel.Warning)]
    [InlineData(SyslogLevel.Notice, LogLevel.Information)]
    [InlineData(SyslogLevel.Info, LogLevel.Information)]
    [InlineData(SyslogLevel.Debug, LogLevel.Debug)]
    public void Syslog_levels_map_to_logging_levels(SyslogLevel syslog, LogLevel expected) => Assert.Equal(expected, KafkaLogging.Map(syslog));

    [Fact]
    public void A_message_is_logged_under_the_client_name_with_its_level_facility_and_the_given_role()
    {
        var lines = new Lines();
        var factory = MvnLogging.Create(LogFormat.Json, null, () => lines, () => LogContext.None);
        KafkaLogging.Log(new LogMessage("rdkafka#consumer-3", SyslogLevel.Error, "FAIL", "Connect to ipv4#127.0.0.1:9 failed"), new LogContext("worker", null), factory);
        KafkaLogging.Log(new LogMessage("rdkafka#consumer-3", SyslogLevel.Info, "MOCK", "below the default librdkafka level"), null, factory);
        var o = JsonDocument.Parse(Assert.Single(lines.All)).RootElement;
        Assert.Equal("librdkafka.rdkafka#consumer-3", o.GetProperty("category").GetString());
        Assert.Equal("Error", o.GetProperty("level").GetString());
        Assert.Equal("FAIL: Connect to ipv4#127.0.0.1:9 failed", o.GetProperty("message").GetString());
        Assert.Equal("worker", o.GetProperty("role").GetString());
    }

    [Fact]
    public void A_real_client_warning_reaches_the_logger_and_an_error_is_logged_by_fatality()
    {
        var lines = new Lines();
        var factory = MvnLogging.Create(LogFormat.Json, null, () => lines, () => LogContext.None);
        // group.id is a consumer property: librdkafka warns (CONFWARN) while it creates the producer; nothing is sent.
        var config = new ProducerConfig { BootstrapServers = "127.0.0.1:9", ClientId = "logging-test" };
        config.Set("group.id", "not-for-a-producer");
        using (new ProducerBuilder<Null, Null>(config).WithLogging(factory: factory).Build()) { }
        var warning = lines.All.Select(l => JsonDocument.Parse(l).RootElement).FirstOrDefault(o => o.GetProperty("message").GetString()!.Contains("group.id", StringComparison.Ordinal));
        Assert.True(warning.ValueKind == JsonValueKind.Object, "no librdkafka line about group.id:\n" + string.Join('\n', lines.All));
        Assert.Equal("Warning", warning.GetProperty("level").GetString());
        Assert.StartsWith("librdkafka.logging-test#producer-", warning.GetProperty("category").GetString(), StringComparison.Ordinal);

        KafkaLogging.Log("c", new Error(ErrorCode.Local_Transport, "Connect to ipv4#127.0.0.1:9 failed", false), null, factory); // librdkafka's FAIL line says it
        KafkaLogging.Log("c", new Error(ErrorCode.Local_AllBrokersDown, "1/1 brokers are down", false), null, factory);
        KafkaLogging.Log("c", new Error(ErrorCode.Local_Fatal, "fatal idempotent producer error", true), null, factory);
        var errors = lines.All.Select(l => JsonDocument.Parse(l).RootElement).Where(o => o.GetProperty("category").GetString() == "librdkafka.c").ToList();
        Assert.Equal(["Warning", "Error"], errors.Select(o => o.GetProperty("level").GetString()));
        Assert.Contains("1/1 brokers are down", errors[0].GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
