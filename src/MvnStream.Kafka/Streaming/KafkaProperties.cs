using Confluent.Kafka;

namespace MvnStream.Kafka.Streaming;

/// <summary>Applies pass-through librdkafka settings ("key=value": TLS, SASL, timeouts) to a client config.</summary>
internal static class KafkaProperties
{
    public static void Apply(ClientConfig config, IEnumerable<string> properties)
    {
        foreach (var p in properties)
        {
            int eq = p.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new ArgumentException($"Kafka property '{p}': expected key=value");
            config.Set(p[..eq].Trim(), p[(eq + 1)..].Trim());
        }
    }
}
