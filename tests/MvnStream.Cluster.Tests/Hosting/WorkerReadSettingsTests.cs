using Akka.Configuration;
using MvnStream.Cluster.Hosting;

namespace MvnStream.Cluster.Tests.Hosting;

/// <summary>
/// mvnstream.worker.threads and mvnstream.worker.read-chunk (docs/ARCHITECTURE.md, "Fitting a file"): the defaults, and a
/// wrong value refused with the key named (the CLI's exit 2), never a worker that reads on other settings than written.
/// </summary>
public sealed class WorkerReadSettingsTests
{
    private static readonly IReadOnlyDictionary<string, string?> NoEnvironment = new Dictionary<string, string?>();

    private static Config Build(string hocon) => new NodeConfiguration
    {
        Roles = [NodeConfiguration.WorkerRole], Seeds = ["akka.tcp://mvnstream@127.0.0.1:4053"], ExtraHocon = hocon, Environment = NoEnvironment,
    }.Build();

    [Fact]
    public void The_defaults_are_every_core_and_32_MiB_chunks()
    {
        var c = Build("");
        Assert.Equal(0, c.GetInt("mvnstream.worker.threads"));
        Assert.Equal(32L << 20, c.GetByteSize("mvnstream.worker.read-chunk"));
    }

    [Theory]
    [InlineData("mvnstream.worker.threads = -2", "mvnstream.worker.threads = -2 must be 0")]
    [InlineData("mvnstream.worker.threads = many", "mvnstream.worker.threads = many is not a number of threads")]
    [InlineData("mvnstream.worker.read-chunk = 12", "mvnstream.worker.read-chunk must be at least 4 KiB")]
    [InlineData("mvnstream.worker.read-chunk = huge", "mvnstream.worker.read-chunk = huge is not a size")]
    public void A_wrong_value_is_refused_naming_the_key(string hocon, string expected)
    {
        var e = Assert.Throws<ConfigurationException>(() => Build(hocon));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_embedded_cluster_shares_the_cores_among_its_workers()
    {
        Assert.Equal(Math.Max(1, Environment.ProcessorCount), EmbeddedCluster.DefaultThreadsPerWorker(1));
        Assert.Equal(1, EmbeddedCluster.DefaultThreadsPerWorker(Environment.ProcessorCount * 2));
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), EmbeddedCluster.DefaultThreadsPerWorker(2));
    }
}
