using System.Diagnostics;

namespace MvnStream.Kafka.Producing;

/// <summary>
/// A rate limiter that does not drift: a token bucket in its "virtual scheduling" form (GCRA). Token i is due
/// at start + i / rate on an absolute clock, so late wake-ups and slow sleeps are made up for instead of adding
/// up; a burst of at most <see cref="Burst"/> tokens may run ahead of that schedule. When the caller falls
/// behind (a stall longer than the burst), the schedule restarts from now, so the rate never exceeds
/// rate + burst per second afterwards.
/// </summary>
/// <remarks>Not thread-safe. Time comes from <see cref="Stopwatch"/> unless a clock is given (for tests).</remarks>
public sealed class TokenBucket
{
    private readonly Func<double> _now;
    private readonly double _interval;
    private readonly double _tolerance;
    private double _theoretical;

    /// <summary>A bucket of <paramref name="ratePerSecond"/> tokens per second holding at most <paramref name="burst"/>.</summary>
    /// <param name="ratePerSecond">Tokens per second, &gt; 0.</param>
    /// <param name="burst">Tokens that may run ahead of the schedule, &gt;= 1.</param>
    /// <param name="clock">Seconds on a monotonic clock; null = <see cref="Stopwatch"/>.</param>
    public TokenBucket(double ratePerSecond, double burst, Func<double>? clock = null)
    {
        if (!(ratePerSecond > 0) || double.IsInfinity(ratePerSecond))
            throw new ArgumentOutOfRangeException(nameof(ratePerSecond), ratePerSecond, "the rate must be a positive finite number");
        if (!(burst >= 1) || double.IsInfinity(burst))
            throw new ArgumentOutOfRangeException(nameof(burst), burst, "the burst must be at least 1");
        Rate = ratePerSecond;
        Burst = burst;
        _interval = 1 / ratePerSecond;
        _tolerance = (burst - 1) * _interval;
        if (clock is null)
        {
            var sw = Stopwatch.StartNew();
            _now = () => sw.Elapsed.TotalSeconds;
        }
        else
        {
            _now = clock;
        }
        _theoretical = _now();
    }

    /// <summary>Tokens per second.</summary>
    public double Rate { get; }

    /// <summary>Tokens that may run ahead of the schedule.</summary>
    public double Burst { get; }

    /// <summary>
    /// Takes <paramref name="tokens"/> tokens and returns how long the caller must wait before using them
    /// (zero when they are available now). The tokens are taken either way: wait that long, then go on.
    /// </summary>
    public TimeSpan Take(double tokens)
    {
        if (!(tokens >= 0)) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "must be >= 0");
        double now = _now();
        double start = Math.Max(_theoretical, now);
        _theoretical = start + tokens * _interval;
        // The last token of the request is due at _theoretical - interval; the burst lets it go tolerance early.
        double due = _theoretical - _interval - _tolerance;
        return due > now ? TimeSpan.FromSeconds(due - now) : TimeSpan.Zero;
    }
}
