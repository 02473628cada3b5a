using MvnStream.Cluster.Protocol;

namespace MvnStream.Kafka.Tests.Checkpoints;

/// <summary>Field-by-field comparison of checkpoints: doubles by their bits, arrays element by element, the DateTime with its Kind.</summary>
internal static class CheckpointAssert
{
    public static void Same(StreamCheckpoint expected, StreamCheckpoint actual)
    {
        Assert.Equal(expected.JobKey, actual.JobKey);
        Assert.Equal(expected.Epoch, actual.Epoch);
        Assert.Equal(expected.Version, actual.Version);
        Assert.Equal(expected.Dimension, actual.Dimension);
        if (expected.Theta is null) Assert.Null(actual.Theta);
        else
        {
            Assert.NotNull(actual.Theta);
            Assert.Equal(expected.Theta.Dimension, actual.Theta.Dimension);
            Assert.Equal(expected.Theta.Parameterization, actual.Theta.Parameterization);
            Bits(expected.Theta.Mu, actual.Theta.Mu, "Theta.Mu");
            Bits(expected.Theta.LambdaPacked, actual.Theta.LambdaPacked, "Theta.LambdaPacked");
        }
        Bits(expected.AdamFirstMoment, actual.AdamFirstMoment, "AdamFirstMoment");
        Bits(expected.AdamSecondMoment, actual.AdamSecondMoment, "AdamSecondMoment");
        Assert.Equal(expected.AdamStep, actual.AdamStep);
        Bits([expected.AdamLearningRate], [actual.AdamLearningRate], "AdamLearningRate");
        if (expected.Statistics is null) Assert.Null(actual.Statistics);
        else
        {
            Assert.NotNull(actual.Statistics);
            Assert.Equal(expected.Statistics.Dimension, actual.Statistics.Dimension);
            Assert.Equal(expected.Statistics.Count, actual.Statistics.Count);
            Bits([expected.Statistics.Weight], [actual.Statistics.Weight], "Statistics.Weight");
            Bits(expected.Statistics.Mean, actual.Statistics.Mean, "Statistics.Mean");
            Bits(expected.Statistics.ScatterLower, actual.Statistics.ScatterLower, "Statistics.ScatterLower");
            Bits(expected.Statistics.Third, actual.Statistics.Third, "Statistics.Third");
            Bits([expected.Statistics.Fourth], [actual.Statistics.Fourth], "Statistics.Fourth");
            Bits(expected.Statistics.ColumnMin, actual.Statistics.ColumnMin, "Statistics.ColumnMin");
            Bits(expected.Statistics.ColumnMax, actual.Statistics.ColumnMax, "Statistics.ColumnMax");
        }
        Assert.Equal(expected.Topic, actual.Topic);
        Assert.Equal(expected.Partitions, actual.Partitions);
        Assert.Equal(expected.Starts, actual.Starts);
        Assert.Equal(expected.Nexts, actual.Nexts);
        Assert.Equal(expected.Lost, actual.Lost);
        Assert.Equal(expected.AcceptedRecords, actual.AcceptedRecords);
        Assert.Equal(expected.RejectedRecords, actual.RejectedRecords);
        Assert.Equal(expected.Duplicates, actual.Duplicates);
        Assert.Equal(expected.Refused, actual.Refused);
        Assert.Equal(expected.WrittenUtc.Ticks, actual.WrittenUtc.Ticks);
        Assert.Equal(expected.WrittenUtc.Kind, actual.WrittenUtc.Kind);
    }

    private static void Bits(double[] expected, double[] actual, string what)
    {
        Assert.True(actual is not null, $"{what} is null");
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(actual[i]), $"{what}[{i}]: {actual[i]:R}, expected {expected[i]:R}");
    }
}
