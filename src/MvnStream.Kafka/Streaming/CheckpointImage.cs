using MvnStream.Cluster.Protocol;
using MvnStream.Core.Solvers;
using MvnStream.Core.Statistics;
using MvnStream.Core.Streaming;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// Converts between a stream's <see cref="StreamImage"/> (MvnStream.Core: what the state holds) and the <see cref="StreamCheckpoint"/>
/// the checkpoint stores serialise (docs/ARCHITECTURE.md, "Checkpoints").
/// </summary>
public static class CheckpointImage
{
    /// <summary>The checkpoint of <paramref name="image"/> for job <paramref name="jobKey"/> reading <paramref name="topic"/>.</summary>
    public static StreamCheckpoint ToCheckpoint(StreamImage image, string jobKey, string topic)
    {
        ArgumentNullException.ThrowIfNull(image);
        var parts = image.Partitions;
        return new StreamCheckpoint(jobKey, image.Epoch, image.Version, image.Dimension, image.Theta is null ? null : ThetaData.From(image.Theta),
            image.Adam?.FirstMoment ?? [], image.Adam?.SecondMoment ?? [], image.Adam?.Step ?? 0, image.Adam?.LearningRate ?? 0,
            StatisticsData.From(image.Statistics), topic, parts.Select(p => p.Partition).ToArray(), parts.Select(p => p.Start).ToArray(),
            parts.Select(p => p.Next).ToArray(), parts.Select(p => p.Lost).ToArray(), image.AcceptedRecords, image.RejectedRecords,
            image.Duplicates, image.Refused, image.TakenUtc.UtcDateTime);
    }

    /// <summary>The image a checkpoint holds (statistics of its dimension, empty when it has none).</summary>
    public static StreamImage ToImage(StreamCheckpoint cp)
    {
        ArgumentNullException.ThrowIfNull(cp);
        var adam = cp.AdamFirstMoment.Length > 0 ? new AdamState(cp.AdamFirstMoment, cp.AdamSecondMoment, cp.AdamStep, cp.AdamLearningRate) : null;
        return new StreamImage(cp.Epoch, cp.Version, cp.Statistics?.ToStatistics() ?? new SufficientStatistics(cp.Dimension), cp.Theta?.ToParameters(), adam,
            cp.Partitions.Select((p, i) => new PartitionCoverage(cp.Topic, p, cp.Starts[i], cp.Nexts[i], cp.Lost[i])).ToArray(),
            cp.AcceptedRecords, cp.RejectedRecords, cp.Duplicates, cp.Refused, new DateTimeOffset(DateTime.SpecifyKind(cp.WrittenUtc, DateTimeKind.Utc)));
    }
}
