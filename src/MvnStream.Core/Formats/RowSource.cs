namespace MvnStream.Core.Formats;

/// <summary>One format's decoding of a file shard into blocks of rows (the engine behind <see cref="RowReader"/>).</summary>
internal abstract class RowSource
{
    /// <summary>d, or 0 while unknown.</summary>
    public int Dimension { get; set; }

    /// <summary>File offset of the next unread byte; at least the range's end once the source is exhausted.</summary>
    public abstract long Position { get; }

    /// <summary>
    /// Writes up to <paramref name="maxRows"/> accepted rows into <paramref name="block"/> (row-major, d each)
    /// and returns how many; 0 at the end. Rejected rows go to <paramref name="sink"/>.
    /// </summary>
    public abstract int Fill(Span<double> block, int maxRows, IRejectionSink sink);

    /// <summary>d of the whole file's first valid data row, or 0 if it has none.</summary>
    public abstract int ProbeDimension();
}
