using System.Globalization;
using Akka.Actor;
using MvnStream.Core.Model;

namespace MvnStream.Cluster.Protocol;

/// <summary>
/// The sizes of a fit job's large messages against Akka.Remote's maximum-frame-size. Remoting drops a larger
/// message with an error in the sender's log only, so a job waiting for it would wait forever: the coordinator
/// checks the job's sizes when it learns d, and a worker checks what it sends.
/// </summary>
public static class FrameBudget
{
    public const string Key = "akka.remote.dot-netty.tcp.maximum-frame-size";

    /// <summary>Room for the remoting envelope (recipient and sender paths, manifest) and a message's small fields.</summary>
    public const long EnvelopeBytes = 16 * 1024;

    /// <summary>This node's frame limit (Akka's default when not configured).</summary>
    public static long MaximumFrameBytes(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.Settings.Config.GetByteSize(Key) ?? 128_000;
    }

    /// <summary>A shard's statistics: mean, packed lower triangle of the scatter, third moments, column minima and maxima.</summary>
    public static long StatisticsBytes(int d) => 8L * (4L * d + (long)d * (d + 1) / 2) + EnvelopeBytes;

    /// <summary>theta, or a partial gradient: mu and the free entries of Lambda.</summary>
    public static long ThetaBytes(int d, Parameterization parameterization) =>
        8L * (d + (parameterization == Parameterization.Full ? (long)d * d : (long)d * (d + 1) / 2)) + EnvelopeBytes;

    /// <summary>The largest message of a fit job with dimension d: its statistics, or theta and gradients (also the final model).</summary>
    public static (string What, long Bytes) LargestFitMessage(int d, Parameterization parameterization)
    {
        long stats = StatisticsBytes(d), theta = ThetaBytes(d, parameterization);
        return stats >= theta ? ("a shard's statistics", stats) : ("theta and its gradients", theta);
    }

    /// <summary>The user-facing explanation, with a frame size that would do.</summary>
    public static string TooLarge(string what, long bytes, long frame, string where)
    {
        long suggestMiB = Math.Max(1, (2 * bytes + (1 << 20) - 1) >> 20);
        return string.Create(CultureInfo.InvariantCulture,
            $"the message carrying {what} takes {bytes:N0} bytes, more than {Key} = {frame:N0} bytes {where}: raise it on every node (e.g. {Key} = {suggestMiB} MiB in a --config file)");
    }
}
