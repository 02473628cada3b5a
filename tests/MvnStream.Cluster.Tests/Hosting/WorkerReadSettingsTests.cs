using Akka.Configuration;
using MvnStream.Cluster.Hosting;

namespace MvnStream.Cluster.Tests.Hosting;

/// <summary>
/// The worker's read settings, Node:WorkerThreads and Node:ReadChunk (docs/ARCHITECTURE.md, "Fitting a file"): the
/// defaults, a wrong value refused with the setting named (the CLI's exit 2), and the old HOCON keys refused with the
/// setting that replaced them, never a worker that reads on other settings than written.
/// </summary>
public sealed class WorkerReadSettingsTests
{
    private static readonly IReadOnlyDictionary<string, string?> NoEnvironment = new Dictionary<string, string?>();

    private static Config Build(string hocon, NodeSettings? settings = null) => new NodeConfiguration
    {
        Roles = [NodeConfiguration.WorkerRole], Seeds = ["akka.tcp://mvnstream@127.0.0.1:4053"], ExtraHocon = hocon, Environment = NoEnvironment,
        Settings = settings ?? NodeSettings.Default,
    }.Build();

    [Fact]
    public void The_defaults_are_every_core_and_32_MiB_chunks()
    {
        Assert.Equal(0, NodeSettings.Default.WorkerThreads);
        Assert.Equal(32L << 20, NodeSettings.Default.ReadChunkBytes);
        Assert.Equal(TimeSpan.FromSeconds(30), NodeSettings.Default.WorkerWait);
        Assert.Equal(TimeSpan.FromSeconds(30), NodeSettings.Default.NoWorkerTimeout);
        Assert.Equal(NodeSettings.Default, new NodeConfiguration().Settings);
    }

    [Theory]
    [InlineData(-2, 1L << 20, "Node:WorkerThreads = -2 must be 0")]
    [InlineData(0, 12L, "Node:ReadChunk must be at least 4 KiB")]
    public void A_wrong_value_is_refused_naming_the_setting(int threads, long chunk, string expected)
    {
        var e = Assert.Throws<ConfigurationException>(() => Build("", NodeSettings.Default with { WorkerThreads = threads, ReadChunkBytes = chunk }));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mvnstream.worker.threads = 3", "Node:WorkerThreads")]
    [InlineData("mvnstream.worker.read-chunk = 1 MiB", "Node:ReadChunk")]
    public void The_old_HOCON_key_is_refused_naming_its_setting(string hocon, string setting)
    {
        var e = Assert.Throws<ConfigurationException>(() => Build(hocon));
        Assert.Contains("unknown key " + hocon.Split(' ')[0], e.Message, StringComparison.Ordinal);
        Assert.Contains(setting, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_embedded_cluster_shares_the_cores_among_its_workers()
    {
        Assert.Equal(Math.Max(1, Environment.ProcessorCount), EmbeddedCluster.DefaultThreadsPerWorker(1));
        Assert.Equal(1, EmbeddedCluster.DefaultThreadsPerWorker(Environment.ProcessorCount * 2));
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), EmbeddedCluster.DefaultThreadsPerWorker(2));
    }
}
