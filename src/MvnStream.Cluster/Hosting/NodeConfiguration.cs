using System.Globalization;
using System.Reflection;
using Akka.Configuration;

namespace MvnStream.Cluster.Hosting;

/// <summary>
/// Builds a node's Akka configuration in layers, highest precedence first: the typed settings given here (the command
/// line's Node section: hostname, port, seeds, roles, bound from appsettings.json, MVNSTREAM__Node__* variables and flags
/// by the CLI), <see cref="ExtraHocon"/>, the user's HOCON file of low-level Akka knobs (--config), then the embedded defaults
/// (config/mvnstream.hocon, embedded at build). MvnStream's own settings are typed (<see cref="Settings"/>), never HOCON:
/// a HOCON file with an <c>mvnstream</c> key is refused, naming the key and the setting that replaced it.
/// </summary>
public sealed record NodeConfiguration
{
    /// <summary>Name of every ActorSystem in an MvnStream cluster (addresses are akka.tcp://mvnstream@host:port).</summary>
    public const string SystemName = "mvnstream";

    public const string CoordinatorRole = "coordinator";
    public const string WorkerRole = "worker";
    public const string ClientRole = "client";

    public static IReadOnlyList<string> KnownRoles { get; } = [CoordinatorRole, WorkerRole, ClientRole];

    /// <summary>HOCON file given with --config (null: defaults only).</summary>
    public string? ConfigFile { get; init; }

    public string? Hostname { get; init; }
    public string? PublicHostname { get; init; }
    public int? Port { get; init; }
    public IReadOnlyList<string>? Seeds { get; init; }
    public IReadOnlyList<string>? Roles { get; init; }

    /// <summary>Extra HOCON applied on top of everything (tests, embedded clusters).</summary>
    public string? ExtraHocon { get; init; }

    /// <summary>The embedded defaults.</summary>
    public static Config Reference { get; } = LoadReference();

    /// <summary>MvnStream's own node settings (worker threads and read chunk, the coordinator's waits).</summary>
    public NodeSettings Settings { get; init; } = NodeSettings.Default;

    /// <summary>Environment variables for <c>${?NAME}</c> in the HOCON file, instead of the process's (tests); null: the process environment.</summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }

    /// <summary>The effective configuration; throws <see cref="ConfigurationException"/> with a clear message when invalid.</summary>
    public Config Build(IReadOnlyDictionary<string, string?>? environment = null)
    {
        var env = environment ?? Environment ?? System.Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);

        Config config = Reference;
        if (ConfigFile is not null)
        {
            var file = HoconFile.Load(ConfigFile, name => env.TryGetValue(name, out var v) ? v : null);
            RefuseOwnKeys(file, $"configuration file '{ConfigFile}'");
            config = file.WithFallback(config);
        }
        if (ExtraHocon is not null) RefuseOwnKeys(ConfigurationFactory.ParseString(ExtraHocon), "the extra HOCON");

        var hostname = Hostname;
        var publicHostname = PublicHostname;
        int? port = Port;
        var seeds = Seeds;
        var roles = Roles;

