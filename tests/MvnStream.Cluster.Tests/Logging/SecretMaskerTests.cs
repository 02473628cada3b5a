using System.Text.Json;
using Microsoft.Extensions.Logging;
using MvnStream.Cluster.Logging;

namespace MvnStream.Cluster.Tests.Logging;

/// <summary>Secrets never reach a log line (docs/ARCHITECTURE.md, "Logging").</summary>
public sealed class SecretMaskerTests
{
    [Theory]
    // librdkafka's configuration dump (debug=conf) writes one "  key = value" line per property.
    [InlineData("CONF: [thrd:app]:   sasl.password = Tr0ub4dor&3", "CONF: [thrd:app]:   sasl.password = ****")]
    [InlineData("ssl.key.password=hunter22 bootstrap.servers=127.0.0.1:9092", "ssl.key.password=**** bootstrap.servers=127.0.0.1:9092")]
    [InlineData("{\"sasl.oauthbearer.client.secret\": \"a b c\", \"acks\": \"all\"}", "{\"sasl.oauthbearer.client.secret\": ****, \"acks\": \"all\"}")]
    [InlineData("sasl.jaas.config = x required username=\"u\" password=\"p4ss word\";", "sasl.jaas.config = **** required username=\"u\" password=****;")]
    [InlineData("key-store-password: s3cr3t, token:abc123", "key-store-password: ****, token:****")]
    [InlineData("sasl.password = [redacted]", "sasl.password = [redacted]")]
    [InlineData("bootstrap.servers = 127.0.0.1:9092 acks = all", "bootstrap.servers = 127.0.0.1:9092 acks = all")]
    public void Values_of_secret_keys_are_masked_and_others_are_kept(string line, string expected) =>
        Assert.Equal(expected, SecretMasker.Apply(line));

    [Fact]
    public void A_registered_secret_is_masked_wherever_it_appears()
    {
        string secret = "registered-" + Guid.NewGuid().ToString("N");
        Assert.Contains(secret, SecretMasker.Apply($"authentication failed for {secret}"), StringComparison.Ordinal);
        SecretMasker.Register(secret);
        Assert.Equal("authentication failed for ****", SecretMasker.Apply($"authentication failed for {secret}"));
    }

    [Fact]
    public void A_password_in_a_logged_configuration_line_never_reaches_the_output()
    {
        var lines = new CapturedLines();
        var factory = MvnLogging.Create(LogFormat.Json, LogLevel.Debug, () => lines, () => LogContext.None);
        factory.CreateLogger("librdkafka.rdkafka#producer-1").LogDebug("CONF: [thrd:app]:   sasl.password = Tr0ub4dor&3");
        factory.CreateLogger("akka").LogError(new InvalidOperationException("ssl.key.password=hunter22 rejected"), "start failed");
        var text = string.Join('\n', lines.Lines);
        Assert.DoesNotContain("Tr0ub4dor", text, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter22", text, StringComparison.Ordinal);
        Assert.Equal("CONF: [thrd:app]:   sasl.password = ****", JsonDocument.Parse(lines.Lines[0]).RootElement.GetProperty("message").GetString());
        Assert.Equal("InvalidOperationException: ssl.key.password=**** rejected", JsonDocument.Parse(lines.Lines[1]).RootElement.GetProperty("exception").GetString());
    }
}
