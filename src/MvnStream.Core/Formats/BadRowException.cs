namespace MvnStream.Core.Formats;

/// <summary>
/// Thrown by <see cref="RowReader.ReadBlock(Span{double})"/> under <see cref="BadRowPolicy.Fail"/> at the first
/// bad row, and under any policy when the input cannot be read past an error (a syntax error inside a
/// single-document JSON file). The message names the row's location and reason.
/// </summary>
public sealed class BadRowException : Exception
{
    /// <summary>The hint appended to messages of rows that <see cref="BadRowPolicy.Skip"/> would have skipped.</summary>
    public const string SkipHint = "(use --on-bad-row skip to count and skip bad rows)";

    /// <summary>Creates the exception for <paramref name="row"/>, with the hint about <c>--on-bad-row skip</c>.</summary>
    public BadRowException(RejectedRow row) : this(row, SkipHint) { }

    /// <summary>Creates the exception for <paramref name="row"/> with a custom hint (may be empty).</summary>
    public BadRowException(RejectedRow row, string hint)
        : base(string.IsNullOrEmpty(hint) ? Describe(row) : $"{Describe(row)} {hint}")
    {
        Row = row;
    }

    /// <summary>The rejected row and its location.</summary>
    public RejectedRow Row { get; }

    private static string Describe(RejectedRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return row.ToString();
    }
}