        var lines = new List<string>();
        if (hostname is not null) lines.Add($"akka.remote.dot-netty.tcp.hostname = {Quote(hostname)}");
        if (publicHostname is not null) lines.Add($"akka.remote.dot-netty.tcp.public-hostname = {Quote(publicHostname)}");
        if (port is { } pp)
        {
            if (pp < 0 || pp > 65535) throw new ConfigurationException($"port {pp} is outside 0..65535");
            lines.Add($"akka.remote.dot-netty.tcp.port = {pp}");
        }
        if (seeds is not null)
        {
            foreach (var s in seeds) ValidateSeed(s);
            lines.Add($"akka.cluster.seed-nodes = [{string.Join(", ", seeds.Select(Quote))}]");
        }
        if (roles is not null)
        {
            foreach (var r in roles)
                if (!KnownRoles.Contains(r))
                    throw new ConfigurationException($"unknown role '{r}': expected {string.Join(", ", KnownRoles)}");
            lines.Add($"akka.cluster.roles = [{string.Join(", ", roles.Select(Quote))}]");
        }
        if (ExtraHocon is not null) lines.Add(ExtraHocon);
        Settings.Validate();
        var effective = lines.Count == 0 ? config : ConfigurationFactory.ParseString(string.Join("\n", lines)).WithFallback(config);
        Validate(effective);
        return effective;
    }

    /// <summary>
    /// The settings a node reads while it starts, checked with messages that name the key: Akka's getters throw a bare
    /// FormatException for a value of the wrong type, and an empty hostname would bind every interface.
    /// </summary>
    private static void Validate(Config c)
    {
        const string tcp = "akka.remote.dot-netty.tcp.";
        var port = Read(c, tcp + "port", "a port number", v => v.GetInt());
        if (port < 0 || port > 65535) throw new ConfigurationException($"{tcp}port = {port} is outside 0..65535");
        var hostname = Read(c, tcp + "hostname", "a host name or address", v => v.GetString());
        if (string.IsNullOrWhiteSpace(hostname))
            throw new ConfigurationException($"{tcp}hostname is empty: give the address to bind (127.0.0.1 for this machine only, 0.0.0.0 for every interface)");
        var publicHostname = c.HasPath(tcp + "public-hostname") ? Read(c, tcp + "public-hostname", "a host name", v => v.GetString()) : null;
        if (hostname.Trim() is "0.0.0.0" or "::" or "[::]" && string.IsNullOrWhiteSpace(publicHostname))
            throw new ConfigurationException($"hostname {hostname} binds every interface but is no address other nodes can reach: also give the public hostname (--public-hostname, MVNSTREAM__Node__PublicHostname or {tcp}public-hostname)");
        var frame = Read(c, tcp + "maximum-frame-size", "a size such as 32 MiB", v => v.GetByteSize());
        if (frame is not { } f || f < 32_000) throw new ConfigurationException($"{tcp}maximum-frame-size must be at least 32000 bytes");

        foreach (var seed in Read(c, "akka.cluster.seed-nodes", "a list of addresses", v => v.GetStringList())) ValidateSeed(seed);
        foreach (var r in Read(c, "akka.cluster.roles", "a list of roles", v => v.GetStringList()))
            if (!KnownRoles.Contains(r))
                throw new ConfigurationException($"unknown role '{r}' in akka.cluster.roles: expected {string.Join(", ", KnownRoles)}");

        foreach (var key in new[] { "akka.cluster.failure-detector.heartbeat-interval", "akka.cluster.failure-detector.acceptable-heartbeat-pause",
                     "akka.cluster.split-brain-resolver.stable-after" })
        {
            var t = Read(c, key, "a duration such as 30s", v => v.GetTimeSpan(allowInfinite: false));
            if (t <= TimeSpan.Zero) throw new ConfigurationException($"{key} = {c.GetValue(key)} must be a positive duration such as 30s");
        }
    }

    /// <summary>The settings that were HOCON keys under <c>mvnstream</c> until they became typed (README "Configuration").</summary>
    private static readonly Dictionary<string, string> MovedKeys = new(StringComparer.Ordinal)
    {
        ["mvnstream.worker.threads"] = "Node:WorkerThreads",
        ["mvnstream.worker.read-chunk"] = "Node:ReadChunk",
        ["mvnstream.coordinator.worker-wait"] = "Coordinator:WorkerWait",
        ["mvnstream.coordinator.no-worker-timeout"] = "Coordinator:NoWorkerTimeout",
        ["mvnstream.client.connect-timeout"] = "Node:ConnectTimeout",
        ["mvnstream.client.loglevel"] = "Node:ClientLogLevel",
    };

    /// <summary>A HOCON layer may hold Akka's knobs only: any <c>mvnstream</c> key is an unknown key (exit 2), named with what replaced it.</summary>
    private static void RefuseOwnKeys(Config layer, string where)
    {
        if (layer.IsEmpty || !layer.HasPath("mvnstream")) return;
        var keys = new List<string>();
        Collect(layer.GetValue("mvnstream"), "mvnstream", keys);
        string key = keys.Count > 0 ? keys[0] : "mvnstream";
        string hint = MovedKeys.TryGetValue(key, out var moved)
            ? $"it is the setting {moved} now (appsettings.json, environment variable MVNSTREAM__{moved.Replace(":", "__", StringComparison.Ordinal)} or its command-line flag)"
            : "MvnStream's settings are not HOCON (see README \"Configuration\"); HOCON is for Akka's own knobs (akka.*)";
        throw new ConfigurationException($"{where}: unknown key {key}: {hint}");
    }

    private static void Collect(Akka.Configuration.Hocon.HoconValue? value, string path, List<string> keys)
    {
        if (value is null) return;
        if (value.IsObject())
        {
            foreach (var (k, v) in value.GetObject().Items) Collect(v, path + "." + k, keys);
            return;
        }
        keys.Add(path);
    }

    private static T Read<T>(Config c, string key, string expected, Func<Akka.Configuration.Hocon.HoconValue, T> read)
    {
        var value = c.GetValue(key) ?? throw new ConfigurationException($"{key} is missing");
        try
        {
            return read(value);
        }
        catch (Exception e) when (e is FormatException or OverflowException or InvalidCastException or ConfigurationException or NullReferenceException)
        {
            throw new ConfigurationException($"{key} = {value} is not {expected}");
        }
    }

    /// <summary>Checks a seed address has the form akka.tcp://mvnstream@host:port.</summary>
    public static void ValidateSeed(string seed)
    {
        if (!Akka.Actor.Address.TryParse(seed, out var a) || a.Host is null || a.Port is null)
            throw new ConfigurationException($"seed '{seed}' is not an address like akka.tcp://{SystemName}@host:port");
        if (a.System != SystemName)
            throw new ConfigurationException($"seed '{seed}' names actor system '{a.System}'; MvnStream nodes are '{SystemName}'");
    }

    private static IReadOnlyList<string>? Split(string? list) =>
        list is null ? null : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static Config LoadReference()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("MvnStream.Cluster.reference.hocon")
            ?? throw new InvalidOperationException("the embedded defaults (config/mvnstream.hocon) are missing");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }
}

