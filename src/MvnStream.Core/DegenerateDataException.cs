namespace MvnStream.Core;

/// <summary>
/// The data cannot determine a non-singular covariance (d &gt;= n, a constant column, duplicated or
/// linearly dependent columns). The message names the cause and the remedy (--ridge or --shrinkage).
/// </summary>
public sealed class DegenerateDataException : Exception
{
    public DegenerateDataException(string message) : base(message) { }
    public DegenerateDataException(string message, Exception inner) : base(message, inner) { }
    public DegenerateDataException() : base("degenerate data") { }
}
