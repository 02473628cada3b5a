using Akka.Actor;
using MvnStream.Cluster.Actors;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Cluster.Hosting;

/// <summary>Submits a fit job from a node and awaits its outcome; cancellation asks the coordinator for the best model so far.</summary>
public static class FitJobRunner
{
    public static async Task<FitJobOutcome> RunAsync(ClusterNode node, SubmitFitJob job, Action<IMvnMessage> onEvent,
        TimeSpan answerTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        var done = new TaskCompletionSource<FitJobOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var client = node.System.ActorOf(FitClientActor.Props(node.FitCoordinator, job, onEvent, done, answerTimeout), "fit-client-" + job.JobId);
        await using var registration = cancellationToken.Register(() => client.Tell(FitClientActor.Cancel.Instance)).ConfigureAwait(false);
        return await done.Task.ConfigureAwait(false);
    }
}