/// <summary>
/// MvnStream's own settings of a node (README "Configuration", sections Node and Coordinator), checked by the CLI's options
/// validation and again here (<see cref="Validate"/>) for callers that build them in code.
/// </summary>
/// <param name="WorkerThreads">Threads a worker reads a shard with (docs/ARCHITECTURE.md, "Fitting a file"); 0 = every core of the node.</param>
/// <param name="ReadChunkBytes">The threads take a shard in chunks of this size and merge their statistics in file order.</param>
/// <param name="WorkerWait">How long a fit job waits for its first worker before failing.</param>
/// <param name="NoWorkerTimeout">How long a fit job may go on with no live worker before failing.</param>
/// <param name="LeaveTimeout">How long a stopping node waits to leave the cluster gracefully before it terminates anyway.</param>
/// <param name="DataPlane">How rounds' theta and gradients travel (docs/ARCHITECTURE.md, "The data plane").</param>
/// <param name="DataPort">A worker's data-plane TCP port on its node's hostname; 0: any free port; -1: none (its rounds go over Akka).</param>
public sealed record NodeSettings(int WorkerThreads, long ReadChunkBytes, TimeSpan WorkerWait, TimeSpan NoWorkerTimeout, TimeSpan LeaveTimeout,
    global::MvnStream.Cluster.DataPlane.DataPlaneMode DataPlane = global::MvnStream.Cluster.DataPlane.DataPlaneMode.Tcp, int DataPort = 0)
{
    /// <summary>The documented defaults: every core, 32 MiB, 30 s, 30 s, 15 s.</summary>
    public static NodeSettings Default { get; } = new(0, 32L << 20, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(15));

    /// <exception cref="ConfigurationException">A value out of its range, naming the setting.</exception>
    public void Validate()
    {
        if (WorkerThreads < 0) throw new ConfigurationException($"Node:WorkerThreads = {WorkerThreads} must be 0 (every core of the node) or a positive number of threads");
        if (ReadChunkBytes < 4096) throw new ConfigurationException("Node:ReadChunk must be at least 4 KiB");
        if (WorkerWait <= TimeSpan.Zero) throw new ConfigurationException("Coordinator:WorkerWait must be a positive duration");
        if (NoWorkerTimeout <= TimeSpan.Zero) throw new ConfigurationException("Coordinator:NoWorkerTimeout must be a positive duration");
        if (LeaveTimeout <= TimeSpan.Zero) throw new ConfigurationException("Node:LeaveTimeout must be a positive duration");
        if (DataPort is < -1 or > 65535) throw new ConfigurationException($"Node:DataPort = {DataPort} must be -1 (none), 0 (any free port) or a port number");
    }
}
