using Microsoft.Win32.SafeHandles;

namespace MvnStream.Core.Formats;

/// <summary>
/// The lines of a file, or of the byte-range shard [start, end) of it, through a fixed buffer.
/// A shard owns every line whose first byte is in [start, end): if start &gt; 0 it begins after the first
/// '\n' at or after start - 1, and it reads its last line to the end even past <c>end</c>. Lines come
/// without their '\n' or "\r\n"; a UTF-8 byte-order mark at the file start is dropped. A line longer
/// than the buffer grows it.
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

    public LineSource(SafeFileHandle file, long fileLength, long start, long end, int bufferSize)
    {
        _file = file;
        _fileLength = fileLength;
        _end = Math.Min(end, fileLength);
        _buffer = new byte[bufferSize];
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

    /// <summary>The next owned line and the file offset of its first byte; false at the end of the shard.</summary>
    public bool TryReadLine(out ReadOnlySpan<byte> line, out long offset)
    {
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
            _searchFrom = _len;
            Refill();
            offset = _bufferStart + _pos;
        }

        line = _buffer.AsSpan(_pos, lineEnd - _pos);
        _pos = _searchFrom = next;
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        if (offset == 0 && line.StartsWith(Bom)) line = line[Bom.Length..];
        LinesReturned++;
        return true;
    }

    /// <summary>Moves the unread bytes to the front (growing the buffer if they fill it) and reads more.</summary>
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
        if (_len == _buffer.Length) Array.Resize(ref _buffer, checked(_buffer.Length * 2));
        int n = RandomAccess.Read(_file, _buffer.AsSpan(_len), _nextRead);
        _nextRead += n;
        _len += n;
        if (n == 0 || _nextRead >= _fileLength) _eof = true;
    }
}
