using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using MvnStream.Kafka;
using MvnStream.Kafka.Streaming;

namespace MvnStream.Cli.Configuration;

/// <summary>
/// The typed settings of one command run (README "Configuration"), bound with Microsoft.Extensions.Configuration from, in
/// increasing precedence: config/appsettings.json next to the executable (the shipped defaults), the file given with
/// --settings, environment variables MVNSTREAM__Section__Key, and the flags the user actually passed. Every key must be
/// known (an unknown one is a usage error naming the key and where it came from), every value is checked
/// (<see cref="SettingsValidator{T}"/>, through Microsoft.Extensions.Options); secret values are never printed.
/// </summary>
internal sealed class AppSettings
{
    /// <summary>The prefix of the environment variables (MVNSTREAM__Stream__BatchRows is Stream:BatchRows).</summary>
    public const string EnvironmentPrefix = "MVNSTREAM__";

    /// <summary>The sections and their options types, in the order of the reference.</summary>
    public static IReadOnlyList<(string Section, Type Type)> Sections { get; } =
    [
        (NodeOptions.Section, typeof(NodeOptions)),
        (CoordinatorOptions.Section, typeof(CoordinatorOptions)),
        (StreamOptions.Section, typeof(StreamOptions)),
        (KafkaOptions.Section, typeof(KafkaOptions)),
        (HttpOptions.Section, typeof(HttpOptions)),
        (SolverOptions.Section, typeof(SolverOptions)),
    ];

    /// <summary>Environment variables of the HOCON layer that became settings: set, they are refused with their new name.</summary>
    private static readonly Dictionary<string, string> RenamedVariables = new(StringComparer.Ordinal)
    {
        ["MVNSTREAM_HOSTNAME"] = "Node:Hostname",
        ["MVNSTREAM_PUBLIC_HOSTNAME"] = "Node:PublicHostname",
        ["MVNSTREAM_PORT"] = "Node:Port",
        ["MVNSTREAM_SEEDS"] = "Node:Seeds",
        ["MVNSTREAM_ROLES"] = "Node:Roles",
    };

    public required NodeOptions Node { get; init; }
    public required CoordinatorOptions Coordinator { get; init; }
    public required StreamOptions Stream { get; init; }
    public required KafkaOptions Kafka { get; init; }
    public required HttpOptions Http { get; init; }
    public required SolverOptions Solver { get; init; }

    /// <summary>Keys set by a layer above the shipped defaults (a settings file, a variable or a flag).</summary>
    public required IReadOnlySet<string> Overridden { get; init; }

    /// <summary>--settings FILE: a JSON file of settings over the shipped config/appsettings.json (every command).</summary>
    public static Option<string?> SettingsOption { get; } = new("--settings")
    {
        Description = "JSON file of settings (sections Node, Coordinator, Stream, Kafka, Http, Solver; see config/appsettings.json and README \"Configuration\"), over the shipped defaults and below MVNSTREAM__Section__Key environment variables and flags.",
        HelpName = "FILE",
        Recursive = true,
    };

    /// <summary>The shipped defaults file, next to the executable (config/appsettings.json of the repository).</summary>
    public static string ShippedFile => Path.Combine(AppContext.BaseDirectory, "config", "appsettings.json");

    /// <summary>Every key of the reference: Section:Property (Kafka:Properties stands for its keys).</summary>
    public static IEnumerable<(string Key, PropertyInfo Property)> Keys() =>
        Sections.SelectMany(s => SettingProperties(s.Type).Select(p => ($"{s.Section}:{p.Name}", p)));

