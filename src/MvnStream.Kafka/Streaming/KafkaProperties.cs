using Confluent.Kafka;

namespace MvnStream.Kafka.Streaming;

/// <summary>Applies pass-through librdkafka settings ("key=value": TLS, SASL, timeouts) to a client config.</summary>
internal static class KafkaProperties
{
    public static void Apply(ClientConfig config, IEnumerable<string> properties)
    {
        int i = 0;
        foreach (var p in properties)
        {
            KeyValuePair<string, string> kv;
            try { kv = KafkaClientSettings.ParseProperty(p, $"Kafka property #{++i}"); }
            catch (KafkaSettingsException e) { throw new ArgumentException(e.Message, e); }
            config.Set(kv.Key, kv.Value);
        }
    }
}
