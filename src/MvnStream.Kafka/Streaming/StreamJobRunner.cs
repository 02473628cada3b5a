using Akka.Actor;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Kafka.Streaming;

/// <summary>Runs a stream job from a node until it finishes; cancellation asks for a clean stop (drain, converge, checkpoint).</summary>
public static class StreamJobRunner
{
    /// <summary>Runs the job with the default client timings and <paramref name="answerTimeout"/>.</summary>
    public static Task<StreamJobOutcome> RunAsync(StreamingNode node, StartStreamJob job, Action<IMvnMessage> onEvent,
        TimeSpan answerTimeout, CancellationToken cancellationToken = default) =>
        RunAsync(node, job, onEvent, StreamClientOptions.Default with { AnswerTimeout = answerTimeout }, cancellationToken);

    /// <summary>Runs the job with the client timings <paramref name="options"/> (section Stream of the settings).</summary>
    public static async Task<StreamJobOutcome> RunAsync(StreamingNode node, StartStreamJob job, Action<IMvnMessage> onEvent,
        StreamClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        var done = new TaskCompletionSource<StreamJobOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var client = node.Node.System.ActorOf(StreamClientActor.Props(node.Coordinator, job, onEvent, done, options), "stream-client-" + job.JobId);
        await using var registration = cancellationToken.Register(() => client.Tell(StreamClientActor.Stop.Instance)).ConfigureAwait(false);
        return await done.Task.ConfigureAwait(false);
    }
}
