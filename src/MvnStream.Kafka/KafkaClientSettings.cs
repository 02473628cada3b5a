using System.Globalization;
using System.Text;
using Confluent.Kafka;
using MvnStream.Kafka.Logging;

namespace MvnStream.Kafka;

/// <summary>
/// How mvnstream reaches a Kafka cluster: a bootstrap list plus pass-through librdkafka properties
/// (<c>security.protocol</c>, <c>ssl.ca.location</c>, <c>sasl.mechanism</c>, <c>sasl.username</c>,
/// <c>sasl.password</c>, ...), so TLS and SASL are configured exactly as librdkafka documents them.
/// Builds the Confluent.Kafka producer, consumer and admin configurations from them.
/// </summary>
/// <remarks>
/// <para>Precedence, lowest first: mvnstream's defaults for each client (see <see cref="ProducerConfig"/>),
/// then the properties file, then the properties given one by one (later ones win), then the explicit
/// bootstrap. When no explicit bootstrap is given, <c>bootstrap.servers</c> from the properties is used.</para>
/// <para>Secrets: <see cref="Describe"/> and every error message of this class show the value of a property
/// only when <see cref="IsSecret"/> says it is not secret; secret values are shown as <c>****</c>.</para>
/// </remarks>
public sealed class KafkaClientSettings
{
    /// <summary>What <see cref="Describe"/> shows instead of a secret value (the same whatever its length).</summary>
    public const string Mask = "****";

    /// <summary>The librdkafka property that holds the bootstrap list.</summary>
    public const string BootstrapProperty = "bootstrap.servers";

    private readonly List<KeyValuePair<string, string>> _properties;

    private KafkaClientSettings(string bootstrap, List<KeyValuePair<string, string>> properties)
    {
        Bootstrap = bootstrap;
        _properties = properties;
        // A secret value is masked in every log line from now on, also where librdkafka quotes it without its key.
        foreach (var (key, value) in properties)
            if (IsSecret(key)) MvnStream.Cluster.Logging.SecretMasker.Register(value);
    }

    /// <summary>The bootstrap list, "host:port[,host:port...]".</summary>
    public string Bootstrap { get; }

    /// <summary>The pass-through librdkafka properties (without <c>bootstrap.servers</c>), in the order they take effect; a key appears once.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Properties => _properties;

    /// <summary>
    /// Settings for <paramref name="bootstrap"/> plus properties from <paramref name="propertiesFile"/> (read
    /// first) and <paramref name="properties"/> (each "key=value", applied after the file so they override it).
    /// </summary>
    /// <param name="bootstrap">"host:port[,host:port...]"; null or empty = take <c>bootstrap.servers</c> from the properties.</param>
    /// <param name="properties">"key=value" strings, e.g. from repeated <c>--kafka-property</c> options.</param>
    /// <param name="propertiesFile">A file of <c>key=value</c> lines; blank lines and lines starting with <c>#</c> or <c>!</c> are ignored.</param>
    /// <exception cref="KafkaSettingsException">A malformed property or file line (with its location), an unreadable
    /// file, or no bootstrap at all.</exception>
    public static KafkaClientSettings Create(string? bootstrap, IEnumerable<string>? properties = null, string? propertiesFile = null)
    {
        var merged = new List<KeyValuePair<string, string>>();
        if (!string.IsNullOrWhiteSpace(propertiesFile))
            foreach (var p in ReadPropertiesFile(propertiesFile)) Set(merged, p);
        if (properties is not null)
        {
            int index = 0;
            foreach (var text in properties)
            {
                index++;
                Set(merged, Parse(text ?? "", $"--kafka-property #{index}", showText: true));
            }
        }

        string? fromProperties = null;
        int bootstrapIndex = merged.FindIndex(p => p.Key == BootstrapProperty);
        if (bootstrapIndex >= 0)
        {
            fromProperties = merged[bootstrapIndex].Value;
            merged.RemoveAt(bootstrapIndex);
        }
        string? chosen = string.IsNullOrWhiteSpace(bootstrap) ? fromProperties : bootstrap;
        if (string.IsNullOrWhiteSpace(chosen))
            throw new KafkaSettingsException("no Kafka bootstrap servers: give --bootstrap HOST:PORT[,HOST:PORT] (or bootstrap.servers in the Kafka properties)");
        chosen = NormalizeBootstrap(chosen);
        return new KafkaClientSettings(chosen, merged);
    }

    /// <summary>
    /// Parses one "key=value" property. The key is trimmed and must not be empty; the value is everything
    /// after the first '=' (trimmed), and may be empty or contain '='.
    /// </summary>
    /// <param name="text">The property text.</param>
    /// <param name="source">Where it came from, for the error message (e.g. "--kafka-property #2", "line 3 of kafka.properties").</param>
    /// <exception cref="KafkaSettingsException">No '=' or an empty key; the message names <paramref name="source"/> and never shows a secret.</exception>
    public static KeyValuePair<string, string> ParseProperty(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(source);
        return Parse(text, source, showText: true);
    }

