using MvnStream.Cluster.Protocol;
using MvnStream.Core.Model;

namespace MvnStream.Kafka.Tests.Checkpoints;

/// <summary>
/// The deterministic checkpoint stored in TestData/checkpoint-v1.bin: a d = 3 lower-triangular job with fixed statistics,
/// theta, Adam state, a ledger of two partitions (one with records lost to retention) and counters. Every value is a
/// literal (no computation that could differ between machines), so a reader of any later release is checked against
/// exactly these numbers. checkpoint-v1.bin was written by format version 1 (the release before the checkpoint format
/// had its own versions: the cluster wire codec's layout, wire version 1) from this very object; never regenerate it.
/// </summary>
internal static class KnownCheckpoint
{
    public const string JobKey = "mvnstream-rows/rows";

    public static StreamCheckpoint Create() => new(
        JobKey: JobKey,
        Epoch: 4,
        Version: 17,
        Dimension: 3,
        Theta: new ThetaData(3, Parameterization.LowerTriangular, [0.5, -1.25, 2.0], [1.5, 0.25, 0.75, -0.125, 0.0625, 2.5]),
        AdamFirstMoment: [0.001, -0.002, 0.003, 0.004, -0.005, 0.006, 0.007, -0.008, 0.009],
        AdamSecondMoment: [1e-6, 2e-6, 3e-6, 4e-6, 5e-6, 6e-6, 7e-6, 8e-6, 9e-6],
        AdamStep: 1234,
        AdamLearningRate: 0.0005,
        Statistics: new StatisticsData(3, 1500, 1487.25, [0.5, -1.25, 2.0], [10.0, 1.5, 20.0, -2.25, 3.75, 30.0], [0.125, -0.375, 0.0], 42.0,
            // Format version 1 did not carry the columns' range: read as unknown (-inf, +inf), never as a constant column.
            [double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity], [double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity]),
        Topic: "rows",
        Partitions: [0, 1],
        Starts: [0, 100],
        Nexts: [800, 905],
        Lost: [0, 5],
        AcceptedRecords: 1500,
        RejectedRecords: 100,
        Duplicates: 7,
        Refused: 3,
        WrittenUtc: new DateTime(2026, 12, 6, 16, 0, 0, DateTimeKind.Utc).AddTicks(1234567));
}
