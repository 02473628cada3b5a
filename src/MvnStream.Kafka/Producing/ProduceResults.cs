using MvnStream.Core.Formats;

namespace MvnStream.Kafka.Producing;

/// <summary>What a <see cref="RowProducer"/> does: the topic, the record encoding, the rate and its time limits.</summary>
public sealed record RowProducerOptions
{
    /// <summary>The topic to produce to (created on first produce where the broker allows it).</summary>
    public required string Topic { get; init; }

    /// <summary>The record encoding (docs/ARCHITECTURE.md, "Formats").</summary>
    public RowFormat Format { get; init; } = RowFormat.Csv;

    /// <summary>k, the rows per record: 1 for csv; 1 or more for f64 and json.</summary>
    public int RowsPerRecord { get; init; } = 1;

    /// <summary>Rows per second; 0 = as fast as the broker takes them.</summary>
    public double RowsPerSecond { get; init; }

    /// <summary>How long to wait for the cluster's metadata before failing with <see cref="KafkaUnreachableException"/>.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often progress is reported.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Stop producing new records after the first failed delivery (the summary then says so).</summary>
    public bool StopOnDeliveryError { get; init; } = true;
}

/// <summary>Progress of a run, reported every <see cref="RowProducerOptions.ProgressInterval"/> and at the end.</summary>
/// <param name="Rows">Rows handed to the Kafka client.</param>
/// <param name="Records">Records handed to the Kafka client.</param>
/// <param name="Bytes">Bytes of record values handed to the Kafka client.</param>
/// <param name="Delivered">Records the broker acknowledged.</param>
/// <param name="Failed">Records that could not be delivered.</param>
/// <param name="Elapsed">Time since the first record.</param>
public sealed record ProduceProgress(long Rows, long Records, long Bytes, long Delivered, long Failed, TimeSpan Elapsed)
{
    /// <summary>Rows per second over the whole run so far.</summary>
    public double RowsPerSecond => Elapsed > TimeSpan.Zero ? Rows / Elapsed.TotalSeconds : 0;
}

/// <summary>The outcome of a run.</summary>
public sealed record ProduceSummary
{
    /// <summary>Rows handed to the Kafka client.</summary>
    public long Rows { get; init; }

    /// <summary>Records handed to the Kafka client.</summary>
    public long Records { get; init; }

    /// <summary>Bytes of record values handed to the Kafka client.</summary>
    public long Bytes { get; init; }

    /// <summary>Records the broker acknowledged.</summary>
    public long Delivered { get; init; }

    /// <summary>Records that could not be delivered (delivery errors, or still unacknowledged after the final flush).</summary>
    public long Failed { get; init; }

    /// <summary>From the first record to the end of the final flush.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Stopped early by cancellation (Ctrl-C); what was handed over was flushed first.</summary>
    public bool Cancelled { get; init; }

    /// <summary>Stopped early because a delivery failed (<see cref="RowProducerOptions.StopOnDeliveryError"/>).</summary>
    public bool StoppedOnError { get; init; }

    /// <summary>Partitions records were spread over round-robin; 0 when the topic's partitions were not known
    /// and librdkafka's default partitioner chose (null keys).</summary>
    public int Partitions { get; init; }

    /// <summary>Delivered bytes per partition (index = partition).</summary>
    public IReadOnlyList<long> DeliveredBytesPerPartition { get; init; } = [];

    /// <summary>Distinct delivery error reasons with their counts ("Local: Message timed out (x12)"), at most 10.</summary>
    public IReadOnlyList<string> Errors { get; init; } = [];

    /// <summary>Every record handed over was delivered (and the source was not cut short by an error).</summary>
    public bool AllDelivered => Failed == 0 && Delivered == Records && !StoppedOnError;

    /// <summary>Rows per second over the run.</summary>
    public double RowsPerSecond => Elapsed > TimeSpan.Zero ? Rows / Elapsed.TotalSeconds : 0;

    /// <summary>The largest number of bytes delivered to one partition (compare with the development broker's 5 MB window).</summary>
    public long MaxPartitionBytes => DeliveredBytesPerPartition.Count == 0 ? 0 : DeliveredBytesPerPartition.Max();
}

/// <summary>The cluster's metadata could not be fetched in time: the broker is unreachable, or TLS/SASL settings are wrong.</summary>
public sealed class KafkaUnreachableException(string message, Exception? inner = null) : Exception(message, inner);
