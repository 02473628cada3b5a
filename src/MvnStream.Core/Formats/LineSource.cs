using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;

namespace MvnStream.Core.Formats;

/// <summary>
/// The lines of a file, or of the byte-range shard [start, end) of it, through a fixed buffer.
/// A shard owns every line whose first byte is in [start, end): if start &gt; 0 it begins after the first
/// '\n' at or after start - 1, and it reads its last line to the end even past <c>end</c>. Lines come
/// without their '\n' or "\r\n"; a UTF-8 byte-order mark at the file start is dropped. A line longer
/// than the buffer grows it, up to the line limit: a longer line is returned cut to its first bytes with
/// <see cref="LastLineTooLong"/> set, and the rest of it is passed over (read, not kept) by the next call, so
/// memory stays bounded by the limit and no size computation can overflow (the limit is below
/// <see cref="Array.MaxLength"/>, and the buffer never grows past it).
/// </summary>
internal sealed class LineSource
{
    private static ReadOnlySpan<byte> Bom => [0xEF, 0xBB, 0xBF];

    private readonly SafeFileHandle _file;
    private readonly long _fileLength;
    private readonly long _end;
    private byte[] _buffer;
    private int _pos;          // start of the next line in _buffer
    private int _len;          // valid bytes in _buffer
    private int _searchFrom;   // where the search for the next '\n' resumes
    private long _bufferStart; // file offset of _buffer[0]
    private long _nextRead;    // file offset of the next byte to read
    private bool _eof;
    private readonly int _maxLineBytes;
    private bool _skipping;    // the rest of a too-long line is still to be passed over

    /// <summary>Bytes of a too-long line kept for its rejection message.</summary>
    private const int LongLinePrefix = 256;

    public LineSource(SafeFileHandle file, long fileLength, long start, long end, int bufferSize, int maxLineBytes = RowReaderOptions.DefaultMaxLineBytes)
    {
        if (maxLineBytes <= 0 || maxLineBytes >= Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(maxLineBytes), maxLineBytes, $"the line limit must be in [1, {Array.MaxLength - 1}]");
        _file = file;
        _fileLength = fileLength;
        _end = Math.Min(end, fileLength);
        _maxLineBytes = maxLineBytes;
        _buffer = new byte[Math.Min(bufferSize, maxLineBytes + 1)];
        if (start <= 0)
        {
            _eof = fileLength == 0;
            FirstLineOffset = 0;
            return;
        }

        // Skip to the byte after the first '\n' at or after start - 1.
        _bufferStart = _nextRead = Math.Min(start - 1, fileLength);
        _eof = _nextRead >= fileLength;
        while (true)
        {
            int nl = _buffer.AsSpan(_pos, _len - _pos).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                _pos += nl + 1;
                _searchFrom = _pos;
                FirstLineOffset = Position;
                return;
            }
            if (_eof)
            {
                _pos = _searchFrom = _len;
                FirstLineOffset = Position;
                return;
            }
            _pos = _searchFrom = _len;
            Refill();
        }
    }

    /// <summary>File offset of the first line this source owns (or would own).</summary>
    public long FirstLineOffset { get; }

    /// <summary>Lines returned so far (including ones the caller ignores, such as a header).</summary>
    public long LinesReturned { get; private set; }

    /// <summary>File offset of the next unread byte.</summary>
    public long Position => _bufferStart + _pos;

    /// <summary>
    /// The line returned last is longer than the limit: the span holds only its first bytes (for a message), and it
    /// must be rejected as too long.
    /// </summary>
    public bool LastLineTooLong { get; private set; }

    /// <summary>The line limit in bytes (a line of exactly this many bytes is accepted).</summary>
    public int MaxLineBytes => _maxLineBytes;

    /// <summary>The next owned line and the file offset of its first byte; false at the end of the shard.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot read path, optimised at once (docs/ARCHITECTURE.md, "Fitting a file")
    public bool TryReadLine(out ReadOnlySpan<byte> line, out long offset)
    {
        if (_skipping) SkipRestOfLine();
        LastLineTooLong = false;
        offset = _bufferStart + _pos;
        if (offset >= _end)
        {
            line = default;
            return false;
        }

        int lineEnd;
        int next;
        while (true)
        {
            int nl = _buffer.AsSpan(_searchFrom, _len - _searchFrom).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                lineEnd = _searchFrom + nl;
                next = lineEnd + 1;
                break;
            }
            if (_eof)
            {
                if (_pos == _len)
                {
                    // Nothing after the last '\n' (a trailing newline is not a row).
                    line = default;
                    return false;
                }
                lineEnd = next = _len;
                break;
            }
            if (_len - _pos > _maxLineBytes)
            {
                // Longer than the limit with no end in sight: return its first bytes, pass over the rest later.
                line = _buffer.AsSpan(_pos, Math.Min(LongLinePrefix, _len - _pos));
                LastLineTooLong = true;
                _skipping = true;
                LinesReturned++;
                return true;
            }
            _searchFrom = _len;
            Refill();
            offset = _bufferStart + _pos;
        }

        if (lineEnd - _pos > _maxLineBytes && !(lineEnd - _pos == _maxLineBytes + 1 && _buffer[lineEnd - 1] == (byte)'\r'))
        {
            line = _buffer.AsSpan(_pos, Math.Min(LongLinePrefix, lineEnd - _pos));
            _pos = _searchFrom = next;
            LastLineTooLong = true;
            LinesReturned++;
            return true;
        }
        line = _buffer.AsSpan(_pos, lineEnd - _pos);
        _pos = _searchFrom = next;
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        if (offset == 0 && line.StartsWith(Bom)) line = line[Bom.Length..];
        LinesReturned++;
        return true;
    }

    /// <summary>
    /// Passes over the rest of a too-long line: drops what is buffered and reads on (keeping nothing) to just after its
    /// '\n' or to the end of the file.
    /// </summary>
    private void SkipRestOfLine()
    {
        _skipping = false;
        while (true)
        {
            int nl = _buffer.AsSpan(_searchFrom, _len - _searchFrom).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                _pos = _searchFrom = _searchFrom + nl + 1;
                return;
            }
            if (_eof)
            {
                _pos = _searchFrom = _len;
                return;
            }
            _pos = _searchFrom = _len;
            Refill(); // with everything consumed it reads into the whole buffer, which does not grow
        }
    }

    /// <summary>Moves the unread bytes to the front (growing the buffer if they fill it, never past the line limit + 1) and reads more.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot read path, optimised at once (docs/ARCHITECTURE.md, "Fitting a file")
    private void Refill()
    {
        if (_pos > 0)
        {
            int keep = _len - _pos;
            _buffer.AsSpan(_pos, keep).CopyTo(_buffer);
            _bufferStart += _pos;
            _searchFrom -= _pos;
            _len = keep;
            _pos = 0;
        }
        // The unread bytes fill the buffer only while they are at most the line limit (a longer line is cut before the
        // next Refill), so the buffer stays at most the limit + 1 < Array.MaxLength, computed in long: no overflow.
        if (_len == _buffer.Length) Array.Resize(ref _buffer, (int)Math.Min(2L * _buffer.Length, _maxLineBytes + 1L));
        int n = RandomAccess.Read(_file, _buffer.AsSpan(_len), _nextRead);
        _nextRead += n;
        _len += n;
        if (n == 0 || _nextRead >= _fileLength) _eof = true;
    }
}
