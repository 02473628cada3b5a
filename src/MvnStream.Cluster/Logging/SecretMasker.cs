using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace MvnStream.Cluster.Logging;

/// <summary>
/// Masks secrets in log text before it is written (docs/ARCHITECTURE.md, "Logging"): the value of every
/// <c>key=value</c>, <c>key = value</c>, <c>key: value</c> or <c>"key": "value"</c> whose key contains
/// password, secret, token, jaas or credential (sasl.password, ssl.key.password, sasl.oauthbearer.client.secret,
/// a HOCON key-store password ...), and every value registered with <see cref="Register"/> wherever it appears.
/// Every line a <see cref="LineLoggerProvider"/> writes goes through <see cref="Mask"/>.
/// </summary>
public static partial class SecretMasker
{
    /// <summary>What a secret value is replaced with (the same whatever its length).</summary>
    public const string Mask = "****";

    /// <summary>Secret values shorter than this are masked only where a secret key names them, never as bare text.</summary>
    public const int MinimumRegisteredLength = 6;

    private static readonly ConcurrentDictionary<string, byte> Registered = new(StringComparer.Ordinal);

    /// <summary>
    /// Registers a secret value (a Kafka password from --kafka-config, a key-store password): from now on it is masked
    /// wherever it appears in a log line, also in text that names no key (an error message quoting it).
    /// </summary>
    public static void Register(string? secret)
    {
        if (!string.IsNullOrEmpty(secret) && secret.Length >= MinimumRegisteredLength && secret != Mask) Registered.TryAdd(secret, 0);
    }

    /// <summary>True when <paramref name="key"/> names a secret setting.</summary>
    public static bool IsSecretKey(string key) => SecretKey().IsMatch(key);

    /// <summary>The text with every secret value replaced by <see cref="Mask"/>.</summary>
    public static string Apply(string text)
    {
        if (string.IsNullOrEmpty(text)) return text;
        foreach (var secret in Registered.Keys)
            if (text.Contains(secret, StringComparison.Ordinal)) text = text.Replace(secret, Mask, StringComparison.Ordinal);
        return SecretAssignment().Replace(text, m => m.Groups["value"].Value == Mask ? m.Value
            : m.Groups["key"].Value + m.Groups["sep"].Value + Mask + m.Groups["close"].Value);
    }

    [GeneratedRegex(@"password|secret|token|jaas|credential", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretKey();

    // key (optionally quoted) + separator (=, :, with spaces, an opening quote) + the value: a quoted string, or up to
    // whitespace, a comma, a semicolon or a closing bracket. "[redacted]" (librdkafka's own masking) is left as it is.
    [GeneratedRegex(
        """(?<key>"?[A-Za-z0-9_.\-]*(?:password|secret|token|jaas|credential)[A-Za-z0-9_.\-]*"?)(?<sep>\s*[=:]\s*)(?:(?<value>"(?:[^"\\]|\\.)*")(?<close>)|(?<value>'[^']*')(?<close>)|(?<value>(?!\[redacted\])[^\s,;}\])]+)(?<close>))""",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretAssignment();
}
