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

    /// <summary>
    /// The longest line (csv, JSON Lines) a reader holds in memory, <see cref="DefaultMaxLineBytes"/> unless set; a longer
    /// line is a bad row ("line N is longer than the limit (L bytes)"), passed over without being kept. Below
    /// <see cref="Array.MaxLength"/>.
    /// </summary>
    public int MaxLineBytes { get; init; } = DefaultMaxLineBytes;

    /// <summary>64 MiB: room for a row of millions of values, and far below what a byte array can hold.</summary>
    public const int DefaultMaxLineBytes = 1 << 26;

    /// <summary>How many rejected rows <see cref="RowReader.Rejections"/> keeps (all are counted).</summary>
    public int MaxRejectionsKept { get; init; } = 100;
}
