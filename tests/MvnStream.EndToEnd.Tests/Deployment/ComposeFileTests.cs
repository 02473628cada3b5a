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

    /// <summary>
    /// Each service's environment, passed through the image's entry point (docker/entrypoint.sh, run here by /bin/sh with a
    /// stand-in for dotnet that prints what it would start), builds a valid node configuration: a node that binds
    /// 0.0.0.0 advertises a name or address that resolves (its own IP unless compose names it).
    /// </summary>
    [Theory]
    [MemberData(nameof(MvnstreamServices))]
    public void Node_environment_through_the_entry_point_builds_a_valid_configuration(string service)
    {
        var s = (YamlMappingNode)Services().Children[new YamlScalarNode(service)];
        Assert.True(Get(s, "entrypoint") is null, $"{service} replaces the image's entry point, which sets the advertised address");
        var env = Get(s, "environment") is YamlMappingNode e
            ? e.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value ?? "")
            : new Dictionary<string, string>();
        Assert.All(env.Keys, k => Assert.StartsWith("MVNSTREAM_", k, StringComparison.Ordinal));
        var command = ((YamlSequenceNode)Get(s, "command")!).Select(n => ((YamlScalarNode)n).Value!).ToArray();
        var (vars, args) = RunEntryPoint(env, command);
        Assert.Equal(command, args);
        int config = Array.IndexOf(command, "--config");
        var file = config >= 0 ? Deployment(Path.Combine("config", Path.GetFileName(command[config + 1]))) : null;
        // The command and its environment parse against the settings the program accepts (an unknown or invalid MVNSTREAM__
        // variable would be exit 2), over the shipped config/appsettings.json.
        var settings = MvnStream.Cli.Configuration.AppSettings.Load(CliApp.Build().Parse(command), environment: vars,
            shippedFile: Deployment(Path.Combine("config", "appsettings.json")));
        static List<string>? List(string? text) => text?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        var built = new NodeConfiguration
        {
            ConfigFile = file ?? settings.Node.Hocon, Hostname = settings.Node.Hostname, PublicHostname = settings.Node.PublicHostname,
            Port = settings.Node.Port, Seeds = List(settings.Node.Seeds), Roles = List(settings.Node.Roles), Settings = settings.NodeSettings(),
        }.Build(vars!);
        if (env.GetValueOrDefault("MVNSTREAM__Node__Hostname") == "0.0.0.0")
        {
            var advertised = built.GetString("akka.remote.dot-netty.tcp.public-hostname");
            Assert.True(advertised == (Get(s, "hostname") as YamlScalarNode)?.Value || (System.Net.IPAddress.TryParse(advertised, out var ip) && !System.Net.IPAddress.IsLoopback(ip)),
                $"{service} advertises '{advertised}': neither its compose hostname nor its own non-loopback IP address");
        }
        if (env.ContainsKey("MVNSTREAM__Node__Seeds"))
            Assert.NotEmpty(built.GetStringList("akka.cluster.seed-nodes"));
    }

    /// <summary>Runs docker/entrypoint.sh with exactly <paramref name="env"/>; returns the MVNSTREAM_* variables and arguments it would start mvnstream with.</summary>
    private static (Dictionary<string, string?> Vars, string[] Args) RunEntryPoint(IReadOnlyDictionary<string, string> env, string[] command)
    {
        var printer = Path.Combine(Path.GetTempPath(), $"mvnstream-entrypoint-{Guid.NewGuid():N}.sh");
        File.WriteAllText(printer, "env | grep '^MVNSTREAM_' | grep -v '^MVNSTREAM_DOTNET=\\|^MVNSTREAM_DLL='\nfor a in \"$@\"; do echo \"ARG=$a\"; done\n");
        try
        {
            var psi = new System.Diagnostics.ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Deployment(Path.Combine("docker", "entrypoint.sh")));
            foreach (var a in command) psi.ArgumentList.Add(a);
            psi.Environment.Clear();
            psi.Environment["PATH"] = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
            foreach (var (k, v) in env) psi.Environment[k] = v;
            psi.Environment["MVNSTREAM_DOTNET"] = "/bin/sh";
            psi.Environment["MVNSTREAM_DLL"] = printer;
            using var p = System.Diagnostics.Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), "the entry point did not finish");
            Assert.True(p.ExitCode == 0, $"entry point exit {p.ExitCode}: {stderr.Result}");
            var lines = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var vars = lines.Where(l => l.StartsWith("MVNSTREAM_", StringComparison.Ordinal))
                .ToDictionary(l => l[..l.IndexOf('=', StringComparison.Ordinal)], l => (string?)l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]);
            return (vars, lines.Where(l => l.StartsWith("ARG=", StringComparison.Ordinal)).Select(l => l[4..]).ToArray());
        }
        finally
        {
            File.Delete(printer);
        }
    }

    [Fact]
    public void The_entry_point_advertises_the_container_address_and_adds_the_seed_peers()
    {
        var (vars, args) = RunEntryPoint(new Dictionary<string, string>
        {
            ["MVNSTREAM__Node__Hostname"] = "0.0.0.0",
            ["MVNSTREAM__Node__Seeds"] = "akka.tcp://mvnstream@coordinator:4053",
            ["MVNSTREAM_SEED_PEERS"] = "localhost:4054",
        }, ["node", "--role", "worker"]);
        Assert.Equal(["node", "--role", "worker"], args);
        Assert.True(System.Net.IPAddress.TryParse(vars["MVNSTREAM__Node__PublicHostname"], out var ip) && !System.Net.IPAddress.IsLoopback(ip),
            $"advertised '{vars["MVNSTREAM__Node__PublicHostname"]}'");
        // The given seeds first (the coordinator founds the cluster), then every address of the peer service.
        Assert.Equal("akka.tcp://mvnstream@coordinator:4053,akka.tcp://mvnstream@127.0.0.1:4054", vars["MVNSTREAM__Node__Seeds"]);

        var (named, _) = RunEntryPoint(new Dictionary<string, string> { ["MVNSTREAM__Node__Hostname"] = "0.0.0.0", ["MVNSTREAM__Node__PublicHostname"] = "coordinator" }, ["node"]);
        Assert.Equal("coordinator", named["MVNSTREAM__Node__PublicHostname"]);
        var (loopback, _) = RunEntryPoint(new Dictionary<string, string>(), ["fit", "x.csv"]);
        Assert.False(loopback.ContainsKey("MVNSTREAM__Node__PublicHostname"), "a node on loopback (the default) needs no public address");
    }

    /// <summary>
    /// What 'docker compose up --scale worker=N' and Debian's docker-compose 1.29 need: no top-level name, one worker
    /// service that can be replicated (no hostname, container name or published port), seeds naming the coordinator
    /// only, health checks on the nodes, the coordinator's ports on the host's loopback only.
    /// </summary>
    [Fact]
    public void One_scalable_worker_service_seeds_at_the_coordinator_and_health_checks()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Deployment("docker-compose.yml"))) yaml.Load(reader);
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        Assert.True(Get(root, "name") is null, "a top-level 'name:' is rejected by docker-compose 1.29");
        var services = Services();
        var names = services.Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToList();
        Assert.DoesNotContain(names, n => System.Text.RegularExpressions.Regex.IsMatch(n, @"^worker-?\d+$"));
        var worker = (YamlMappingNode)services.Children[new YamlScalarNode("worker")];
        foreach (var fixedKey in new[] { "hostname", "container_name", "ports" })
            Assert.True(Get(worker, fixedKey) is null, $"the worker service has '{fixedKey}', so it cannot be scaled");

        var coordinator = (YamlMappingNode)services.Children[new YamlScalarNode("coordinator")];
        var coordinatorEnv = (YamlMappingNode)Get(coordinator, "environment")!;
        string coordinatorSeed = $"akka.tcp://mvnstream@{((YamlScalarNode)Get(coordinatorEnv, "MVNSTREAM__Node__PublicHostname")!).Value}:{((YamlScalarNode)Get(coordinatorEnv, "MVNSTREAM__Node__Port")!).Value}";
        foreach (var (key, value) in services.Children)
        {
            var s = (YamlMappingNode)value;
            string name = ((YamlScalarNode)key).Value!;
            if (Get(s, "environment") is YamlMappingNode env && Get(env, "MVNSTREAM__Node__Seeds") is YamlScalarNode seeds)
                Assert.True(seeds.Value == coordinatorSeed, $"{name}: MVNSTREAM__Node__Seeds {seeds.Value}, expected the coordinator only ({coordinatorSeed})");
            if (Get(s, "command") is YamlSequenceNode c && ((YamlScalarNode)c.Children[0]).Value == "node")
                Assert.True(Get(s, "healthcheck") is YamlMappingNode, $"{name} runs a node but has no health check");
            if (Get(s, "ports") is YamlSequenceNode ports)
                Assert.All(ports.Children, p => Assert.StartsWith("127.0.0.1:", ((YamlScalarNode)p).Value, StringComparison.Ordinal));
        }
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
