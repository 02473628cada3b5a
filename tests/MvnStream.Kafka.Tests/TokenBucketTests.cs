using MvnStream.Kafka.Producing;

namespace MvnStream.Kafka.Tests;

public sealed class TokenBucketTests
{
    [Fact]
    public void Late_wake_ups_do_not_add_up()
    {
        // A caller that always oversleeps by up to 1.5 ms still ends at (n - burst) / rate, not n * (1/rate + overshoot).
        double now = 0;
        var bucket = new TokenBucket(1000, 10, () => now);
        var random = new Random(3);
        for (int i = 0; i < 10_000; i++)
        {
            var wait = bucket.Take(1);
            if (wait > TimeSpan.Zero) now += wait.TotalSeconds + random.NextDouble() * 0.0015;
        }
        Assert.InRange(now, 9.98, 10.01);
    }

    [Fact]
    public void Burst_runs_ahead_then_the_schedule_holds()
    {
        double now = 0;
        var bucket = new TokenBucket(100, 5, () => now);
        for (int i = 0; i < 5; i++) Assert.Equal(TimeSpan.Zero, bucket.Take(1));
        Assert.Equal(0.01, bucket.Take(1).TotalSeconds, 9);
        // A request for several tokens waits for the last of them.
        now = 0.01;
        Assert.Equal(0.05, bucket.Take(5).TotalSeconds, 9);
    }

    [Fact]
    public void A_stall_does_not_build_up_credit_beyond_the_burst()
    {
        double now = 0;
        var bucket = new TokenBucket(10, 2, () => now);
        bucket.Take(1);
        now = 100; // the caller was away for 100 s
        Assert.Equal(TimeSpan.Zero, bucket.Take(1));
        Assert.Equal(TimeSpan.Zero, bucket.Take(1));
        Assert.True(bucket.Take(1) > TimeSpan.Zero);
    }

    [Fact]
    public void Rejects_bad_arguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBucket(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBucket(double.PositiveInfinity, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBucket(1, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenBucket(1, 1).Take(-1));
    }
}
