using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

/// <summary>
/// Defect 6 of the issue: an invalid Kafka client setting is refused before the stream job is submitted, exit 2 naming
/// the key, instead of failing inside the coordinator while the client waits for an answer that never comes.
/// </summary>
[Collection("broker")]
public sealed class StreamSettingsValidationTests(BrokerFixture fixture)
{
    /// <summary>Far below the client's 60 s wait for a coordinator: the refusal comes before any job exists.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(40);

    [Theory]
    [InlineData("bogus.key=1", "bogus.key")]
    [InlineData("security.protocol=carrier-pigeon", "security.protocol")]
    [InlineData("session.timeout.ms=soon", "session.timeout.ms")]
    public void An_invalid_kafka_property_is_refused_at_once_naming_the_key(string property, string key)
    {
        var run = Processes.Run(Processes.Mvnstream("stream", "-b", fixture.Bootstrap, "-t", Topics.New("settings"), "--dim", "2",
            "--checkpoint", "none", "--until-idle", "1s", "-X", property), Bound);
        Assert.True(run.ExitCode == 2, $"-X {property}: exit {run.ExitCode}, expected 2\n{run}");
        Assert.Contains(key, run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("coordinator", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_key_in_a_kafka_config_file_is_refused_naming_the_key_and_the_file()
    {
        string file = Path.Combine(Path.GetTempPath(), $"mvnstream-kafka-{Guid.NewGuid():N}.properties");
        File.WriteAllText(file, "# TLS settings\nclient.id=tested\nbogus.other=2\n");
        try
        {
            var run = Processes.Run(Processes.Mvnstream("stream", "-b", fixture.Bootstrap, "-t", Topics.New("settings"), "--dim", "2",
                "--checkpoint", "none", "--until-idle", "1s", "--kafka-config", file), Bound);
            Assert.True(run.ExitCode == 2, $"exit {run.ExitCode}, expected 2\n{run}");
            Assert.Contains("bogus.other", run.Stderr, StringComparison.Ordinal);
            Assert.Contains(Path.GetFileName(file), run.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>A secret's value never appears in the refusal, even when the value is what is wrong.</summary>
    [Fact]
    public void A_refused_secret_setting_does_not_show_its_value()
    {
        var run = Processes.Run(Processes.Mvnstream("stream", "-b", fixture.Bootstrap, "-t", Topics.New("settings"), "--dim", "2",
            "--checkpoint", "none", "--until-idle", "1s", "-X", "sasl.mechanism=PLAIN", "-X", "sasl.password=hunter2", "-X", "bogus.secret.key=hunter3"), Bound);
        Assert.True(run.ExitCode == 2, $"exit {run.ExitCode}, expected 2\n{run}");
        Assert.DoesNotContain("hunter", run.Stderr + run.Stdout, StringComparison.Ordinal);
    }
}
