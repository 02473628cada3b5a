namespace MvnStream.Core.Ingest;

/// <summary>
/// A byte range [Start, End) of a data file. A shard owns the rows that start inside its range (see
/// <see cref="Formats.RowReader"/>), so shards that tile a file count every row exactly once.
/// </summary>
public readonly record struct FileShard(string Path, long Start, long End, int Index)
{
    public long Length => End - Start;

    /// <summary>Splits a file into at most <paramref name="count"/> contiguous ranges of about equal size.</summary>
    public static IReadOnlyList<FileShard> Split(string path, int count, long minimumBytes = 1 << 20)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "shard count must be positive");
        long length = new FileInfo(path).Length;
        int k = (int)Math.Max(1, Math.Min(count, length / Math.Max(1, minimumBytes)));
        var shards = new List<FileShard>(k);
        for (int i = 0; i < k; i++)
        {
            long start = length * i / k, end = length * (i + 1) / k;
            shards.Add(new FileShard(path, start, i == k - 1 ? long.MaxValue : end, i));
        }
        return shards;
    }

    public override string ToString() =>
        End == long.MaxValue ? $"{System.IO.Path.GetFileName(Path)}[{Start}..end)" : $"{System.IO.Path.GetFileName(Path)}[{Start}..{End})";
}
