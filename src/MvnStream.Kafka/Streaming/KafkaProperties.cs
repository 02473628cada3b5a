using Confluent.Kafka;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// Applies pass-through librdkafka settings ("key=value": TLS, SASL, timeouts) to a client config. Keys starting with
/// "mvnstream." are mvnstream's own markers carried in the same list (see <see cref="TopicProbe.InferredKey"/>) and are
/// not given to librdkafka. The stream's own settings (the broker timeout among them) travel in
/// <see cref="Cluster.Protocol.StreamTunables"/>, never in this list.
/// </summary>
public static class KafkaProperties
{
    public static void Apply(ClientConfig config, IEnumerable<string> properties)
    {
        foreach (var kv in Parse(properties))
            if (!kv.Key.StartsWith("mvnstream.", StringComparison.Ordinal)) config.Set(kv.Key, kv.Value);
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
