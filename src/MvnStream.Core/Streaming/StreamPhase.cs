namespace MvnStream.Core.Streaming;

/// <summary>
/// The lifecycle of a stream job at its coordinator (docs/ARCHITECTURE.md, "Streaming"), in order; a job only moves forward, to the next
/// phase or, when it fails or is cancelled, straight to <see cref="Done"/> (<see cref="StreamPhases.CanMove"/>).
/// </summary>
public enum StreamPhase
{
    /// <summary>Loading the checkpoint: nothing is merged and no ledger position is given yet.</summary>
    Restoring,

    /// <summary>Workers consume; contributions are merged; online updates run when due; checkpoints are periodic.</summary>
    Running,

    /// <summary>Stopping: workers were told to stop and send what they read; contributions are still merged, no new online update starts.</summary>
    Draining,

    /// <summary>The final solve runs on the merged statistics: nothing more is merged.</summary>
    Finalising,

    /// <summary>The final snapshot and checkpoint are being written.</summary>
    Saving,

    /// <summary>Over: the client was told the result (or the failure).</summary>
    Done,
}

/// <summary>The allowed transitions between <see cref="StreamPhase"/>s.</summary>
public static class StreamPhases
{
    /// <summary>
    /// Whether a job may move from <paramref name="from"/> to <paramref name="to"/>: to the next phase, or to <see cref="StreamPhase.Done"/>
    /// from any phase but Done (a failure, a cancellation). Anything else is a bug in the coordinator.
    /// </summary>
    public static bool CanMove(StreamPhase from, StreamPhase to) =>
        from != StreamPhase.Done && (to == StreamPhase.Done || to == from + 1);

    /// <summary>Workers have been told to start (the job restored its checkpoint): true from Running on.</summary>
    public static bool Started(this StreamPhase phase) => phase >= StreamPhase.Running;

    /// <summary>A stop began (draining and after).</summary>
    public static bool Stopping(this StreamPhase phase) => phase >= StreamPhase.Draining;

    /// <summary>Contributions are merged: while running and draining, until the final solve starts.</summary>
    public static bool Merging(this StreamPhase phase) => phase is StreamPhase.Running or StreamPhase.Draining;
}