    private static KeyValuePair<string, string> Parse(string text, string source, bool showText)
    {
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq < 0)
        {
            string hint = text.Contains(':', StringComparison.Ordinal) ? " (':' is not a separator here; write key=value)" : "";
            throw new KafkaSettingsException(showText
                ? $"{source}: expected key=value, got {Quote(text)}{hint}"
                : $"{source}: expected key=value{hint}");
        }
        string key = text[..eq].Trim();
        string value = text[(eq + 1)..].Trim();
        if (key.Length == 0)
            throw new KafkaSettingsException($"{source}: expected key=value, but the key before '=' is empty");
        if (key.Any(char.IsWhiteSpace))
            throw new KafkaSettingsException($"{source}: expected key=value, but the key {Quote(key)} contains white space");
        return new KeyValuePair<string, string>(key, value);
    }

    /// <summary>
    /// Reads a properties file: one <c>key=value</c> per line; blank lines and lines whose first non-blank
    /// character is <c>#</c> or <c>!</c> are comments. Keys and values are trimmed.
    /// </summary>
    /// <exception cref="KafkaSettingsException">The file cannot be read, or a line is not key=value
    /// ("line 3 of kafka.properties: expected key=value ...").</exception>
    public static IReadOnlyList<KeyValuePair<string, string>> ReadPropertiesFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new KafkaSettingsException($"cannot read the Kafka properties file '{path}': {e.Message}", e);
        }
        string name = Path.GetFileName(path);
        var result = new List<KeyValuePair<string, string>>();
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (i == 0 && line.Length > 0 && line[0] == '\uFEFF') line = line[1..].Trim();
            if (line.Length == 0 || line[0] == '#' || line[0] == '!') continue;
            // The line itself is not quoted: a malformed line of a credentials file may well be a secret.
            result.Add(Parse(line, $"line {(i + 1).ToString(CultureInfo.InvariantCulture)} of {name}", showText: false));
        }
        return result;
    }

    /// <summary>
    /// Whether the value of <paramref name="key"/> is masked: keys containing <c>password</c>, <c>secret</c>,
    /// <c>jaas</c>, <c>token</c>, <c>credential</c> or <c>oauthbearer.config</c>, and keys containing <c>key</c>
    /// (PEM keys such as <c>ssl.key.pem</c>, <c>ssl_key</c>, keytabs) except file locations ending in
    /// <c>.location</c> such as <c>ssl.key.location</c>, which are paths and are shown (case-insensitive).
    /// </summary>
    public static bool IsSecret(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        string k = key.ToLowerInvariant();
        if (k.Contains("password", StringComparison.Ordinal) || k.Contains("secret", StringComparison.Ordinal)
            || k.Contains("jaas", StringComparison.Ordinal) || k.Contains("token", StringComparison.Ordinal)
            || k.Contains("credential", StringComparison.Ordinal) || k.Contains("oauthbearer.config", StringComparison.Ordinal))
            return true;
        return k.Contains("key", StringComparison.Ordinal) && !k.EndsWith(".location", StringComparison.Ordinal);
    }

    /// <summary>
    /// One line for logs: <c>bootstrap=B key=value ...</c> with secret values (<see cref="IsSecret"/>) shown as
    /// <see cref="Mask"/>. Safe to print.
    /// </summary>
    public string Describe()
    {
        var sb = new StringBuilder("bootstrap=").Append(Bootstrap);
        foreach (var (key, value) in _properties)
            sb.Append(' ').Append(key).Append('=').Append(IsSecret(key) ? Mask : value);
        return sb.ToString();
    }

    /// <inheritdoc cref="Describe"/>
    public override string ToString() => Describe();

    /// <summary>
    /// A producer configuration: mvnstream's producer defaults (bounded delivery and connection timeouts,
    /// a little batching), then the pass-through properties, then the bootstrap.
    /// </summary>
    /// <param name="defaults">Extra defaults applied before the pass-through properties (so the user can override them).</param>
    public ProducerConfig ProducerConfig(IEnumerable<KeyValuePair<string, string>>? defaults = null)
    {
        var d = new Dictionary<string, string>
        {
            // Bounded failure on an unreachable or misconfigured cluster, instead of librdkafka's 5 minutes.
            ["message.timeout.ms"] = "30000",
            ["socket.connection.setup.timeout.ms"] = "10000",
            ["linger.ms"] = "5",
        };
        return new ProducerConfig(Build(d, defaults));
    }

    /// <summary>
    /// A consumer configuration for <paramref name="groupId"/>: mvnstream's consumer defaults (earliest offset
    /// for a new group, a 10 s metadata refresh so topics created after subscribing are seen quickly, bounded
    /// connection setup), then the pass-through properties, then the bootstrap.
    /// </summary>
    public ConsumerConfig ConsumerConfig(string groupId, IEnumerable<KeyValuePair<string, string>>? defaults = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(groupId);
        var d = new Dictionary<string, string>
        {
            ["group.id"] = groupId,
            ["auto.offset.reset"] = "earliest",
            ["topic.metadata.refresh.interval.ms"] = "10000",
            ["socket.connection.setup.timeout.ms"] = "10000",
        };
        return new ConsumerConfig(Build(d, defaults));
    }

    /// <summary>An admin client configuration: bounded connection setup, then the pass-through properties, then the bootstrap.</summary>
    public AdminClientConfig AdminClientConfig(IEnumerable<KeyValuePair<string, string>>? defaults = null)
    {
        var d = new Dictionary<string, string> { ["socket.connection.setup.timeout.ms"] = "10000" };
        return new AdminClientConfig(Build(d, defaults));
    }

    /// <summary>
    /// Checks every pass-through property locally with librdkafka itself, before anything is started: builds a producer
    /// and a consumer client from them and disposes them at once (librdkafka connects lazily, so nothing is sent).
    /// Keys starting with <c>mvnstream.</c> are mvnstream's own and are not checked here.
    /// </summary>
    /// <exception cref="KafkaSettingsException">An unknown property, an invalid value or an invalid combination, in
    /// librdkafka's words (which name the property); secret values are shown as <see cref="Mask"/>.</exception>
    public void Validate()
    {
        static Dictionary<string, string> Librdkafka(IEnumerable<KeyValuePair<string, string>> config) =>
            config.Where(kv => !kv.Key.StartsWith("mvnstream.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
        var producer = new ProducerConfig(Librdkafka(ProducerConfig()));
        var consumer = new ConsumerConfig(Librdkafka(ConsumerConfig("mvnstream-settings-check")));
        try
        {
            // Throw-away clients, built and disposed at once: their log (a producer starts connecting at once) is discarded;
            // the real clients built afterwards log through the logging, configuration warnings included.
            using (new ProducerBuilder<Null, Null>(producer).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build()) { }
            using (new ConsumerBuilder<Null, Null>(consumer).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build()) { }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or KafkaException)
        {
            string message = e.Message;
            foreach (var (k, v) in _properties)
                if (IsSecret(k) && v.Length > 0) message = message.Replace(v, Mask, StringComparison.Ordinal);
            throw new KafkaSettingsException($"invalid Kafka client setting: {message}", e);
        }
    }

    /// <summary>The value of a pass-through property, or null.</summary>
    public string? Get(string key)
    {
        foreach (var (k, v) in _properties)
            if (k == key) return v;
        return null;
    }

    private Dictionary<string, string> Build(Dictionary<string, string> own, IEnumerable<KeyValuePair<string, string>>? defaults)
    {
        if (defaults is not null)
            foreach (var (k, v) in defaults) own[k] = v;
        foreach (var (k, v) in _properties) own[k] = v;
        own[BootstrapProperty] = Bootstrap;
        return own;
    }

    private static void Set(List<KeyValuePair<string, string>> list, KeyValuePair<string, string> p)
    {
        int i = list.FindIndex(q => q.Key == p.Key);
        if (i >= 0) list.RemoveAt(i);
        list.Add(p);
    }

    private static string NormalizeBootstrap(string bootstrap)
    {
        var parts = bootstrap.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        foreach (var p in parts)
        {
            int colon = p.LastIndexOf(':');
            if (colon <= 0 || colon == p.Length - 1
                || !int.TryParse(p.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is <= 0 or > 65535)
                throw new KafkaSettingsException($"bootstrap server '{p}': expected HOST:PORT (port 1-65535), e.g. 127.0.0.1:9092");
        }
        if (parts.Length == 0)
            throw new KafkaSettingsException("no Kafka bootstrap servers: give --bootstrap HOST:PORT[,HOST:PORT]");
        return string.Join(',', parts);
    }

    /// <summary>Quotes a malformed property for an error message, unless it might hold a secret.</summary>
    private static string Quote(string text)
    {
        string t = text.Trim();
        if (t.Length == 0) return "an empty string";
        if (IsSecret(t) || t.Length > 200) return "text that is not shown (it may hold a secret)";
        return "'" + t + "'";
    }
}

/// <summary>Invalid Kafka client settings (a malformed property, an unreadable properties file, no bootstrap).</summary>
public sealed class KafkaSettingsException : Exception
{
    public KafkaSettingsException(string message) : base(message) { }
    public KafkaSettingsException(string message, Exception inner) : base(message, inner) { }
}
