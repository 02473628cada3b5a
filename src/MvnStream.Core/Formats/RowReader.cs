using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;

namespace MvnStream.Core.Formats;

/// <summary>
/// Reads the rows of a csv, f64 or json file, or of a byte-range shard of it, in blocks of accepted rows
/// (row-major) ready for a rank-k statistics update. Memory is fixed (a 1 MiB read buffer for text formats,
/// the caller's block for f64) whatever the file size. Bad rows are rejected with their location and
/// reason, then fail the read or are counted and skipped, as <see cref="RowReaderOptions.OnBadRow"/> says.
/// </summary>
/// <remarks>
/// <para>Shards: <see cref="Open(string, RowReaderOptions, long, long)"/> with byte ranges that tile the file
/// yields every row of the file exactly once. For csv and JSON Lines a shard owns the lines whose first
/// byte is in its range; for f64 the rows whose first byte is. A JSON file that is one document (an array
/// of arrays over several lines, or on one line longer than 1 MiB) is streamed instead, and cannot be split.</para>
/// <para>d, when not given, is the value count of the file's first valid data row (the same for every
/// shard); rows before it are still read and judged against it.</para>
/// <para>Not thread-safe: one reader per worker.</para>
/// </remarks>
public sealed class RowReader : IDisposable, IRejectionSink
{
    private readonly SafeFileHandle _file;
    private readonly RowSource _source;
    private readonly RowReaderOptions _options;
    private readonly List<RejectedRow> _rejections = [];
    private readonly long _start;
    private readonly long _end;
    private int _dimension;
    private bool _probed;
    private BadRowException? _failure;
    private bool _disposed;

    private RowReader(string path, SafeFileHandle file, RowSource source, RowReaderOptions options, long start, long end)
    {
        Path = path;
        _file = file;
        _source = source;
        _options = options;
        _start = start;
        _end = Math.Max(start, end);
        _dimension = source.Dimension;
    }

    /// <summary>Opens the whole file.</summary>
    public static RowReader Open(string path, RowReaderOptions options) => Open(path, options, 0, long.MaxValue);

    /// <summary>
    /// Opens the shard [<paramref name="startByte"/>, <paramref name="endByte"/>) of the file: the rows whose
    /// first byte lies in the range (see the class remarks). <paramref name="endByte"/> may exceed the file length.
    /// </summary>
    /// <exception cref="ArgumentException">Invalid options or range; f64 without a dimension.</exception>
    /// <exception cref="NotSupportedException">A single-document JSON file and a range that is not all of it.</exception>
    public static RowReader Open(string path, RowReaderOptions options, long startByte, long endByte)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        ArgumentOutOfRangeException.ThrowIfNegative(startByte);
        if (endByte < startByte) throw new ArgumentOutOfRangeException(nameof(endByte), endByte, $"the end of the byte range is before its start ({startByte})");

