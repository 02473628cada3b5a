using Microsoft.Win32.SafeHandles;

namespace MvnStream.Core.Formats;

/// <summary>
/// JSON Lines rows: each line is an array of d numbers or an array of such arrays. A line is accepted or
/// rejected as a whole, like a Kafka record; its rows are handed out across blocks as needed.
/// </summary>
internal sealed class JsonLinesRowSource : LineRowSource
{
    private readonly RowBuffer _pending;
    private int _pendingNext;

    public JsonLinesRowSource(string path, SafeFileHandle file, long fileLength, long start, long end, int dimension, bool allowNonFinite, int maxLineBytes)
        : base(path, file, fileLength, start, end, dimension, allowNonFinite, maxLineBytes)
    {
        _pending = new RowBuffer(dimension);
    }

    public override int Fill(Span<double> block, int maxRows, IRejectionSink sink)
    {
        int d = Dimension;
        int rows = 0;
        while (rows < maxRows)
        {
            if (_pendingNext < _pending.Rows)
            {
                int take = Math.Min(maxRows - rows, _pending.Rows - _pendingNext);
                _pending.Values.AsSpan(_pendingNext * d, take * d).CopyTo(block.Slice(rows * d));
                _pendingNext += take;
                rows += take;
                continue;
            }
            if (!Lines.TryReadLine(out var line, out long offset)) break;
            if (Lines.LastLineTooLong)
            {
                sink.Reject(LongLineRejection(line, offset));
                continue;
            }
            _pending.Clear();
            _pendingNext = 0;
            int lineDimension = d;
            string? reason = JsonRowDecoder.Decode(line, ref lineDimension, AllowNonFinite, _pending);
            if (reason != null)
            {
                sink.Reject(Rejection(line, offset, reason));
            }
            else if (d == 0)
            {
                throw ChangedWhileReading(offset);
            }
        }
        return rows;
    }

    public override int ProbeDimension()
    {
        var lines = ScanFromStart();
        var scratch = new RowBuffer();
        while (lines.TryReadLine(out var line, out _))
        {
            if (lines.LastLineTooLong) continue;
            int d = 0;
            scratch.Reset(0);
            if (JsonRowDecoder.Decode(line, ref d, AllowNonFinite, scratch) == null) return d;
        }
        return 0;
    }
}
