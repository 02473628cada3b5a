using Microsoft.Win32.SafeHandles;

namespace MvnStream.Core.Formats;

/// <summary>
/// Base of the line-oriented sources (csv, JSON Lines): the shard's lines and the real line numbers of
/// rejected lines, computed on the first rejection by counting the newlines before the shard.
/// </summary>
internal abstract class LineRowSource : RowSource
{
    /// <summary>Read size of the main pass; memory stays this size whatever the file size.</summary>
    public const int BufferSize = 1 << 20;

    /// <summary>Read size of the short scans of the file's start (header, layout, dimension).</summary>
    public const int ProbeBufferSize = 1 << 16;

    private NewlineCounter? _counter;
    private long _firstLineNumber = -1;

    private readonly int _maxLineBytes;

    protected LineRowSource(string path, SafeFileHandle file, long fileLength, long start, long end, int dimension, bool allowNonFinite, int maxLineBytes)
    {
        _maxLineBytes = maxLineBytes;
        Path = path;
        File = file;
        FileLength = fileLength;
        AllowNonFinite = allowNonFinite;
        Dimension = dimension;
        Lines = new LineSource(file, fileLength, start, end, BufferSize, maxLineBytes);
    }

    protected string Path { get; }
    protected SafeFileHandle File { get; }
    protected long FileLength { get; }
    protected bool AllowNonFinite { get; }
    protected LineSource Lines { get; }

    public override long Position => Lines.Position;

    /// <summary>A source of the whole file's lines for the scans of its start.</summary>
    protected LineSource ScanFromStart() => new(File, FileLength, 0, long.MaxValue, ProbeBufferSize, _maxLineBytes);

    /// <summary>The rejection of the line <see cref="Lines"/> returned last.</summary>
    protected RejectedRow Rejection(ReadOnlySpan<byte> line, long offset, string reason) =>
        new(Path, LineNumber(), offset, reason, RowErrors.RowText(line));

    /// <summary>The rejection of the line <see cref="Lines"/> returned last when it was longer than the limit (<see cref="LineSource.LastLineTooLong"/>; <paramref name="prefix"/> is its start).</summary>
    protected RejectedRow LongLineRejection(ReadOnlySpan<byte> prefix, long offset)
    {
        long number = LineNumber();
        return new RejectedRow(Path, number, offset, RowErrors.LineTooLong(number, Lines.MaxLineBytes), RowErrors.RowText(prefix));
    }

    private long LineNumber()
    {
        if (_firstLineNumber < 0)
        {
            _counter ??= new NewlineCounter(File);
            _firstLineNumber = _counter.LineAt(Lines.FirstLineOffset);
        }
        return _firstLineNumber + Lines.LinesReturned - 1;
    }

    /// <summary>The error for a valid row met after the dimension probe found none: the file changed.</summary>
    protected InvalidOperationException ChangedWhileReading(long offset) =>
        new($"{Path} changed while it was being read: the row at byte {offset} is valid, but when the file was opened it had no valid data row");
}
