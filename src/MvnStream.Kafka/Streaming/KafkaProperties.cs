using System.Globalization;
using Confluent.Kafka;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// Applies pass-through librdkafka settings ("key=value": TLS, SASL, timeouts) to a client config. Keys starting with
/// "mvnstream." are mvnstream's own stream settings carried in the same list (see <see cref="BrokerTimeoutKey"/>) and
/// are not given to librdkafka.
/// </summary>
public static class KafkaProperties
{
    /// <summary>How long a stream consumer goes on while no Kafka broker is reachable before it stops with an error (ms).</summary>
    public const string BrokerTimeoutKey = "mvnstream.broker.timeout.ms";

    public static readonly TimeSpan DefaultBrokerTimeout = TimeSpan.FromSeconds(60);

    public static void Apply(ClientConfig config, IEnumerable<string> properties)
    {
        foreach (var kv in Parse(properties))
            if (!kv.Key.StartsWith("mvnstream.", StringComparison.Ordinal)) config.Set(kv.Key, kv.Value);
    }

    /// <summary>The <see cref="BrokerTimeoutKey"/> setting of the list, else <see cref="DefaultBrokerTimeout"/>.</summary>
    public static TimeSpan BrokerTimeout(IEnumerable<string> properties)
    {
        var value = Parse(properties).LastOrDefault(kv => kv.Key == BrokerTimeoutKey).Value;
        if (value is null) return DefaultBrokerTimeout;
        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long ms) || ms <= 0)
            throw new ArgumentException($"{BrokerTimeoutKey}={value}: expected a positive number of milliseconds");
        return TimeSpan.FromMilliseconds(ms);
    }

    private static IEnumerable<KeyValuePair<string, string>> Parse(IEnumerable<string> properties)
    {
        int i = 0;
        foreach (var p in properties)
        {
            KeyValuePair<string, string> kv;
            try { kv = KafkaClientSettings.ParseProperty(p, $"Kafka property #{++i}"); }
            catch (KafkaSettingsException e) { throw new ArgumentException(e.Message, e); }
            yield return kv;
        }
    }
}
