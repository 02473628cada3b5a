using System.Globalization;
using System.Reflection;
using Akka.Configuration;

namespace MvnStream.Cluster.Hosting;

/// <summary>
/// Builds a node's Akka configuration in layers, highest precedence first: command-line overrides,
/// environment variables (MVNSTREAM_HOSTNAME, MVNSTREAM_PORT, MVNSTREAM_PUBLIC_HOSTNAME, MVNSTREAM_SEEDS
/// comma-separated, MVNSTREAM_ROLES comma-separated), the --config file, then the embedded defaults
/// (config/mvnstream.hocon, embedded at build). Seeds and roles always come from configuration, never from code paths.
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

    /// <summary>Environment variables to read instead of the process's (tests); null: the process environment.</summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }

    /// <summary>The effective configuration; throws <see cref="ConfigurationException"/> with a clear message when invalid.</summary>
    public Config Build(IReadOnlyDictionary<string, string?>? environment = null)
    {
        var env = environment ?? Environment ?? System.Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
        string? Env(string name) => env.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        Config config = Reference;
        if (ConfigFile is not null)
            config = HoconFile.Load(ConfigFile, name => env.TryGetValue(name, out var v) ? v : null).WithFallback(config);

        var hostname = Hostname ?? Env("MVNSTREAM_HOSTNAME");
        var publicHostname = PublicHostname ?? Env("MVNSTREAM_PUBLIC_HOSTNAME");
        int? port = Port;
        if (port is null && Env("MVNSTREAM_PORT") is { } p)
        {
            if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
                throw new ConfigurationException($"MVNSTREAM_PORT '{p}' is not a port number");
            port = parsed;
        }
        var seeds = Seeds ?? Split(Env("MVNSTREAM_SEEDS"));
        var roles = Roles ?? Split(Env("MVNSTREAM_ROLES"));

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
            throw new ConfigurationException($"hostname {hostname} binds every interface but is no address other nodes can reach: also give the public hostname (--public-hostname, MVNSTREAM_PUBLIC_HOSTNAME or {tcp}public-hostname)");
        var frame = Read(c, tcp + "maximum-frame-size", "a size such as 32 MiB", v => v.GetByteSize());
        if (frame is not { } f || f < 32_000) throw new ConfigurationException($"{tcp}maximum-frame-size must be at least 32000 bytes");

        foreach (var seed in Read(c, "akka.cluster.seed-nodes", "a list of addresses", v => v.GetStringList())) ValidateSeed(seed);
        foreach (var r in Read(c, "akka.cluster.roles", "a list of roles", v => v.GetStringList()))
            if (!KnownRoles.Contains(r))
                throw new ConfigurationException($"unknown role '{r}' in akka.cluster.roles: expected {string.Join(", ", KnownRoles)}");

        var threads = Read(c, "mvnstream.worker.threads", "a number of threads", v => v.GetInt());
        if (threads < 0) throw new ConfigurationException($"mvnstream.worker.threads = {threads} must be 0 (every core of the node) or a positive number of threads");
        var chunk = Read(c, "mvnstream.worker.read-chunk", "a size such as 32 MiB", v => v.GetByteSize());
        if (chunk is not { } ch || ch < 4096) throw new ConfigurationException("mvnstream.worker.read-chunk must be at least 4 KiB");

        foreach (var key in new[] { "mvnstream.client.connect-timeout", "mvnstream.coordinator.worker-wait", "mvnstream.coordinator.no-worker-timeout",
                     "akka.cluster.failure-detector.heartbeat-interval", "akka.cluster.failure-detector.acceptable-heartbeat-pause",
                     "akka.cluster.split-brain-resolver.stable-after" })
        {
            var t = Read(c, key, "a duration such as 30s", v => v.GetTimeSpan(allowInfinite: false));
            if (t <= TimeSpan.Zero) throw new ConfigurationException($"{key} = {c.GetValue(key)} must be a positive duration such as 30s");
        }
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