    internal static IEnumerable<PropertyInfo> SettingProperties(Type t) =>
        t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.GetCustomAttribute<SettingAttribute>() is not null);

    /// <summary>The environment variable of <paramref name="key"/>.</summary>
    public static string VariableOf(string key) => EnvironmentPrefix + key.Replace(":", "__", StringComparison.Ordinal);

    /// <summary>The built-in defaults (no file, variable or flag).</summary>
    public static AppSettings Defaults() => Load(null, environment: new Dictionary<string, string?>(), shippedFile: "");

    /// <summary>Loads, checks and binds the settings of a run.</summary>
    /// <param name="parse">The command line: the flags given (not their defaults) and --settings; null for none.</param>
    /// <param name="flags">Further flag values by key (a deprecated alias), with the flag's name for messages.</param>
    /// <param name="environment">Variables instead of the process's (tests).</param>
    /// <param name="shippedFile">The shipped defaults file instead of <see cref="ShippedFile"/>; "" for none (tests).</param>
    /// <exception cref="UsageException">An unreadable or malformed file, an unknown key, a value that does not parse or is out of range.</exception>
    public static AppSettings Load(ParseResult? parse, IReadOnlyDictionary<string, (string Value, string Flag)>? flags = null,
        IReadOnlyDictionary<string, string?>? environment = null, string? shippedFile = null)
    {
        var env = environment ?? System.Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal);
        foreach (var (old, key) in RenamedVariables)
            if (env.TryGetValue(old, out var v) && !string.IsNullOrEmpty(v))
                throw new UsageException($"environment variable {old} is no longer read: it is the setting {key} now, environment variable {VariableOf(key)}");

        var layers = new List<Func<string, string>>();
        var builder = new ConfigurationBuilder();
        string shipped = shippedFile ?? ShippedFile;
        if (shipped.Length > 0)
        {
            builder.AddJsonFile(Path.GetFullPath(shipped), optional: true, reloadOnChange: false);
            layers.Add(_ => $"file {shipped}");
        }
        string? settingsFile = parse?.GetValue(SettingsOption);
        if (settingsFile is not null)
        {
            if (Directory.Exists(settingsFile)) throw new UsageException($"--settings '{settingsFile}' is a directory, not a file");
            if (!File.Exists(settingsFile)) throw new UsageException($"--settings '{settingsFile}' does not exist");
            builder.AddJsonFile(Path.GetFullPath(settingsFile), optional: false, reloadOnChange: false);
            layers.Add(_ => $"file {settingsFile}");
        }
        if (environment is null) builder.AddEnvironmentVariables(EnvironmentPrefix);
        else
            builder.AddInMemoryCollection(environment.Where(kv => kv.Key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                .Select(kv => new KeyValuePair<string, string?>(kv.Key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), kv.Value)));
        layers.Add(key => $"environment variable {VariableOf(key)}");
        var flagValues = FlagValues(parse, flags);
        builder.AddInMemoryCollection(flagValues.Select(kv => new KeyValuePair<string, string?>(kv.Key, kv.Value.Value)));
        layers.Add(key => flagValues.TryGetValue(key, out var f) ? f.Flag : "a flag");

        IConfigurationRoot root;
        try { root = builder.Build(); }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"settings: {Innermost(e)}");
        }
        var providers = root.Providers.ToList();
        string SourceOf(string key)
        {
            for (int i = providers.Count - 1; i >= 0; i--)
                if (providers[i].TryGet(key, out _)) return layers[i](key);
            return "the defaults";
        }

        CheckKeys(providers, layers);
        CheckTypes(root, SourceOf);

        var services = new ServiceCollection();
        Register<NodeOptions>(services, root, NodeOptions.Section, SourceOf);
        Register<CoordinatorOptions>(services, root, CoordinatorOptions.Section, SourceOf);
        Register<StreamOptions>(services, root, StreamOptions.Section, SourceOf);
        Register<KafkaOptions>(services, root, KafkaOptions.Section, SourceOf);
        Register<HttpOptions>(services, root, HttpOptions.Section, SourceOf);
        Register<SolverOptions>(services, root, SolverOptions.Section, SourceOf);
        using var provider = services.BuildServiceProvider();
        try
        {
            var overridden = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (int i = shipped.Length > 0 ? 1 : 0; i < providers.Count; i++)
                foreach (var key in Leaves(providers[i], null)) overridden.Add(key);
            return new AppSettings
            {
                Node = provider.GetRequiredService<IOptions<NodeOptions>>().Value,
                Coordinator = provider.GetRequiredService<IOptions<CoordinatorOptions>>().Value,
                Stream = provider.GetRequiredService<IOptions<StreamOptions>>().Value,
                Kafka = provider.GetRequiredService<IOptions<KafkaOptions>>().Value,
                Http = provider.GetRequiredService<IOptions<HttpOptions>>().Value,
                Solver = provider.GetRequiredService<IOptions<SolverOptions>>().Value,
                Overridden = overridden,
            };
        }
        catch (OptionsValidationException e)
        {
            // One flag may set two keys (--http): its error is said once.
            static string Said(string f) => f.StartsWith('-') && f.LastIndexOf(" (setting ", StringComparison.Ordinal) is int i and > 0 ? f[..i] : f;
            throw new UsageException(string.Join("; ", e.Failures.DistinctBy(Said)));
        }
        catch (InvalidOperationException e)
        {
            // The binder's own conversion errors; CheckTypes reports every one it knows in the user's terms first.
            throw new UsageException($"settings: {e.Message}");
        }
    }

    private static void Register<T>(ServiceCollection services, IConfiguration root, string section, Func<string, string> sourceOf) where T : class
    {
        services.AddOptions<T>().Bind(root.GetSection(section));
        services.AddSingleton<IValidateOptions<T>>(new SettingsValidator<T>(section, sourceOf, key => root[key]));
    }

    /// <summary>The flags given on the command line, by key (a flag not given, whatever its default, sets nothing).</summary>
    private static Dictionary<string, (string Value, string Flag)> FlagValues(ParseResult? parse, IReadOnlyDictionary<string, (string Value, string Flag)>? extra)
    {
        var result = new Dictionary<string, (string Value, string Flag)>(StringComparer.OrdinalIgnoreCase);
        if (parse is not null)
        {
            var byFlag = Keys().SelectMany(k => k.Property.GetCustomAttribute<SettingAttribute>()!.Flags
                    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(f => (Flag: f, k.Key)))
                .ToLookup(x => x.Flag, x => x.Key, StringComparer.Ordinal);
            foreach (var option in parse.CommandResult.Command.Options)
            {
                if (!byFlag.Contains(option.Name) || parse.GetResult(option) is not { Implicit: false } r || r.Tokens.Count == 0) continue;
                foreach (var key in byFlag[option.Name])
                {
                    if (key == "Kafka:Properties")
                    {
                        int i = 0;
                        foreach (var t in r.Tokens)
                        {
                            KeyValuePair<string, string> kv;
                            try { kv = KafkaClientSettings.ParseProperty(t.Value, $"{option.Name} #{++i}"); }
                            catch (KafkaSettingsException e) { throw new UsageException(e.Message); }
                            result[$"Kafka:Properties:{kv.Key}"] = (kv.Value, $"{option.Name} {kv.Key}=...");
                        }
                    }
                    else result[key] = (string.Join(",", r.Tokens.Select(t => t.Value)), option.Name);
                }
            }
        }
        if (extra is not null)
            foreach (var (k, v) in extra) result[k] = v;
        return result;
    }

    /// <summary>Every key of every layer must be a known setting; the first unknown one is reported with its source.</summary>
    private static void CheckKeys(List<IConfigurationProvider> providers, List<Func<string, string>> layers)
    {
        var known = Keys().Select(k => k.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < providers.Count; i++)
        {
            foreach (var key in Leaves(providers[i], null))
            {
                if (known.Contains(key)) continue;
                var parts = key.Split(':');
                if (parts.Length == 3 && string.Equals(parts[0] + ":" + parts[1], "Kafka:Properties", StringComparison.OrdinalIgnoreCase)) continue;
                var section = Sections.FirstOrDefault(s => string.Equals(s.Section, parts[0], StringComparison.OrdinalIgnoreCase));
                string hint = section.Type is null
                    ? $"the sections are {string.Join(", ", Sections.Select(s => s.Section))}"
                    : $"section {section.Section} has {string.Join(", ", SettingProperties(section.Type).Select(p => p.Name))}";
                throw new UsageException($"unknown setting '{key}' ({layers[i](key)}): {hint} (README \"Configuration\")");
            }
        }
    }

    /// <summary>Values the binder cannot convert, reported in the user's terms (never a .NET type name).</summary>
    private static void CheckTypes(IConfiguration root, Func<string, string> sourceOf)
    {
        foreach (var (key, property) in Keys())
        {
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (type == typeof(Dictionary<string, string>)) continue;
            var section = root.GetSection(key);
            if (section.GetChildren().Any())
                throw new UsageException($"setting {key} ({sourceOf(section.GetChildren().First().Path)}): expected a single value, not a list or an object");
            string? value = section.Value;
            if (value is null) continue;
            bool nullable = Nullable.GetUnderlyingType(property.PropertyType) is not null || !property.PropertyType.IsValueType;
            if (value.Trim().Length == 0)
            {
                if (nullable) continue;
                throw new UsageException($"setting {key} ({sourceOf(key)}) is empty");
            }
            string expected = type == typeof(int) ? "a whole number" : type == typeof(double) ? "a number" : "";
            bool ok = type == typeof(int) ? int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
                : type != typeof(double) || double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
            if (!ok) throw new UsageException(SettingsValidator<NodeOptions>.Message(key, value, sourceOf(key), "expected " + expected));
        }
    }

    /// <summary>The keys a provider holds under <paramref name="parent"/>, leaves only.</summary>
    internal static IEnumerable<string> Leaves(IConfigurationProvider provider, string? parent)
    {
        foreach (var child in provider.GetChildKeys([], parent).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            string path = parent is null ? child : parent + ":" + child;
            bool hasChildren = provider.GetChildKeys([], path).Any();
            if (!hasChildren) yield return path;
            else foreach (var leaf in Leaves(provider, path)) yield return leaf;
        }
    }

    private static string Innermost(Exception e)
    {
        var parts = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException) parts.Add(x.Message);
        return string.Join(": ", parts.Distinct());
    }

    /// <summary>
    /// The effective value of every key as the reference (README "Configuration") writes it: an unset one as its documented
    /// fallback, Kafka:Properties as key=value with secret values masked. Safe to print.
    /// </summary>
    public IReadOnlyDictionary<string, string> Describe()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, property) in Keys())
        {
            var section = key[..key.IndexOf(':', StringComparison.Ordinal)];
            object options = section switch
            {
                NodeOptions.Section => Node,
                CoordinatorOptions.Section => Coordinator,
                StreamOptions.Section => Stream,
                KafkaOptions.Section => Kafka,
                HttpOptions.Section => Http,
                _ => Solver,
            };
            object? value = property.GetValue(options);
            result[key] = value switch
            {
                null => property.GetCustomAttribute<SettingAttribute>()!.DefaultText ?? "(none)",
                Dictionary<string, string> { Count: 0 } => property.GetCustomAttribute<SettingAttribute>()!.DefaultText ?? "(none)",
                Dictionary<string, string> d => string.Join(" ", d.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                    .Select(kv => kv.Key + "=" + (KafkaClientSettings.IsSecret(kv.Key) ? KafkaClientSettings.Mask : kv.Value))),
                double x => x.ToString("R", CultureInfo.InvariantCulture).ToLowerInvariant(),
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => value.ToString() ?? "",
            };
        }
        return result;
    }

    // Typed views for the rest of the program (the values were checked at load).

    public static double Seconds(string duration) => Durations.ParseSeconds(duration, "duration");

    public static TimeSpan Time(string duration) => TimeSpan.FromSeconds(Seconds(duration));

    /// <summary>The node settings of the cluster layer.</summary>
    public NodeSettings NodeSettings() =>
        new(Node.WorkerThreads, ByteSizes.Parse(Node.ReadChunk)!.Value, Time(Coordinator.WorkerWait), Time(Coordinator.NoWorkerTimeout), Time(Node.LeaveTimeout),
            string.Equals(Coordinator.DataPlane, "akka", StringComparison.OrdinalIgnoreCase) ? global::MvnStream.Cluster.DataPlane.DataPlaneMode.Akka : global::MvnStream.Cluster.DataPlane.DataPlaneMode.Tcp,
            Node.DataPort);

    /// <summary>The stream tunables sent with a job.</summary>
    public StreamTunables Tunables() => new(Seconds(Stream.BrokerTimeout), Stream.MaxInFlight, Stream.MaxPendingBatches, Seconds(Stream.AckTimeout),
        Seconds(Stream.SideDeliveryTimeout), Seconds(Stream.ReachabilityProbe), Seconds(Stream.PositionRetry), Seconds(Stream.StallCheck),
        Stream.PollMilliseconds, Seconds(Stream.StopTimeout), Seconds(Stream.IdleCheck), Seconds(Stream.StatusInterval),
        Seconds(Kafka.MetadataTimeout), Seconds(Kafka.WatermarkTimeout), Seconds(Kafka.ProbeTimeout), Seconds(Kafka.FlushTimeout),
        Seconds(Kafka.ModelFlushTimeout), Seconds(Kafka.CheckpointTimeout), Seconds(Kafka.CheckpointReadTimeout));

    /// <summary>The stream client's own timings (section Stream; not sent with the job).</summary>
    public StreamClientOptions StreamClient() => new(Time(Stream.AnswerTimeout), Time(Stream.ResubmitDelay), Time(Stream.ResubmitInterval), Time(Stream.ClientStopWait));

    /// <summary>Kafka:Properties as "key=value" (applied after Kafka:PropertiesFile, in key order).</summary>
    public string[] KafkaProperties() => Kafka.Properties.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value).ToArray();

    /// <summary>
    /// The HTTP endpoint the user asked for (a layer above the shipped defaults set it), else null: the default, whose port
    /// may fall back to a free one (<see cref="Http.HttpEndpointSpec"/>).
    /// </summary>
    public string? HttpGiven(bool coordinator)
    {
        string key = coordinator ? "Http:Endpoint" : "Http:WorkerEndpoint";
        string value = coordinator ? Http.Endpoint : Http.WorkerEndpoint;
        string builtIn = coordinator ? MvnStream.Cli.Http.HttpEndpointSpec.CoordinatorDefault : MvnStream.Cli.Http.HttpEndpointSpec.WorkerDefault;
        return Overridden.Contains(key) || value != builtIn ? value : null;
    }

    /// <summary>
    /// Runs a command's action with its settings; a settings error is printed as "mvnstream COMMAND: ..." and ends the
    /// run with exit 2 before anything starts.
    /// </summary>
    public static Task<int> Run(ParseResult parse, string command, Func<AppSettings, Task<int>> action,
        IReadOnlyDictionary<string, (string Value, string Flag)>? flags = null)
    {
        AppSettings settings;
        try { settings = Load(parse, flags); }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"mvnstream {command}: {e.Message}");
            return Task.FromResult(ExitCodes.Usage);
        }
        return action(settings);
    }
}
