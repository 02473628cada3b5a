using System.CommandLine;
using System.Globalization;
using MvnStream.Cli;
using MvnStream.Cli.Commands;
using MvnStream.Cli.Configuration;
using MvnStream.Cluster.Protocol;

namespace MvnStream.EndToEnd.Tests.CommandLine;

/// <summary>
/// The typed settings (README "Configuration"): the effective defaults of every options type against the documented table
/// (as akka.net's ClusterConfigSpec pins Akka's), the shipped config/appsettings.json, the precedence file &lt; environment
/// &lt; flag, and every unknown key or invalid value refused (exit 2) naming the key and where it came from. In process,
/// through the real command line (<see cref="CliApp.Build"/>); environments are passed in, never set on this process.
/// </summary>
public sealed class ConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvnstream-settings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly IReadOnlyDictionary<string, string?> NoEnvironment = new Dictionary<string, string?>();

    private static string Deployment(string name) => Path.Combine(AppContext.BaseDirectory, "Deployment", name);

    /// <summary>The documented defaults: the README's table must say the same (<see cref="The_README_lists_every_key_with_its_default_and_variable"/>).</summary>
    public static readonly IReadOnlyDictionary<string, string> Documented = new Dictionary<string, string>
    {
        ["Node:Hostname"] = "127.0.0.1",
        ["Node:PublicHostname"] = "(the hostname)",
        ["Node:Port"] = "0",
        ["Node:Seeds"] = "(none)",
        ["Node:Roles"] = "(akka.cluster.roles of the HOCON)",
        ["Node:Hocon"] = "(none)",
        ["Node:JoinTimeout"] = "60s",
        ["Node:LeaveTimeout"] = "15s",
        ["Node:ConnectTimeout"] = "20s",
        ["Node:ClientLogLevel"] = "ERROR",
        ["Node:WorkerThreads"] = "0",
        ["Node:ReadChunk"] = "32MiB",
        ["Node:DataPort"] = "0",
        ["Coordinator:WorkerWait"] = "30s",
        ["Coordinator:NoWorkerTimeout"] = "30s",
        ["Coordinator:DataPlane"] = "tcp",
        ["Stream:BatchRows"] = "4096",
        ["Stream:Linger"] = "200ms",
        ["Stream:SnapshotInterval"] = "1s",
        ["Stream:StepsPerUpdate"] = "25",
        ["Stream:BrokerTimeout"] = "60s",
        ["Stream:MaxInFlight"] = "8",
        ["Stream:MaxPendingBatches"] = "16",
        ["Stream:PollMilliseconds"] = "100",
        ["Stream:AckTimeout"] = "15s",
        ["Stream:SideDeliveryTimeout"] = "30s",
        ["Stream:ReachabilityProbe"] = "2s",
        ["Stream:PositionRetry"] = "3s",
        ["Stream:StallCheck"] = "1s",
        ["Stream:StopTimeout"] = "20s",
        ["Stream:IdleCheck"] = "250ms",
        ["Stream:StatusInterval"] = "1s",
        ["Stream:ClientStopWait"] = "25s",
        ["Stream:AnswerTimeout"] = "60s",
        ["Stream:ResubmitDelay"] = "1s",
        ["Stream:ResubmitInterval"] = "5s",
        ["Kafka:Bootstrap"] = "(bootstrap.servers of the properties)",
        ["Kafka:PropertiesFile"] = "(none)",
        ["Kafka:Properties"] = "(none)",
        ["Kafka:MetadataTimeout"] = "10s",
        ["Kafka:WatermarkTimeout"] = "5s",
        ["Kafka:ProbeTimeout"] = "1s",
        ["Kafka:FlushTimeout"] = "10s",
        ["Kafka:ModelFlushTimeout"] = "5s",
        ["Kafka:CheckpointTimeout"] = "10s",
        ["Kafka:CheckpointReadTimeout"] = "30s",
        ["Http:Endpoint"] = "127.0.0.1:9464",
        ["Http:WorkerEndpoint"] = "127.0.0.1:0",
        ["Solver:Solver"] = "lbfgs",
        ["Solver:Param"] = "tril",
        ["Solver:MaxIter"] = "5000",
        ["Solver:Tolerance"] = "1e-10",
        ["Solver:RelTolerance"] = "0",
        ["Solver:LearningRate"] = "(none: the Fisher-scoring step)",
        ["Solver:Ridge"] = "0",
        ["Solver:Shrinkage"] = "none",
    };

    private static ParseResult Parse(string args) => CliApp.Build().Parse(args.Split(' ', StringSplitOptions.RemoveEmptyEntries));

    private static AppSettings Load(string args, IReadOnlyDictionary<string, string?>? environment = null) =>
        AppSettings.Load(Parse(args), environment: environment ?? NoEnvironment, shippedFile: Deployment(Path.Combine("config", "appsettings.json")));

    private static UsageException Refused(string args, IReadOnlyDictionary<string, string?>? environment = null) =>
        Assert.Throws<UsageException>(() => Load(args, environment));

    private string Json(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void The_effective_defaults_are_the_documented_ones()
    {
        var defaults = AppSettings.Defaults().Describe();
        Assert.Equal(Documented.Keys.Order(), defaults.Keys.Order());
        foreach (var (key, value) in Documented) Assert.True(value == defaults[key], $"{key}: documented {value}, effective {defaults[key]}");

        // The typed views the program runs on: the same numbers.
        var d = AppSettings.Defaults();
        Assert.Equal(StreamTunables.Default, d.Tunables());
        Assert.Equal(MvnStream.Kafka.Streaming.StreamClientOptions.Default, d.StreamClient());
        Assert.Equal(MvnStream.Cluster.Hosting.NodeSettings.Default, d.NodeSettings());
        Assert.Null(d.HttpGiven(true));
        Assert.Null(d.HttpGiven(false));
        Assert.Empty(d.KafkaProperties());
    }

    [Fact]
    public void The_shipped_appsettings_json_holds_the_defaults_and_loads_to_them()
    {
        var shipped = Load("fit data.csv").Describe();
        Assert.Equal(AppSettings.Defaults().Describe(), shipped);
        // Every key that has a value by default is written in the file (a reader sees every default there).
        var text = File.ReadAllText(Deployment(Path.Combine("config", "appsettings.json")));
        foreach (var (key, property) in AppSettings.Keys())
            if (property.GetValue(Activator.CreateInstance(property.DeclaringType!)) is not null and not System.Collections.IDictionary)
                Assert.True(text.Contains($"\"{property.Name}\":", StringComparison.Ordinal), $"config/appsettings.json does not write {key}");
    }

    [Fact]
    public void The_example_settings_files_load()
    {
        foreach (var name in new[] { "appsettings.coordinator.json", "appsettings.worker.json" })
        {
            var s = Load($"node --settings {Deployment(Path.Combine("config", name))}");
            Assert.NotNull(s.Node.Roles);
        }
    }

    /// <summary>One key per options type, each layer overriding the one below: the --settings file, the environment, the flag.</summary>
    [Theory]
    [InlineData("node", "Node", "JoinTimeout", "11s", "12s", "--join-timeout", "13s")]
    [InlineData("fit data.csv", "Coordinator", "WorkerWait", "11s", "12s", null, null)]
    [InlineData("stream -t rows", "Stream", "BatchRows", "111", "222", "--batch-rows", "333")]
    [InlineData("stream -t rows", "Kafka", "Bootstrap", "a:1", "b:2", "--bootstrap", "c:3")]
    [InlineData("stream -t rows", "Http", "Endpoint", "127.0.0.1:1001", "127.0.0.1:1002", "--http", "127.0.0.1:1003")]
    [InlineData("fit data.csv", "Solver", "MaxIter", "11", "12", "--max-iter", "13")]
    public void A_file_is_overridden_by_the_environment_and_both_by_a_flag(string command, string section, string key, string inFile, string inEnvironment,
        string? flag, string? onCommandLine)
    {
        bool number = int.TryParse(inFile, out _);
        var file = Json($"{section}.json", $"{{ \"{section}\": {{ \"{key}\": {(number ? inFile : $"\"{inFile}\"")} }} }}");
        string Value(AppSettings s) => s.Describe()[$"{section}:{key}"];
        var environment = new Dictionary<string, string?> { [$"MVNSTREAM__{section}__{key}"] = inEnvironment };

        Assert.Equal(Documented[$"{section}:{key}"], Value(Load(command)));
        Assert.Equal(inFile, Value(Load($"{command} --settings {file}")));
        Assert.Equal(inEnvironment, Value(Load($"{command} --settings {file}", environment)));
        if (flag is not null) Assert.Equal(onCommandLine, Value(Load($"{command} --settings {file} {flag} {onCommandLine}", environment)));
    }

    [Fact]
    public void A_flag_that_is_not_given_does_not_override_with_its_default()
    {
        // --batch-rows has a default (4096) in the help; not given, the environment's value stands.
        var s = Load("stream -t rows", new Dictionary<string, string?> { ["MVNSTREAM__Stream__BatchRows"] = "77", ["MVNSTREAM__Solver__Solver"] = "gd" });
        Assert.Equal(77, s.Stream.BatchRows);
        Assert.Equal("gd", s.Solver.Solver);
    }

    [Theory]
    [InlineData("MVNSTREAM__Stream__BatchRow", "Stream:BatchRow", "section Stream has BatchRows")]
    [InlineData("MVNSTREAM__Streams__BatchRows", "Streams:BatchRows", "the sections are Node, Coordinator, Stream, Kafka, Http, Solver")]
    [InlineData("MVNSTREAM__Node__Hocon__Path", "Node:Hocon:Path", "section Node has")]
    public void An_unknown_key_in_the_environment_is_refused_naming_the_key_and_the_variable(string variable, string key, string hint)
    {
        var e = Refused("stream -t rows", new Dictionary<string, string?> { [variable] = "1" });
        Assert.Contains($"unknown setting '{key}'", e.Message, StringComparison.Ordinal);
        Assert.Contains($"environment variable {variable}", e.Message, StringComparison.Ordinal);
        Assert.Contains(hint, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_key_in_a_settings_file_is_refused_naming_the_key_and_the_file()
    {
        var file = Json("typo.json", "{ \"Solver\": { \"MaxIterations\": 10 } }");
        var e = Refused($"fit data.csv --settings {file}");
        Assert.Contains("unknown setting 'Solver:MaxIterations'", e.Message, StringComparison.Ordinal);
        Assert.Contains($"file {file}", e.Message, StringComparison.Ordinal);

        var section = Json("section.json", "{ \"Logging\": { \"LogLevel\": { \"Default\": \"Information\" } } }");
        Assert.Contains("unknown setting 'Logging:LogLevel:Default'", Refused($"fit data.csv --settings {section}").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Stream__BatchRows", "-5", "must be at least 1")]
    [InlineData("Stream__BatchRows", "many", "expected a whole number")]
    [InlineData("Stream__Linger", "soon", "expected a duration such as 30s")]
    [InlineData("Stream__AckTimeout", "0s", "must be a positive duration")]
    [InlineData("Stream__StopTimeout", "30s", "must be below Stream:ClientStopWait (25s)")]
    [InlineData("Stream__ClientStopWait", "40s", "must be at most 29 s")]
    [InlineData("Kafka__MetadataTimeout", "0s", "must be a positive duration")]
    [InlineData("Stream__MaxInFlight", "0", "must be at least 1")]
    [InlineData("Node__ReadChunk", "huge", "expected a size such as 32MiB")]
    [InlineData("Node__ReadChunk", "12", "must be at least 4096 bytes")]
    [InlineData("Node__Port", "70000", "must be at most 65535")]
    [InlineData("Node__ClientLogLevel", "LOUD", "expected one of OFF, ERROR, WARNING, INFO, DEBUG")]
    [InlineData("Coordinator__WorkerWait", "-1s", "expected a duration")]
    [InlineData("Solver__Solver", "newton", "expected one of closed-form, gd, adam, lbfgs")]
    [InlineData("Solver__Tolerance", "-1e-3", "must be at least 0")]
    [InlineData("Solver__LearningRate", "0", "must be greater than 0")]
    [InlineData("Solver__Shrinkage", "2", "")]
    [InlineData("Http__Endpoint", "somewhere", "expected ADDRESS:PORT")]
    public void An_invalid_value_is_refused_naming_the_key_and_why(string variable, string value, string why)
    {
        var e = Refused("stream -t rows", new Dictionary<string, string?> { ["MVNSTREAM__" + variable] = value });
        string key = variable.Replace("__", ":", StringComparison.Ordinal);
        Assert.Contains($"setting {key} = '{value}'", e.Message, StringComparison.Ordinal);
        Assert.Contains($"environment variable MVNSTREAM__{variable}", e.Message, StringComparison.Ordinal);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_flag_value_names_the_flag_as_its_source()
    {
        var e = Refused("stream -t rows --batch-rows 0");
        Assert.Contains("--batch-rows '0': must be at least 1 (setting Stream:BatchRows)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_or_missing_settings_file_is_a_usage_error()
    {
        var broken = Json("broken.json", "{ \"Stream\": { \"Linger\": ");
        Assert.Contains(broken, Refused($"stream -t rows --settings {broken}").Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Refused($"stream -t rows --settings {Path.Combine(_dir, "nowhere.json")}").Message, StringComparison.Ordinal);
        var list = Json("list.json", "{ \"Stream\": { \"Linger\": [\"1s\", \"2s\"] } }");
        Assert.Contains("setting 'Stream:Linger:0'", Refused($"stream -t rows --settings {list}").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("MVNSTREAM_HOSTNAME", "MVNSTREAM__Node__Hostname")]
    [InlineData("MVNSTREAM_SEEDS", "MVNSTREAM__Node__Seeds")]
    public void A_variable_of_the_old_names_is_refused_with_its_new_name(string old, string renamed)
    {
        var e = Refused("node", new Dictionary<string, string?> { [old] = "x" });
        Assert.Contains(old, e.Message, StringComparison.Ordinal);
        Assert.Contains(renamed, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kafka_properties_come_from_settings_and_flags_and_secrets_are_never_printed()
    {
        var env = new Dictionary<string, string?>
        {
            ["MVNSTREAM__Kafka__Properties__sasl.password"] = "hunter2-env",
            ["MVNSTREAM__Kafka__Properties__client.id"] = "from-env",
        };
        var s = Load("stream -t rows -X client.id=from-flag -X sasl.username=u", env);
        Assert.Equal(["client.id=from-flag", "sasl.password=hunter2-env", "sasl.username=u"], s.KafkaProperties());
        Assert.DoesNotContain("hunter2", string.Join(" ", s.Describe().Values), StringComparison.Ordinal);

        // An error elsewhere in the same run does not show the secret either.
        var e = Refused("stream -t rows", new Dictionary<string, string?>(env) { ["MVNSTREAM__Stream__Lingr"] = "1s" });
        Assert.DoesNotContain("hunter2", e.Message, StringComparison.Ordinal);
        // librdkafka's own check of an invalid property (after the settings) masks it too.
        var invalid = Assert.Throws<UsageException>(() => CommonOptions.KafkaProperties("127.0.0.1:9092",
            [.. s.KafkaProperties(), "no.such.property=1"], null));
        Assert.Contains("no.such.property", invalid.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", invalid.Message, StringComparison.Ordinal);
    }

    /// <summary>The stream's tunables reach the job the workers receive, and the broker timeout no longer rides in the librdkafka list.</summary>
    [Fact]
    public async Task The_stream_tunables_travel_with_the_job()
    {
        var env = new Dictionary<string, string?>
        {
            ["MVNSTREAM__Stream__MaxInFlight"] = "3",
            ["MVNSTREAM__Stream__StopTimeout"] = "7s",
            ["MVNSTREAM__Stream__IdleCheck"] = "100ms",
            ["MVNSTREAM__Stream__BrokerTimeout"] = "9s",
            ["MVNSTREAM__Stream__BatchRows"] = "512",
            ["MVNSTREAM__Kafka__MetadataTimeout"] = "4s",
            ["MVNSTREAM__Kafka__CheckpointReadTimeout"] = "45s",
            ["MVNSTREAM__Stream__ClientStopWait"] = "12s",
            ["MVNSTREAM__Stream__ResubmitInterval"] = "2s",
            ["MVNSTREAM__Node__LeaveTimeout"] = "40s",
        };
        var s = Load("stream -b 127.0.0.1:9092 -t rows --dim 3", env);
        var args = new StreamCommand.StreamArgs(s.Kafka.Bootstrap, "rows", "csv", 3, null, "model.json", null, 0, 1.0, null, null, null, "none",
            s.Stream.SnapshotInterval, 0.001, 1, null, s.Solver.Solver, s.Solver.Param, s.Stream.StepsPerUpdate, s.Solver.Tolerance, s.Solver.MaxIter,
            s.Solver.LearningRate, s.Solver.Ridge, s.Solver.Shrinkage, s.Stream.BatchRows, s.Stream.Linger, s.Stream.BrokerTimeout, s.KafkaProperties(),
            null, true, false, null, Settings: s);
        var job = await StreamCommand.BuildSettingsAsync(args, new ConsoleProgress(quiet: true), CancellationToken.None);
        Assert.Equal(3, job.Tuning.MaxInFlight);
        Assert.Equal(7, job.Tuning.StopTimeoutSeconds);
        Assert.Equal(0.1, job.Tuning.IdleCheckSeconds, 12);
        Assert.Equal(9, job.Tuning.BrokerTimeoutSeconds);
        Assert.Equal(512, job.BatchRows);
        // The Kafka call timeouts travel with the job too; the client's own timings stay with the client.
        Assert.Equal(4, job.Tuning.MetadataTimeoutSeconds);
        Assert.Equal(45, job.Tuning.CheckpointReadTimeoutSeconds);
        Assert.Equal(TimeSpan.FromSeconds(12), s.StreamClient().StopWait);
        Assert.Equal(TimeSpan.FromSeconds(2), s.StreamClient().ResubmitInterval);
        Assert.Equal(TimeSpan.FromSeconds(40), s.NodeSettings().LeaveTimeout);
        Assert.DoesNotContain(job.KafkaProperties, p => p.StartsWith("mvnstream.broker", StringComparison.Ordinal));
    }

    /// <summary>A flag's help default (System.CommandLine's [default: X]) is the setting's default: the two cannot drift apart.</summary>
    [Fact]
    public void Every_flag_that_sets_a_setting_shows_the_settings_default()
    {
        var byFlag = SettingFlags.ByFlag();
        var defaults = AppSettings.Defaults().Describe();
        int checkedFlags = 0;
        foreach (var command in CliApp.Build().Subcommands)
            foreach (var option in command.Options.Where(o => byFlag.Contains(o.Name) && !o.Hidden))
            {
                var keys = byFlag[option.Name].ToList();
                Assert.Contains(keys[0], option.Description ?? "", StringComparison.Ordinal);
                if (!option.HasDefaultValue) continue;
                object? value = option.GetDefaultValue();
                string shown = value switch
                {
                    double x => x.ToString("R", CultureInfo.InvariantCulture).ToLowerInvariant(),
                    IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                    _ => value?.ToString() ?? "",
                };
                Assert.True(shown == defaults[keys[0]], $"{command.Name} {option.Name}: help default {shown}, setting {keys[0]} default {defaults[keys[0]]}");
                checkedFlags++;
            }
        Assert.True(checkedFlags >= 15, $"only {checkedFlags} flags with defaults checked");
    }

    [Fact]
    public void The_README_lists_every_key_with_its_default_and_variable()
    {
        var rows = File.ReadLines(Deployment("README.md"))
            .Where(l => l.StartsWith("| `", StringComparison.Ordinal))
            .Select(l => l.Split('|', StringSplitOptions.TrimEntries))
            // Setting keys are Section:Key; other tables of the README (commands, benchmark figures) start with a code cell too.
            .Where(c => c.Length >= 5 && c[1].Contains(':', StringComparison.Ordinal))
            .ToDictionary(c => c[1].Trim('`'), c => (Default: c[2].Trim('`'), Variable: c[3].Trim('`'), Meaning: c[4]), StringComparer.Ordinal);
        foreach (var (key, value) in Documented)
        {
            Assert.True(rows.TryGetValue(key, out var row), $"README \"Configuration\" has no row for {key}");
            Assert.Equal(value, row.Default);
            Assert.Equal(key == "Kafka:Properties" ? "MVNSTREAM__Kafka__Properties__KEY" : AppSettings.VariableOf(key), row.Variable);
            Assert.False(string.IsNullOrWhiteSpace(row.Meaning), $"{key} has no meaning in the README");
        }
    }

    /// <summary>
    /// The real process with real environment variables (Microsoft.Extensions.Configuration's environment provider, over the
    /// shipped config/appsettings.json next to mvnstream.dll): a valid variable applies, an unknown one is exit 2 naming it.
    /// </summary>
    [Fact]
    public async Task The_process_reads_MVNSTREAM_variables_and_exits_2_on_an_unknown_one()
    {
        var csv = Json("data.csv", "1,2\n2,1\n3,5\n4,4\n5,7\n");
        var model = Path.Combine(_dir, "model.json");
        var ok = await RunAsync(new() { ["MVNSTREAM__Solver__Solver"] = "gd" }, "fit", csv, "--json", "--quiet", "--out", model);
        Assert.True(ok.Code == 0, $"exit {ok.Code}: {ok.Stderr}");
        Assert.Contains("\"solver\":\"gd\"", ok.Stdout, StringComparison.Ordinal);

        var bad = await RunAsync(new() { ["MVNSTREAM__Solver__Solvr"] = "gd" }, "fit", csv, "--out", model);
        Assert.True(bad.Code == 2, $"exit {bad.Code}: {bad.Stderr}");
        Assert.Contains("unknown setting 'Solver:Solvr' (environment variable MVNSTREAM__Solver__Solvr)", bad.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", bad.Stderr, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(Dictionary<string, string> environment, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(Support.CliProcess.DotnetHost)
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        psi.ArgumentList.Add(Support.CliProcess.DllPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MVNSTREAM_", StringComparison.Ordinal)).ToList()) psi.Environment.Remove(key);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = System.Diagnostics.Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try { await p.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"mvnstream {string.Join(' ', args)} did not finish in 120 s");
        }
        return (p.ExitCode, await stdout, await stderr);
    }
}
