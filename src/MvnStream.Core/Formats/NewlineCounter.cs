using Microsoft.Win32.SafeHandles;

namespace MvnStream.Core.Formats;

/// <summary>
/// Counts '\n' bytes in [0, offset) of a file, resuming from the last answer, so that a reader can report
/// real line numbers without counting lines on its hot path: it pays only when a row is rejected.
/// </summary>
internal sealed class NewlineCounter(SafeFileHandle file)
{
    private byte[]? _buffer;
    private long _position;
    private long _count;

    /// <summary>The number of '\n' bytes before <paramref name="offset"/>.</summary>
    public long CountBefore(long offset)
    {
        if (offset < _position)
        {
            _position = 0;
            _count = 0;
        }
        _buffer ??= new byte[1 << 20];
        while (_position < offset)
        {
            int want = (int)Math.Min(_buffer.Length, offset - _position);
            int n = RandomAccess.Read(file, _buffer.AsSpan(0, want), _position);
            if (n <= 0) break;
            _count += _buffer.AsSpan(0, n).Count((byte)'\n');
            _position += n;
        }
        return _count;
    }

    /// <summary>The 1-based line number of the line containing <paramref name="offset"/>.</summary>
    public long LineAt(long offset) => CountBefore(offset) + 1;
}
