using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using MvnStream.Cluster.Hosting;

namespace MvnStream.Cluster.Tests.Hosting;

/// <summary>
/// A node's --config file and settings: every mistake is a <see cref="ConfigurationException"/> (the CLI's exit 2)
/// naming the file and line or the key, never a node that starts on other settings than written, a stack trace or a hang.
/// </summary>
public sealed class NodeConfigurationTests : IDisposable
{
    private static readonly IReadOnlyDictionary<string, string?> NoEnvironment = new Dictionary<string, string?>();
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mvnstream-config-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public NodeConfigurationTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Builds with a time limit: Akka's parser loops forever on some inputs, and that must fail the test, not hang it.</summary>
    private static Config Build(NodeConfiguration configuration, IReadOnlyDictionary<string, string?>? env = null)
    {
        var task = Task.Run(() => configuration.Build(env ?? NoEnvironment));
        if (!task.Wait(TimeSpan.FromSeconds(20))) throw new TimeoutException("NodeConfiguration.Build did not return within 20 s");
        return task.GetAwaiter().GetResult();
    }

    private static ConfigurationException Refused(NodeConfiguration configuration, IReadOnlyDictionary<string, string?>? env = null)
    {
        var e = Assert.ThrowsAny<Exception>(() => Build(configuration, env));
        if (e is AggregateException { InnerException: { } inner }) e = inner;
        return Assert.IsType<ConfigurationException>(e);
    }

    /// <summary>The value as the node reads it; Akka's Config.ToString loops forever on an unresolved ${?X}, so each key is read.</summary>
    private static string? Get(Config c, string key) => c.HasPath(key) ? c.GetString(key) : null;

    /// <summary>Akka prints the configuration in some errors and with log-config-on-start; an unresolved substitution made that loop forever.</summary>
    private static void AssertPrintable(Config c)
    {
        var task = Task.Run(c.ToString);
        Assert.True(task.Wait(TimeSpan.FromSeconds(20)), "Config.ToString did not return within 20 s");
    }

