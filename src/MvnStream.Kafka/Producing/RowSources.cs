using MvnStream.Core.Formats;

namespace MvnStream.Kafka.Producing;

/// <summary>Where a <see cref="RowProducer"/> gets its rows: a data file or a synthetic distribution.</summary>
public interface IRowSource
{
    /// <summary>d, the values per row.</summary>
    int Dimension { get; }

    /// <summary>A short description for progress and summaries ("file data.csv", "synthetic d=8 seed=1").</summary>
    string Description { get; }

    /// <summary>
    /// Fills <paramref name="destination"/> with up to <paramref name="maxRows"/> rows (row-major) and returns
    /// how many; 0 at the end.
    /// </summary>
    int ReadRows(Span<double> destination, int maxRows);
}

/// <summary>The rows of a csv, f64 or json file, read with <see cref="RowReader"/> (bad rows fail or are skipped as its options say).</summary>
public sealed class FileRowSource : IRowSource, IDisposable
{
    private readonly RowReader _reader;
    private readonly double[] _block;
    private int _blockRows;
    private int _next;

    /// <summary>Opens <paramref name="path"/> with <paramref name="options"/>.</summary>
    /// <exception cref="InvalidOperationException">The file has no valid row to learn the dimension from.</exception>
    public FileRowSource(string path, RowReaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _reader = RowReader.Open(path, options);
        try
        {
            Dimension = _reader.Dimension;
        }
        catch
        {
            _reader.Dispose();
            throw;
        }
        _block = new double[options.BlockRows * Dimension];
        Description = "file " + path;
    }

    /// <inheritdoc />
    public int Dimension { get; }

    /// <inheritdoc />
    public string Description { get; }

    /// <summary>The underlying reader (rows read and rejected, rejections kept).</summary>
    public RowReader Reader => _reader;

    /// <inheritdoc />
    /// <exception cref="BadRowException">A bad row under <see cref="BadRowPolicy.Fail"/>.</exception>
    public int ReadRows(Span<double> destination, int maxRows)
    {
        int d = Dimension;
        maxRows = Math.Min(maxRows, destination.Length / d);
        int done = 0;
        while (done < maxRows)
        {
            if (_next == _blockRows)
            {
                _blockRows = _reader.ReadBlock(_block);
                _next = 0;
                if (_blockRows == 0) break;
            }
            int take = Math.Min(maxRows - done, _blockRows - _next);
            _block.AsSpan(_next * d, take * d).CopyTo(destination.Slice(done * d));
            _next += take;
            done += take;
        }
        return done;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _reader.Dispose();
}

/// <summary>The first <see cref="Rows"/> rows of a <see cref="SyntheticSource"/> (or all of them, endlessly, when Rows is 0).</summary>
public sealed class SyntheticRowSource(SyntheticSource source, long rows) : IRowSource
{
    private long _left = rows > 0 ? rows : long.MaxValue;

    /// <summary>The distribution the rows come from.</summary>
    public SyntheticSource Source { get; } = source ?? throw new ArgumentNullException(nameof(source));

    /// <summary>Rows to produce; 0 = no limit.</summary>
    public long Rows { get; } = rows >= 0 ? rows : throw new ArgumentOutOfRangeException(nameof(rows), rows, "must be >= 0");

    /// <inheritdoc />
    public int Dimension => Source.Dimension;

    /// <inheritdoc />
    public string Description => $"synthetic N(mu*, S*) d={Source.Dimension} seed={Source.Seed}";

    /// <inheritdoc />
    public int ReadRows(Span<double> destination, int maxRows)
    {
        int d = Dimension;
        int n = (int)Math.Min(Math.Min(maxRows, destination.Length / d), _left);
        if (n <= 0) return 0;
        Source.NextRows(destination[..(n * d)]);
        _left -= n;
        return n;
    }
}
