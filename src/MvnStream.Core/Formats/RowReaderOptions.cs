namespace MvnStream.Core.Formats;

/// <summary>
/// How a <see cref="RowReader"/> decodes and validates a file: its format, the expected dimension,
/// what to do with bad rows and how many rows each <see cref="RowReader.ReadBlock(Span{double})"/> returns.
/// </summary>
public sealed record RowReaderOptions
{
    /// <summary>The file's encoding.</summary>
    public RowFormat Format { get; init; }

    /// <summary>
    /// d, the number of values per row. Required for f64. For csv and json, null means "learn it from
    /// the file's first valid data row"; when given, every row is checked against it.
    /// </summary>
    public int? Dimension { get; init; }

    /// <summary>Stop at the first bad row, or count and skip bad rows.</summary>
    public BadRowPolicy OnBadRow { get; init; } = BadRowPolicy.Fail;

    /// <summary>Accept NaN and ±Infinity as values instead of rejecting their rows.</summary>
    public bool AllowNonFinite { get; init; }

    /// <summary>The most rows one <see cref="RowReader.ReadBlock(Span{double})"/> returns.</summary>
    public int BlockRows { get; init; } = 4096;

    /// <summary>How many rejected rows <see cref="RowReader.Rejections"/> keeps (all are counted).</summary>
    public int MaxRejectionsKept { get; init; } = 100;
}