        int dimension = options.Dimension ?? 0;
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        try
        {
            long length = RandomAccess.GetLength(file);
            RowSource source = options.Format switch
            {
                RowFormat.Csv => new CsvRowSource(path, file, length, startByte, endByte, dimension, options.AllowNonFinite, options.MaxLineBytes),
                RowFormat.F64 => new F64RowSource(path, file, length, startByte, endByte, dimension, options.AllowNonFinite),
                RowFormat.Json when JsonDocumentRowSource.IsSingleDocument(file, length) =>
                    startByte == 0 && endByte >= length
                        ? new JsonDocumentRowSource(path, file, length, dimension, options.AllowNonFinite)
                        : throw new NotSupportedException(
                            $"{path} is a JSON document (an array of rows spread over several lines, or on one line longer than 1 MiB), which cannot be split into byte-range shards; read it whole, or convert it to JSON Lines (one array per line)"),
                RowFormat.Json => new JsonLinesRowSource(path, file, length, startByte, endByte, dimension, options.AllowNonFinite, options.MaxLineBytes),
                _ => throw new ArgumentOutOfRangeException(nameof(options), options.Format, "unknown row format"),
            };
            return new RowReader(path, file, source, options, startByte, Math.Min(endByte, length));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The file path as given to <see cref="Open(string, RowReaderOptions)"/>.</summary>
    public string Path { get; }

    /// <summary>
    /// d. Known at once when given or for f64; otherwise learned from the file's first valid data row
    /// (which this getter reads ahead to find).
    /// </summary>
    /// <exception cref="InvalidOperationException">The file has no valid data row, so d cannot be learned.</exception>
    public int Dimension
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            EnsureDimension();
            if (_dimension == 0)
                throw new InvalidOperationException(
                    $"{Path} has no valid data rows, so the number of values per row cannot be learned from it; give it with --dim");
            return _dimension;
        }
    }

    /// <summary>Accepted rows returned so far.</summary>
    public long RowsRead { get; private set; }

    /// <summary>Rows rejected so far (all of them, not only those kept in <see cref="Rejections"/>).</summary>
    public long RowsRejected { get; private set; }

    /// <summary>The first <see cref="RowReaderOptions.MaxRejectionsKept"/> rejected rows.</summary>
    public IReadOnlyList<RejectedRow> Rejections => _rejections;

    /// <summary>
    /// Bytes of the range consumed so far, for progress. At the end it is the length of the range within
    /// the file (a line that straddles the range's end counts for the range it starts in), so the counts of
    /// shards that tile a file add up to the file's size.
    /// </summary>
    public long BytesRead => Math.Clamp(_source.Position, _start, _end) - _start;

    /// <summary>
    /// Fills <paramref name="block"/> with up to <see cref="RowReaderOptions.BlockRows"/> accepted rows
    /// (row-major, rows x <see cref="Dimension"/>) and returns the number of rows; 0 at the end of the input.
    /// </summary>
    /// <exception cref="BadRowException">A bad row under <see cref="BadRowPolicy.Fail"/>, or input that cannot be
    /// read past an error; rows returned by earlier calls stay counted, and later calls throw the same exception.</exception>
    public int ReadBlock(double[] block)
    {
        ArgumentNullException.ThrowIfNull(block);
        return ReadBlock(block.AsSpan());
    }

    /// <inheritdoc cref="ReadBlock(double[])"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot read path, optimised at once (docs/ARCHITECTURE.md, "Fitting a file")
    public int ReadBlock(Span<double> block)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_failure != null) throw _failure;
        EnsureDimension();
        if (_dimension > 0 && block.Length < (long)_options.BlockRows * _dimension)
            throw new ArgumentException($"the block holds {block.Length} values, fewer than BlockRows x Dimension = {_options.BlockRows} x {_dimension}", nameof(block));
        int rows = _source.Fill(block, _options.BlockRows, this);
        RowsRead += rows;
        return rows;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _file.Dispose();
    }

    void IRejectionSink.Reject(RejectedRow row, bool fatal)
    {
        RowsRejected++;
        if (_rejections.Count < _options.MaxRejectionsKept) _rejections.Add(row);
        if (fatal)
        {
            _failure = new BadRowException(row, "(the rest of the file cannot be read past this error)");
            throw _failure;
        }
        if (_options.OnBadRow == BadRowPolicy.Fail)
        {
            _failure = new BadRowException(row);
            throw _failure;
        }
    }

    private void EnsureDimension()
    {
        if (_dimension != 0 || _probed) return;
        _probed = true;
        _dimension = _source.ProbeDimension();
        _source.Dimension = _dimension;
    }

    private static void Validate(RowReaderOptions options)
    {
        if (options.Dimension is int d && d <= 0)
            throw new ArgumentException($"the dimension must be positive, not {d}", nameof(options));
        if (options.Format == RowFormat.F64 && options.Dimension is null)
            throw new ArgumentException("f64 input has no header, so the number of values per row must be given (--dim)", nameof(options));
        if (options.BlockRows <= 0)
            throw new ArgumentException($"BlockRows must be positive, not {options.BlockRows}", nameof(options));
        if (options.MaxRejectionsKept < 0)
            throw new ArgumentException($"MaxRejectionsKept must not be negative, not {options.MaxRejectionsKept}", nameof(options));
        if (options.MaxLineBytes <= 0 || options.MaxLineBytes >= Array.MaxLength)
            throw new ArgumentException($"MaxLineBytes must be in [1, {Array.MaxLength - 1}], not {options.MaxLineBytes}", nameof(options));
        if (!Enum.IsDefined(options.Format))
            throw new ArgumentException($"unknown row format {options.Format}", nameof(options));
    }
}