    [Theory]
    [InlineData("akka {\n  cluster {\n    roles = [worker]\n", "line 2", "'{' is never closed")]
    [InlineData("akka.cluster.roles = [worker\n", "line 1", "'[' is never closed")]
    [InlineData("akka.cluster.roles = [worker]\n}}} = = =\n", "line 2", "'}' closes nothing")]
    [InlineData("akka {\n  cluster.roles = [worker}\n}\n", "line 2", "'}' closes the '['")]
    [InlineData("akka.remote.dot-netty.tcp.port = 4053\nakka.remote.dot-netty.tcp.hostname = \n", "line 2", "'=' has no value")]
    [InlineData("akka.remote.dot-netty.tcp.hostname = \"127.0.0.1\n", "line 1", "quoted string is not closed")]
    public void A_malformed_file_is_refused_naming_the_file_and_line(string text, string line, string why)
    {
        // Akka's parser accepts each of these and silently drops or blanks settings (the node started on defaults).
        var path = File("bad.hocon", text);
        var e = Refused(new NodeConfiguration { ConfigFile = path });
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(line + ":", e.Message, StringComparison.Ordinal);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("akka.cluster.split-brain-resolver.stable-after = banana\n", "akka.cluster.split-brain-resolver.stable-after", "duration")]
    [InlineData("akka.cluster.failure-detector.heartbeat-interval = soon\n", "akka.cluster.failure-detector.heartbeat-interval", "duration")]
    [InlineData("mvnstream.coordinator.no-worker-timeout = 5s\n", "unknown key mvnstream.coordinator.no-worker-timeout", "Coordinator:NoWorkerTimeout")]
    [InlineData("mvnstream { client { connect-timeout = 5s } }\n", "unknown key mvnstream.client.connect-timeout", "MVNSTREAM__Node__ConnectTimeout")]
    [InlineData("mvnstream.roles.worker = worker\n", "unknown key mvnstream.roles.worker", "not HOCON")]
    [InlineData("akka.remote.dot-netty.tcp.port = \"abc\"\n", "akka.remote.dot-netty.tcp.port", "port number")]
    [InlineData("akka.remote.dot-netty.tcp.port = 70000\n", "akka.remote.dot-netty.tcp.port", "outside 0..65535")]
    [InlineData("akka.cluster.failure-detector.acceptable-heartbeat-pause = -3s\n", "acceptable-heartbeat-pause", "duration")]
    [InlineData("akka.remote.dot-netty.tcp.maximum-frame-size = lots\n", "maximum-frame-size", "size")]
    public void A_value_of_the_wrong_type_is_refused_naming_the_key(string text, string key, string expected)
    {
        // Before: an unhandled FormatException with a stack trace, exit code 1.
        var e = Refused(new NodeConfiguration { ConfigFile = File("typed.hocon", text), Roles = [NodeConfiguration.CoordinatorRole] });
        Assert.Contains(key, e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_seed_in_the_file_naming_another_actor_system_is_refused()
    {
        var path = File("seeds.hocon", "akka.cluster.seed-nodes = [\"akka.tcp://wrong@127.0.0.1:4053\"]\n");
        var e = Refused(new NodeConfiguration { ConfigFile = path, Roles = [NodeConfiguration.WorkerRole] });
        Assert.Contains("akka.tcp://wrong@127.0.0.1:4053", e.Message, StringComparison.Ordinal);
        Assert.Contains("'mvnstream'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_hostname_is_refused_instead_of_binding_every_interface()
    {
        Assert.Contains("hostname is empty", Refused(new NodeConfiguration { Hostname = "" }).Message, StringComparison.Ordinal);
        Assert.Contains("hostname is empty",
            Refused(new NodeConfiguration { ConfigFile = File("h.hocon", "akka.remote.dot-netty.tcp.hostname = \"\"\n") }).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Binding_every_interface_needs_the_public_hostname_other_nodes_use()
    {
        // Without it the node advertised akka.tcp://mvnstream@0.0.0.0:PORT, which no other machine can reach.
        var e = Refused(new NodeConfiguration { Hostname = "0.0.0.0" });
        Assert.Contains("public hostname", e.Message, StringComparison.Ordinal);
        var ok = Build(new NodeConfiguration { Hostname = "0.0.0.0", PublicHostname = "worker-1" });
        Assert.Equal("worker-1", ok.GetString("akka.remote.dot-netty.tcp.public-hostname"));
    }

    [Fact]
    public void Include_is_resolved_relative_to_the_including_file()
    {
        // Before: "not valid HOCON: Object reference not set to an instance of an object".
        Directory.CreateDirectory(Path.Combine(_dir, "conf"));
        File(Path.Combine("conf", "common.hocon"), "akka.cluster.split-brain-resolver.stable-after = 7s\n");
        var main = File(Path.Combine("conf", "node.hocon"), "include \"common.hocon\"\nakka.cluster.roles = [coordinator]\n");
        var c = Build(new NodeConfiguration { ConfigFile = main });
        Assert.Equal(TimeSpan.FromSeconds(7), c.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.Equal(["coordinator"], c.GetStringList("akka.cluster.roles"));

        var missing = File("missing.hocon", "include \"nowhere.hocon\"\n");
        var e = Refused(new NodeConfiguration { ConfigFile = missing });
        Assert.Contains("nowhere.hocon", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_optional_environment_substitution_passes_the_value_through_or_leaves_the_key_unset()
    {
        // Akka's parser does not know ${?NAME}: the value was never read from the environment, the keys after it were
        // lost, and printing the config (as Akka does while starting) looped forever.
        var path = File("env.hocon", "akka.remote.dot-netty.tcp.ssl.certificate.password = ${?MVNSTREAM_TLS_PASSWORD}\nakka.cluster.split-brain-resolver.stable-after = 9s\n");
        var set = Build(new NodeConfiguration { ConfigFile = path }, new Dictionary<string, string?> { ["MVNSTREAM_TLS_PASSWORD"] = "p\"a$s{w}\\rd" });
        Assert.Equal("p\"a$s{w}\\rd", Get(set, "akka.remote.dot-netty.tcp.ssl.certificate.password"));
        Assert.Equal(TimeSpan.FromSeconds(9), set.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        AssertPrintable(set);

        var unset = Build(new NodeConfiguration { ConfigFile = path });
        Assert.Equal(TimeSpan.FromSeconds(9), unset.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.Null(Get(unset, "akka.remote.dot-netty.tcp.ssl.certificate.password")); // unset: Akka's default applies
        AssertPrintable(unset);

        var inList = File("env-list.hocon", "akka.cluster.seed-nodes = [${?MVNSTREAM_NO_SUCH_VARIABLE}]\n");
        Assert.Contains("MVNSTREAM_NO_SUCH_VARIABLE is not set", Refused(new NodeConfiguration { ConfigFile = inList }).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_TLS_example_passes_certificate_and_password_through_and_nodes_join_over_TLS_only()
    {
        // config/tls.example.hocon as shipped (its flags were "default-flag-set", which Akka refuses, and its ${?...} hung the
        // node). Changed here only: the certificate path (a fresh self-signed PKCS#12) and peer validation, which a
        // self-signed certificate cannot pass; the password comes from MVNSTREAM_TLS_PASSWORD as the example says.
        const string password = "s3cret-\"quoted\"";
        var pfx = Path.Combine(_dir, "node.pfx");
        using (var key = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=mvnstream-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            System.IO.File.WriteAllBytes(pfx, cert.Export(X509ContentType.Pkcs12, password));
        }
        var example = FindRepositoryFile(Path.Combine("config", "tls.example.hocon"));
        var env = new Dictionary<string, string?> { ["MVNSTREAM_TLS_PASSWORD"] = password };
        string overrides = $"akka.remote.dot-netty.tcp.ssl.certificate.path = \"{pfx}\"\nakka.remote.dot-netty.tcp.ssl.suppress-validation = true";
        var config = Build(new NodeConfiguration { ConfigFile = example, ExtraHocon = overrides }, env);
        Assert.True(config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"));
        Assert.Equal(password, config.GetString("akka.remote.dot-netty.tcp.ssl.certificate.password"));

        var timeout = TimeSpan.FromSeconds(30);
        await using var coordinator = await ClusterNode.StartAsync(new NodeConfiguration
        {
            ConfigFile = example, ExtraHocon = overrides, Environment = env, Roles = [NodeConfiguration.CoordinatorRole], Seeds = [], Port = 0,
        }, timeout);
        await using var worker = await ClusterNode.StartAsync(new NodeConfiguration
        {
            ConfigFile = example, ExtraHocon = overrides, Environment = env, Roles = [NodeConfiguration.WorkerRole], Seeds = [coordinator.Address.ToString()], Port = 0,
        }, timeout);
        Assert.Equal(2, Akka.Cluster.Cluster.Get(coordinator.System).State.Members.Count);

        // The data plane is plain TCP: a TLS worker announces no data port, so its rounds stay on Akka (docs/ARCHITECTURE.md, "The data plane").
        var rows = Path.Combine(_dir, "tls-rows.csv");
        System.IO.File.WriteAllText(rows, "1,2\n3,5\n");
        var inbox = Akka.Actor.Inbox.Create(coordinator.System);
        var workerActor = await coordinator.System.ActorSelection(worker.Address + "/user/worker").ResolveOne(timeout);
        inbox.Send(workerActor, new MvnStream.Cluster.Protocol.LoadShard("tls", 0, rows, 0, long.MaxValue,
            new MvnStream.Cluster.Protocol.ReaderSettings(MvnStream.Core.Formats.RowFormat.Csv, 2, MvnStream.Core.Formats.BadRowPolicy.Fail), ReturnStatistics: false));
        object answer;
        do answer = await inbox.ReceiveAsync(timeout);
        while (answer is MvnStream.Cluster.Protocol.ShardLoadProgress);
        Assert.Equal(0, Assert.IsType<MvnStream.Cluster.Protocol.ShardLoaded>(answer).DataPort);
        inbox.Send(workerActor, new MvnStream.Cluster.Protocol.ReleaseJob("tls"));

        // A node without TLS cannot join: the setting is in force, not merely parsed.
        await Assert.ThrowsAsync<TimeoutException>(() => ClusterNode.StartAsync(new NodeConfiguration
        {
            Environment = NoEnvironment, Roles = [NodeConfiguration.WorkerRole], Seeds = [coordinator.Address.ToString()], Port = 0,
        }, TimeSpan.FromSeconds(6)));

        // A wrong password is a configuration error at start, with the reason.
        var wrong = await Assert.ThrowsAsync<ConfigurationException>(() => ClusterNode.StartAsync(new NodeConfiguration
        {
            ConfigFile = example, ExtraHocon = overrides, Environment = new Dictionary<string, string?> { ["MVNSTREAM_TLS_PASSWORD"] = "wrong" },
            Roles = [NodeConfiguration.CoordinatorRole], Seeds = [], Port = 0,
        }, timeout));
        Assert.Contains("cannot start the node", wrong.Message, StringComparison.Ordinal);
    }

    private static string FindRepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (System.IO.File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}
