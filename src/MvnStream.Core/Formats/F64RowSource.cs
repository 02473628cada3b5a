using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace MvnStream.Core.Formats;

/// <summary>
/// f64 rows: d little-endian doubles each, read straight into the caller's block (no copy) and checked
/// for NaN/±Infinity with a vector scan. A shard owns the rows whose first byte is in [start, end); a
/// trailing partial row is reported as truncated by the shard that owns its first byte.
/// </summary>
internal sealed class F64RowSource : RowSource
{
    private readonly string _path;
    private readonly SafeFileHandle _file;
    private readonly bool _allowNonFinite;
    private readonly long _rowBytes;
    private readonly long _endRow;        // first full row not owned
    private long _truncatedRow;           // index of an owned, unreported partial row, or -1
    private readonly long _fileLength;
    private long _nextRow;
    private bool _done;

    public F64RowSource(string path, SafeFileHandle file, long fileLength, long start, long end, int dimension, bool allowNonFinite)
    {
        _path = path;
        _file = file;
        _fileLength = fileLength;
        _allowNonFinite = allowNonFinite;
        Dimension = dimension;
        _rowBytes = 8L * dimension;
        long fullRows = fileLength / _rowBytes;
        start = Math.Min(start, fileLength);
        long endLimit = Math.Min(end, fileLength);
        _nextRow = Math.Min(CeilDiv(start, _rowBytes), fullRows);
        _endRow = Math.Max(_nextRow, Math.Min(CeilDiv(endLimit, _rowBytes), fullRows));
        long partialOffset = fullRows * _rowBytes;
        _truncatedRow = fileLength % _rowBytes != 0 && partialOffset >= start && partialOffset < end ? fullRows : -1;
    }

    public override long Position => _done ? long.MaxValue : _nextRow * _rowBytes;

    public override int ProbeDimension() => Dimension;

    public override int Fill(Span<double> block, int maxRows, IRejectionSink sink)
    {
        int d = Dimension;
        int rows = 0;
        while (rows < maxRows && _nextRow < _endRow)
        {
            int n = (int)Math.Min(maxRows - rows, _endRow - _nextRow);
            var chunk = block.Slice(rows * d, n * d);
            long firstRow = _nextRow;
            ReadExactly(MemoryMarshal.AsBytes(chunk), firstRow * _rowBytes);
            F64Rows.FromLittleEndian(chunk);
            _nextRow += n;
            if (!_allowNonFinite)
            {
                int bad = F64Rows.IndexOfUnusable(chunk);
                if (bad >= 0) n = CompactFinite(chunk, d, bad / d, firstRow, sink);
            }
            rows += n;
        }
        if (rows < maxRows && _nextRow >= _endRow && _truncatedRow >= 0)
        {
            long row = _truncatedRow;
            long offset = row * _rowBytes;
            _truncatedRow = -1;
            _nextRow = row + 1; // so Position covers the partial row
            var reason = $"truncated: the last {_fileLength - offset} bytes are not a whole row of {d} doubles ({_rowBytes} bytes)";
            sink.Reject(new RejectedRow(_path, row + 1, offset, reason, null) { IsBinary = true });
        }
        if (rows < maxRows) _done = true;
        return rows;
    }

    /// <summary>Moves the chunk's finite rows to its front, rejecting the others; returns the rows kept.</summary>
    private int CompactFinite(Span<double> chunk, int d, int firstBadRow, long firstRow, IRejectionSink sink)
    {
        int count = chunk.Length / d;
        int kept = firstBadRow;
        for (int r = firstBadRow; r < count; r++)
        {
            var row = chunk.Slice(r * d, d);
            int bad = F64Rows.IndexOfUnusable(row);
            if (bad >= 0)
            {
                long index = firstRow + r;
                var reason = RowErrors.NonFinite(bad, row[bad], default);
                sink.Reject(new RejectedRow(_path, index + 1, index * _rowBytes, reason, null) { IsBinary = true });
                continue;
            }
            if (kept != r) row.CopyTo(chunk.Slice(kept * d, d));
            kept++;
        }
        return kept;
    }

    private void ReadExactly(Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(_file, destination, offset);
            if (n <= 0) throw new IOException($"{_path} became shorter while it was being read (at byte {offset})");
            destination = destination[n..];
            offset += n;
        }
    }

    private static long CeilDiv(long a, long b) => (a + b - 1) / b;
}
