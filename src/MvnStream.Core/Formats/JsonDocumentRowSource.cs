using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace MvnStream.Core.Formats;

/// <summary>
/// Rows of a file that is one JSON document, an array of arrays (pretty-printed over many lines, or all
/// on one long line), streamed with Utf8JsonReader through a fixed buffer so memory does not grow with the
/// file. Further top-level values may follow (each an array of rows, or one flat row). Each row is accepted
/// or rejected on its own. A syntax error ends the file: the reader cannot find the next row after it, so
/// it is reported as fatal whatever the bad-row policy.
/// </summary>
internal sealed class JsonDocumentRowSource : RowSource
{
    private const int BufferSize = 1 << 20;
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64, AllowMultipleValues = true };

    /// <summary>A first line longer than this is not taken for a JSON Lines line.</summary>
    private const int MaxFirstLine = 1 << 20;

    private readonly string _path;
    private readonly SafeFileHandle _file;
    private readonly long _fileLength;
    private readonly bool _allowNonFinite;
    private readonly RowBuffer _row;
    private byte[] _buffer;
    private int _pos;
    private int _len;
    private long _bufferStart;
    private long _nextRead;
    private bool _eof;
    private JsonReaderState _state = new(ReaderOptions);
    private Phase _phase;
    private long _elements;
    private NewlineCounter? _counter;

    private enum Phase { BetweenValues, InArray, Done }

    private enum Step { Row, Rejected, End }

    public JsonDocumentRowSource(string path, SafeFileHandle file, long fileLength, int dimension, bool allowNonFinite, int bufferSize = BufferSize)
    {
        _path = path;
        _file = file;
        _fileLength = fileLength;
        _allowNonFinite = allowNonFinite;
        Dimension = dimension;
        _row = new RowBuffer(dimension, 1);
        _buffer = new byte[bufferSize];
        Refill();
        if (_buffer.AsSpan(0, _len).StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) _pos = 3;
    }

    public override long Position => _phase == Phase.Done ? long.MaxValue : Consumed;

    /// <summary>File offset of the first byte the JSON reader has not consumed.</summary>
    private long Consumed => _bufferStart + _pos;

    /// <summary>
    /// True if the file must be streamed as JSON values rather than read as JSON Lines: its first non-blank
    /// line is an unfinished JSON value (e.g. "[" or "[[1,2],"), or does not end within 1 MiB (a whole
    /// array of arrays written on one line).
    /// </summary>
    public static bool IsSingleDocument(SafeFileHandle file, long fileLength)
    {
        var buffer = new byte[(int)Math.Min(fileLength, MaxFirstLine)];
        int length = 0;
        while (length < buffer.Length)
        {
            int n = RandomAccess.Read(file, buffer.AsSpan(length), length);
            if (n <= 0) break;
            length += n;
        }
        var text = buffer.AsSpan(0, length);
        if (text.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) text = text[3..];
        int first = text.IndexOfAnyExcept(" \t\r\n"u8);
        if (first < 0) return false;
        text = text[first..];
        int nl = text.IndexOf((byte)'\n');
        if (nl < 0 && length < fileLength) return true;
        var line = nl < 0 ? text : text[..nl];

        var reader = new Utf8JsonReader(line, isFinalBlock: false, new JsonReaderState(new JsonReaderOptions { MaxDepth = 64 }));
        bool sawArray = false;
        try
        {
            while (reader.Read())
            {
                if (reader.CurrentDepth == 0)
                {
                    if (reader.TokenType == JsonTokenType.StartArray) sawArray = true;
                    else return false; // a complete value (closing bracket or a primitive at the root)
                }
            }
        }
        catch (JsonException)
        {
            return false; // a malformed line; JSON Lines reading will reject it
        }
        return sawArray;
    }

    public override int Fill(Span<double> block, int maxRows, IRejectionSink sink)
    {
        int rows = 0;
        while (rows < maxRows)
        {
            var step = Next(sink, out string? reason, out long offset, out string? text);
            if (step == Step.End) break;
            if (step == Step.Rejected)
            {
                sink.Reject(new RejectedRow(_path, LineAt(offset), offset, reason!, text));
                continue;
            }
            if (Dimension == 0) throw new InvalidOperationException(
                $"{_path} changed while it was being read: the row at byte {offset} is valid, but when the file was opened it had no valid data row");
            _row.AsSpan().CopyTo(block.Slice(rows * Dimension, Dimension));
            rows++;
        }
        return rows;
    }

    public override int ProbeDimension()
    {
        var probe = new JsonDocumentRowSource(_path, _file, _fileLength, 0, _allowNonFinite, LineRowSource.ProbeBufferSize);
        var quiet = new QuietSink();
        try
        {
            while (true)
            {
                var step = probe.Next(quiet, out _, out _, out _);
                if (step == Step.End) return 0;
                if (step == Step.Row) return probe._row.Dimension;
            }
        }
        catch (BadRowException)
        {
            return 0; // a syntax error before any valid row; the main pass reports it
        }
    }

    /// <summary>The next element of the array: a decoded row (in <see cref="_row"/>), a rejected one, or the end.</summary>
    private Step Next(IRejectionSink sink, out string? reason, out long offset, out string? text)
    {
        reason = null;
        text = null;
        offset = 0;
        while (true)
        {
            var reader = new Utf8JsonReader(_buffer.AsSpan(_pos, _len - _pos), _eof, _state);
            try
            {
                if (!reader.Read())
                {
                    if (_eof)
                    {
                        if (_phase == Phase.InArray) Fatal(sink, "unexpected end of file: the JSON array is not closed", Consumed);
                        _phase = Phase.Done;
                        return Step.End;
                    }
                    Commit(ref reader);
                    Refill();
                    continue;
                }

                switch (_phase)
                {
                    case Phase.BetweenValues:
                        if (reader.TokenType == JsonTokenType.StartArray)
                        {
                            var peek = reader;
                            if (!peek.Read())
                            {
                                Refill(); // cannot see the first element yet: re-read from the '['
                                continue;
                            }
                            if (peek.TokenType == JsonTokenType.StartArray)
                            {
                                _phase = Phase.InArray; // an array of rows
                                Commit(ref reader);
                                continue;
                            }
                            if (peek.TokenType == JsonTokenType.EndArray)
                            {
                                Commit(ref peek); // an empty array of rows
                                continue;
                            }
                        }
                        // A flat row (or a value that is not a row) at the top level.
                        if (Element(ref reader, out reason, out offset, out text) is Step topLevel) return topLevel;
                        Refill();
                        continue;

                    case Phase.InArray:
                        if (reader.TokenType == JsonTokenType.EndArray)
                        {
                            _phase = Phase.BetweenValues;
                            Commit(ref reader);
                            continue;
                        }
                        if (Element(ref reader, out reason, out offset, out text) is Step element) return element;
                        Refill();
                        continue;

                    default:
                        Commit(ref reader);
                        continue;
                }
            }
            catch (JsonException ex)
            {
                long line = ex.LineNumber is long l ? l + 1 : LineAt(Consumed);
                Fatal(sink, "malformed JSON: " + ex.Message, Consumed, line);
                return Step.End;
            }
        }
    }

    /// <summary>
    /// Decodes the element whose first token the reader is on (a row, or a value that is not one) and
    /// commits past it; null, with nothing committed, if it is not all in the buffer yet.
    /// </summary>
    private Step? Element(ref Utf8JsonReader reader, out string? reason, out long offset, out string? text)
    {
        reason = null;
        text = null;
        long start = reader.TokenStartIndex;
        offset = Consumed + start;
        var token = reader.TokenType;
        if ((token == JsonTokenType.StartArray || token == JsonTokenType.StartObject) && !reader.TrySkip()) return null;
        var element = _buffer.AsSpan(_pos + (int)start, (int)(reader.BytesConsumed - start));
        _elements++;
        if (token == JsonTokenType.StartArray)
        {
            int d = Dimension;
            _row.Clear();
            reason = JsonRowDecoder.DecodeSingleRow(element, ref d, _allowNonFinite, _row);
        }
        else
        {
            reason = $"row {_elements} is {Describe(token)}, not an array of numbers";
        }
        if (reason != null) text = RowErrors.RowText(element);
        Commit(ref reader);
        return reason == null ? Step.Row : Step.Rejected;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    private void Commit(ref Utf8JsonReader reader)
    {
        _pos += (int)reader.BytesConsumed;
        _state = reader.CurrentState;
    }

    private void Fatal(IRejectionSink sink, string reason, long offset, long line = -1)
    {
        _phase = Phase.Done;
        _pos = _len;
        _eof = true;
        sink.Reject(new RejectedRow(_path, line > 0 ? line : LineAt(offset), offset, reason, null), fatal: true);
    }

    private long LineAt(long offset) => (_counter ??= new NewlineCounter(_file)).LineAt(offset);

    /// <summary>Moves the unread bytes to the front (growing the buffer if they fill it) and reads more.</summary>
    private void Refill()
    {
        if (_pos > 0)
        {
            int keep = _len - _pos;
            _buffer.AsSpan(_pos, keep).CopyTo(_buffer);
            _bufferStart += _pos;
            _len = keep;
            _pos = 0;
        }
        if (_len == _buffer.Length) Array.Resize(ref _buffer, checked(_buffer.Length * 2));
        int n = RandomAccess.Read(_file, _buffer.AsSpan(_len), _nextRead);
        _nextRead += n;
        _len += n;
        if (n == 0 || _nextRead >= _fileLength) _eof = true;
    }

    /// <summary>Ignores rejections except fatal ones, which it throws (used by the dimension probe).</summary>
    private sealed class QuietSink : IRejectionSink
    {
        public void Reject(RejectedRow row, bool fatal = false)
        {
            if (fatal) throw new BadRowException(row, "");
        }
    }
}
