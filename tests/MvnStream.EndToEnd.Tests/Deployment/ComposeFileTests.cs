using MvnStream.Cli;
using MvnStream.Cluster.Hosting;
using YamlDotNet.RepresentationModel;

namespace MvnStream.EndToEnd.Tests.Deployment;

/// <summary>
/// docker-compose.yml and the README are product deliverables that cannot run here (no Docker engine):
/// keep them true by parsing every mvnstream command they contain with the real command line, and by
/// checking what those commands refer to (config files, seeds, environment overrides).
/// </summary>
public sealed class ComposeFileTests
{
    private static string Deployment(string name) => Path.Combine(AppContext.BaseDirectory, "Deployment", name);

    private static YamlMappingNode Services()
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(Deployment("docker-compose.yml"));
        yaml.Load(reader);
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        return (YamlMappingNode)root.Children[new YamlScalarNode("services")];
    }

    private static YamlNode? Get(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;

    public static IEnumerable<object[]> MvnstreamServices() =>
        Services().Children.Where(kv => Get((YamlMappingNode)kv.Value, "command") is not null && ((YamlScalarNode)kv.Key).Value != "kafka")
            .Select(kv => new object[] { ((YamlScalarNode)kv.Key).Value! });

    [Theory]
    [MemberData(nameof(MvnstreamServices))]
    public void Every_compose_command_parses_with_the_real_command_line(string service)
    {
        var s = (YamlMappingNode)Services().Children[new YamlScalarNode(service)];
        var command = ((YamlSequenceNode)Get(s, "command")!).Select(n => ((YamlScalarNode)n).Value!).ToArray();
        var parse = CliApp.Build().Parse(command);
        Assert.True(parse.Errors.Count == 0, $"{service}: '{string.Join(' ', command)}' does not parse: {string.Join("; ", parse.Errors.Select(e => e.Message))}");

        int config = Array.IndexOf(command, "--config");
        if (config >= 0)
        {
            var file = command[config + 1];
            Assert.StartsWith("/app/config/", file, StringComparison.Ordinal);
            var local = Deployment(Path.Combine("config", Path.GetFileName(file)));
            Assert.True(File.Exists(local), $"{service} uses {file}, which is not in config/");
            // The file must be valid HOCON for a node configuration.
            _ = new NodeConfiguration { ConfigFile = local }.Build(new Dictionary<string, string?>());
        }
        int cluster = Array.IndexOf(command, "--cluster");
        if (cluster >= 0) NodeConfiguration.ValidateSeed(command[cluster + 1]);
    }

    [Theory]
    [MemberData(nameof(MvnstreamServices))]
    public void Node_environment_overrides_build_a_valid_configuration(string service)
    {
        var s = (YamlMappingNode)Services().Children[new YamlScalarNode(service)];
        if (Get(s, "environment") is not YamlMappingNode env) return;
        var vars = env.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => (string?)((YamlScalarNode)kv.Value).Value);
        Assert.All(vars.Keys, k => Assert.StartsWith("MVNSTREAM_", k, StringComparison.Ordinal));
        var command = ((YamlSequenceNode)Get(s, "command")!).Select(n => ((YamlScalarNode)n).Value!).ToArray();
        int config = Array.IndexOf(command, "--config");
        var file = config >= 0 ? Deployment(Path.Combine("config", Path.GetFileName(command[config + 1]))) : null;
        var built = new NodeConfiguration { ConfigFile = file }.Build(vars);
        if (vars.TryGetValue("MVNSTREAM_PUBLIC_HOSTNAME", out var host))
            Assert.Equal(host, built.GetString("akka.remote.dot-netty.tcp.public-hostname"));
        if (vars.ContainsKey("MVNSTREAM_SEEDS"))
            Assert.NotEmpty(built.GetStringList("akka.cluster.seed-nodes"));
    }

    [Fact]
    public void Every_mvnstream_command_in_the_README_parses()
    {
        var commands = new List<string>();
        bool inBlock = false;
        foreach (var raw in File.ReadLines(Deployment("README.md")))
        {
            if (raw.StartsWith("```", StringComparison.Ordinal)) { inBlock = !inBlock; continue; }
            // The command itself: drop comments and shell redirections.
            var line = raw.Split('#')[0].Split(" > ")[0].Split(" | ")[0].Trim();
            if (inBlock && line.StartsWith("mvnstream ", StringComparison.Ordinal)) commands.Add(line);
        }
        Assert.True(commands.Count >= 8, $"expected the README to show the commands, found {commands.Count}");
        foreach (var line in commands)
        {
            var args = line["mvnstream ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var parse = CliApp.Build().Parse(args);
            Assert.True(parse.Errors.Count == 0, $"README: '{line}' does not parse: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
        }
    }
}
