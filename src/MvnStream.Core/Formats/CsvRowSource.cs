using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;

namespace MvnStream.Core.Formats;

/// <summary>
/// csv rows: one per line, d comma-separated numbers. The file's first non-blank line is a header (not
/// data) iff no field on it parses as a number; every shard finds it by scanning the file's start, so a
/// shard that begins mid-file still knows whether the header is its line.
/// </summary>
internal sealed class CsvRowSource : LineRowSource
{
    private readonly long _headerOffset;
    private double[] _scratch = new double[16];

    public CsvRowSource(string path, SafeFileHandle file, long fileLength, long start, long end, int dimension, bool allowNonFinite, int maxLineBytes)
        : base(path, file, fileLength, start, end, dimension, allowNonFinite, maxLineBytes)
    {
        _headerOffset = FindHeader();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot read path, optimised at once (docs/ARCHITECTURE.md, "Fitting a file")
    public override int Fill(Span<double> block, int maxRows, IRejectionSink sink)
    {
        int d = Dimension;
        if (d == 0) return RejectAll(sink);
        int rows = 0;
        while (rows < maxRows && Lines.TryReadLine(out var line, out long offset))
        {
            if (offset == _headerOffset) continue;
            if (Lines.LastLineTooLong)
            {
                sink.Reject(LongLineRejection(line, offset));
                continue;
            }
            var status = CsvRowParser.Parse(line, block.Slice(rows * d, d), AllowNonFinite, out int count, out int bad);
            if (status == RowStatus.Ok)
            {
                rows++;
                continue;
            }
            sink.Reject(Rejection(line, offset, CsvRowParser.Describe(status, line, d, count, bad)));
        }
        return rows;
    }

    public override int ProbeDimension()
    {
        var lines = ScanFromStart();
        while (lines.TryReadLine(out var line, out long offset))
        {
            if (offset == _headerOffset || lines.LastLineTooLong) continue;
            if (CsvRowParser.ParseAlone(line, ref _scratch, AllowNonFinite, out int count, out _) == RowStatus.Ok) return count;
        }
        return 0;
    }

    /// <summary>The file has no valid data row (so no dimension): report each line's own fault.</summary>
    private int RejectAll(IRejectionSink sink)
    {
        while (Lines.TryReadLine(out var line, out long offset))
        {
            if (offset == _headerOffset) continue;
            if (Lines.LastLineTooLong)
            {
                sink.Reject(LongLineRejection(line, offset));
                continue;
            }
            var status = CsvRowParser.ParseAlone(line, ref _scratch, AllowNonFinite, out int count, out int bad);
            if (status == RowStatus.Ok) throw ChangedWhileReading(offset);
            sink.Reject(Rejection(line, offset, CsvRowParser.Describe(status, line, count, count, bad)));
        }
        return 0;
    }

    private long FindHeader()
    {
        var lines = ScanFromStart();
        while (lines.TryReadLine(out var line, out long offset))
        {
            if (lines.LastLineTooLong) return -1;
            if (CsvRowParser.IsBlank(line)) continue;
            return CsvRowParser.IsHeader(line, Dimension) ? offset : -1;
        }
        return -1;
    }
}
