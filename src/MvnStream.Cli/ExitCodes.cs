namespace MvnStream.Cli;

/// <summary>Process exit codes, documented in the README.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>A failure not covered below (I/O, cluster, broker).</summary>
    public const int Failure = 1;
    /// <summary>Invalid command line or configuration.</summary>
    public const int Usage = 2;
    /// <summary>A bad row in the input (with --on-bad-row fail).</summary>
    public const int BadInput = 3;
    /// <summary>Singular or degenerate data without the regularisation to fit it.</summary>
    public const int Degenerate = 4;
    /// <summary>A stream finished, but the broker deleted records before they were read (reported with their number).</summary>
    public const int DataLost = 5;
    /// <summary>
    /// The solver stopped before its tolerance (iteration limit or a stalled line search): the model was written and says
    /// "converged": false with its stopReason. A stream whose final solve did not converge ends with it too (unless 5 applies).
    /// </summary>
    public const int NotConverged = 6;
    /// <summary>Stopped by Ctrl-C (work done so far was saved where the command says so).</summary>
    public const int Cancelled = 130;

    /// <summary>The exit code for a job that a coordinator reported as failed.</summary>
    public static int For(MvnStream.Cluster.Protocol.JobErrorKind kind) => kind switch
    {
        MvnStream.Cluster.Protocol.JobErrorKind.BadInput => BadInput,
        MvnStream.Cluster.Protocol.JobErrorKind.Degenerate => Degenerate,
        MvnStream.Cluster.Protocol.JobErrorKind.Usage => Usage,
        MvnStream.Cluster.Protocol.JobErrorKind.Cancelled => Cancelled,
        _ => Failure,
    };
}
