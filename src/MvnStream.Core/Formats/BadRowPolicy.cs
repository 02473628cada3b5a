namespace MvnStream.Core.Formats;

/// <summary>
/// What a reader does with a row that fails validation: stop the run with the row's location
/// (the safe default, so bad data is never fitted unnoticed), or count it, keep its reason and go on.
/// </summary>
public enum BadRowPolicy
{
    /// <summary>Throw <see cref="BadRowException"/> at the first bad row.</summary>
    Fail,

    /// <summary>Count the row in <see cref="RowReader.RowsRejected"/>, keep its reason, continue.</summary>
    Skip,
}
