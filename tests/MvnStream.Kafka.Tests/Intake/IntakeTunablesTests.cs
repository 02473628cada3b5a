using MvnStream.Cluster.Protocol;
using MvnStream.Core.Streaming.Intake;
using MvnStream.Kafka.Streaming;

namespace MvnStream.Kafka.Tests.Intake;

/// <summary>
/// The job's stream settings (StreamTunables, bound from section Stream) reach the intake's options: the two default
/// tables agree, and each setting changes the option it names.
/// </summary>
public sealed class IntakeTunablesTests
{
    [Fact]
    public void Default_settings_give_the_intakes_default_options()
    {
        Assert.Equal(IntakeOptions.Default, KafkaIntake.FromTunables(StreamTunables.Default));
    }

    [Fact]
    public void Each_setting_reaches_its_option()
    {
        var t = new StreamTunables(BrokerTimeoutSeconds: 60, MaxInFlight: 3, MaxPendingBatches: 5, AckTimeoutSeconds: 7, SideDeliveryTimeoutSeconds: 11,
            ReachabilityProbeSeconds: 13, PositionRetrySeconds: 17, StallCheckSeconds: 19, PollMilliseconds: 23, StopTimeoutSeconds: 20,
            IdleCheckSeconds: 0.25, StatusIntervalSeconds: 1, MetadataTimeoutSeconds: 29, WatermarkTimeoutSeconds: 31, ProbeTimeoutSeconds: 37,
            FlushTimeoutSeconds: 41, ModelFlushTimeoutSeconds: 43, CheckpointTimeoutSeconds: 47, CheckpointReadTimeoutSeconds: 53);
        var o = KafkaIntake.FromTunables(t);
        Assert.Equal((3, 5), (o.MaxInFlight, o.MaxPendingBatches));
        Assert.Equal(TimeSpan.FromSeconds(7), o.AckTimeout);
        Assert.Equal(TimeSpan.FromSeconds(11), o.SideDeliveryTimeout);
        Assert.Equal(TimeSpan.FromSeconds(13), o.ReachabilityProbe);
        Assert.Equal(TimeSpan.FromSeconds(17), o.PositionRetry);
        Assert.Equal(TimeSpan.FromSeconds(19), o.StallCheck);
        Assert.Equal((23, 5), (o.IdlePollMilliseconds, o.BusyPollMilliseconds));
        // The librdkafka call timeouts of section Kafka that the intake makes.
        Assert.Equal(TimeSpan.FromSeconds(31), o.WatermarkQueryTimeout);
        Assert.Equal(TimeSpan.FromSeconds(37), o.ReachabilityProbeTimeout);
        Assert.Equal(TimeSpan.FromSeconds(41), o.CloseFlushTimeout);
    }

    /// <summary>A job from a node that does not know the Kafka call timeouts (absent fields read as 0) gets their defaults.</summary>
    [Fact]
    public void Absent_call_timeouts_are_their_defaults()
    {
        var t = StreamTunables.Default with { WatermarkTimeoutSeconds = 0, ProbeTimeoutSeconds = 0, FlushTimeoutSeconds = 0 };
        Assert.Equal(IntakeOptions.Default, KafkaIntake.FromTunables(t));
    }
}
