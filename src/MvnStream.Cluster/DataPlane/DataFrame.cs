using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using MvnStream.Core.Model;

namespace MvnStream.Cluster.DataPlane;

/// <summary>What a data-plane frame carries (docs/ARCHITECTURE.md, "The data plane").</summary>
public enum FrameKind : ushort
{
    /// <summary>Coordinator to worker: theta of a round and the shards to compute it for.</summary>
    Round = 1,

    /// <summary>Worker to coordinator: one shard's J and packed gradient at the round's theta.</summary>
    Gradient = 2,
}

/// <summary>A frame that cannot be read: torn (the connection closed inside it), corrupt (bad checksum) or out of bounds.</summary>
public sealed class DataFrameException(string message) : IOException(message);

/// <summary>
/// The data plane's frame codec (docs/ARCHITECTURE.md, "The data plane"): a 48-byte little-endian header (magic "MVND",
/// version, kind, round, shard or shard count, d, parameterization, job id length, body length, J, XxHash3 checksum of
/// header and body), then the body: the job id (UTF-8, padded to 8 bytes), for a round the shard indices (int32, padded
/// to 8 bytes), then the packed values (mu and Lambda's free entries, or their gradients) as raw doubles, so that they
/// can be read in place. Frames live in pooled buffers (<see cref="Frame"/>): no per-round large-object-heap allocation.
/// </summary>
public static class DataFrame
{
    public const uint Magic = 0x444E564D; // "MVND" little-endian
    public const ushort Version = 1;
    public const int HeaderBytes = 48;
    public const int MaxJobIdBytes = 1024;
    public const int MaxShards = 1 << 16;

    /// <summary>Largest d a frame may carry: d^2 must fit an int.</summary>
    public const int MaxDimension = 46340;

    /// <summary>Largest body accepted unless the reader says: 1 GiB (ArrayPool's largest array).</summary>
    public const long DefaultMaxBodyBytes = 1L << 30;

    private const int ChecksumOffset = 40;

    private static int Pad8(int n) => (n + 7) & ~7;

    /// <summary>Body bytes of a frame; throws <see cref="DataFrameException"/> when the fields are out of bounds.</summary>
    public static long BodyBytes(FrameKind kind, int jobIdBytes, int shards, int dimension, Parameterization p)
    {
        if (kind is not (FrameKind.Round or FrameKind.Gradient)) throw new DataFrameException($"unknown frame kind {(ushort)kind}");
        if (jobIdBytes is < 0 or > MaxJobIdBytes) throw new DataFrameException($"job id of {jobIdBytes} bytes is outside 0..{MaxJobIdBytes}");
        if (dimension is < 1 or > MaxDimension) throw new DataFrameException($"d = {dimension} is outside 1..{MaxDimension}");
        if (p is not (Parameterization.LowerTriangular or Parameterization.Full)) throw new DataFrameException($"unknown parameterization {(int)p}");
        if (kind == FrameKind.Round && shards is < 1 or > MaxShards) throw new DataFrameException($"a round for {shards} shards (expected 1..{MaxShards})");
        long values = MvnParameters.PackedLength(dimension, p);
        return Pad8(jobIdBytes) + (kind == FrameKind.Round ? Pad8(4 * shards) : 0) + 8 * values;
    }

    /// <summary>Encodes a round (theta packed as <see cref="MvnParameters.Pack"/> does) into a pooled frame.</summary>
    public static Frame Round(string jobId, long round, ReadOnlySpan<int> shards, int dimension, Parameterization p, ReadOnlySpan<double> mu, ReadOnlySpan<double> lambdaPacked)
    {
        var frame = Allocate(FrameKind.Round, jobId, round, shards.Length, dimension, p, 0);
        var body = frame.Bytes[HeaderBytes..];
        var indices = body.Slice(Pad8(frame.JobIdBytes), 4 * shards.Length);
        for (int i = 0; i < shards.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(indices[(4 * i)..], shards[i]);
        var values = frame.WritableValues;
        if (mu.Length + lambdaPacked.Length != values.Length)
        {
            frame.Dispose();
            throw new ArgumentException($"theta has {mu.Length + lambdaPacked.Length} values, expected {values.Length} at d = {dimension}");
        }
        mu.CopyTo(values);
        lambdaPacked.CopyTo(values[mu.Length..]);
        frame.Seal();
        return frame;
    }

    /// <summary>A pooled gradient frame whose values the caller fills (<see cref="Frame.WritableValues"/>) before <see cref="Frame.Seal"/>.</summary>
    public static Frame Gradient(string jobId, long round, int shard, int dimension, Parameterization p, double j) =>
        Allocate(FrameKind.Gradient, jobId, round, shard, dimension, p, j);

    private static Frame Allocate(FrameKind kind, string jobId, long round, int shardOrCount, int dimension, Parameterization p, double j)
    {
        int idBytes = Encoding.UTF8.GetByteCount(jobId);
        long body = BodyBytes(kind, idBytes, kind == FrameKind.Round ? shardOrCount : 1, dimension, p);
        if (HeaderBytes + body > Array.MaxLength) throw new DataFrameException($"a frame of {HeaderBytes + body} bytes is too large");
        int length = HeaderBytes + (int)body;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        var span = buffer.AsSpan(0, length);
        span.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], (ushort)kind);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], round);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], shardOrCount);
        BinaryPrimitives.WriteInt32LittleEndian(span[20..], dimension);
        span[24] = (byte)p;
        BinaryPrimitives.WriteUInt16LittleEndian(span[26..], (ushort)idBytes);
        BinaryPrimitives.WriteInt32LittleEndian(span[28..], (int)body);
        BinaryPrimitives.WriteDoubleLittleEndian(span[32..], j);
        Encoding.UTF8.GetBytes(jobId, span[HeaderBytes..]);
        return new Frame(buffer, length, jobId);
    }

    /// <summary>
    /// Reads one frame. Null when the peer closed the connection between frames; <see cref="DataFrameException"/> when it
    /// closed inside one (torn), the checksum does not match (corrupt) or a field is out of bounds.
    /// </summary>
    public static async ValueTask<Frame?> ReadAsync(Stream stream, long maxBodyBytes, CancellationToken token)
    {
        var header = new byte[HeaderBytes];
        int got = await FillAsync(stream, header, token).ConfigureAwait(false);
        if (got == 0) return null;
        if (got < HeaderBytes) throw new DataFrameException($"torn frame: the connection closed after {got} of {HeaderBytes} header bytes");
        var (kind, shards, dimension, p, idBytes, body) = ParseHeader(header);
        long expected = BodyBytes(kind, idBytes, kind == FrameKind.Round ? shards : 1, dimension, p);
        if (body != expected) throw new DataFrameException($"frame body of {body} bytes, expected {expected} for its fields");
        if (body > maxBodyBytes) throw new DataFrameException($"frame body of {body} bytes is over the limit of {maxBodyBytes}");
        int length = HeaderBytes + (int)body;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            header.CopyTo(buffer, 0);
            got = await FillAsync(stream, buffer.AsMemory(HeaderBytes, (int)body), token).ConfigureAwait(false);
            if (got < body) throw new DataFrameException($"torn frame: the connection closed after {HeaderBytes + got} of {length} bytes");
            var span = buffer.AsSpan(0, length);
            ulong sent = BinaryPrimitives.ReadUInt64LittleEndian(span[ChecksumOffset..]);
            if (sent != Checksum(span)) throw new DataFrameException($"corrupt frame: checksum mismatch ({length} bytes)");
            string jobId = Encoding.UTF8.GetString(span.Slice(HeaderBytes, idBytes));
            return new Frame(buffer, length, jobId);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private static (FrameKind Kind, int Shards, int Dimension, Parameterization P, int IdBytes, int Body) ParseHeader(ReadOnlySpan<byte> h)
    {
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(h);
        if (magic != Magic) throw new DataFrameException($"not a data-plane frame (magic 0x{magic:X8})");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(h[4..]);
        if (version != Version) throw new DataFrameException($"frame version {version}, this node speaks {Version}");
        int body = BinaryPrimitives.ReadInt32LittleEndian(h[28..]);
        if (body < 0) throw new DataFrameException($"negative frame body length {body}");
        return ((FrameKind)BinaryPrimitives.ReadUInt16LittleEndian(h[6..]), BinaryPrimitives.ReadInt32LittleEndian(h[16..]),
            BinaryPrimitives.ReadInt32LittleEndian(h[20..]), (Parameterization)h[24], BinaryPrimitives.ReadUInt16LittleEndian(h[26..]), body);
    }

    private static async ValueTask<int> FillAsync(Stream stream, Memory<byte> into, CancellationToken token)
    {
        int total = 0;
        while (total < into.Length)
        {
            int n = await stream.ReadAsync(into[total..], token).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>XxHash3 of the header without its checksum field, then the body.</summary>
    internal static ulong Checksum(ReadOnlySpan<byte> frame)
    {
        var hash = new XxHash3();
        hash.Append(frame[..ChecksumOffset]);
        hash.Append(frame[HeaderBytes..]);
        return hash.GetCurrentHashAsUInt64();
    }

    internal static void WriteChecksum(Span<byte> frame) =>
        BinaryPrimitives.WriteUInt64LittleEndian(frame[ChecksumOffset..], Checksum(frame));
}

/// <summary>
/// One data-plane frame in a pooled buffer: read its fields in place; <see cref="Dispose"/> returns the buffer (once).
/// Values are read and written as raw doubles in this machine's byte order, which must be little-endian (checked).
/// </summary>
public sealed class Frame : IDisposable
{
    private byte[]? _buffer;

    internal Frame(byte[] buffer, int length, string jobId)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the data plane needs a little-endian machine");
        _buffer = buffer;
        Length = length;
        JobId = jobId;
    }

    public int Length { get; }

    public string JobId { get; }

    internal Span<byte> Bytes => (_buffer ?? throw new ObjectDisposedException(nameof(Frame))).AsSpan(0, Length);

    /// <summary>The whole frame, for writing to a socket.</summary>
    public ReadOnlyMemory<byte> Memory => (_buffer ?? throw new ObjectDisposedException(nameof(Frame))).AsMemory(0, Length);

    public FrameKind Kind => (FrameKind)BinaryPrimitives.ReadUInt16LittleEndian(Bytes[6..]);

    public long Round => BinaryPrimitives.ReadInt64LittleEndian(Bytes[8..]);

    /// <summary>A gradient's shard index.</summary>
    public int Shard => BinaryPrimitives.ReadInt32LittleEndian(Bytes[16..]);

    public int Dimension => BinaryPrimitives.ReadInt32LittleEndian(Bytes[20..]);

    public Parameterization Parameterization => (Parameterization)Bytes[24];

    internal int JobIdBytes => BinaryPrimitives.ReadUInt16LittleEndian(Bytes[26..]);

    /// <summary>A gradient's J.</summary>
    public double J => BinaryPrimitives.ReadDoubleLittleEndian(Bytes[32..]);

    private int IndicesOffset => DataFrame.HeaderBytes + ((JobIdBytes + 7) & ~7);

    private int ValuesOffset => Kind == FrameKind.Round ? IndicesOffset + ((4 * ShardCount + 7) & ~7) : IndicesOffset;

    private int ShardCount => Kind == FrameKind.Round ? BinaryPrimitives.ReadInt32LittleEndian(Bytes[16..]) : 0;

    /// <summary>A round's shard indices.</summary>
    public int[] Shards()
    {
        var indices = new int[ShardCount];
        var span = Bytes[IndicesOffset..];
        for (int i = 0; i < indices.Length; i++) indices[i] = BinaryPrimitives.ReadInt32LittleEndian(span[(4 * i)..]);
        return indices;
    }

    /// <summary>The packed values: theta (round) or its gradient (gradient), mu first.</summary>
    public ReadOnlySpan<double> Values => WritableValues;

    internal Span<double> WritableValues => MemoryMarshal.Cast<byte, double>(Bytes[ValuesOffset..]);

    /// <summary>Sets J (gradient frames) and writes the checksum: call once the values are written.</summary>
    public void Seal(double? j = null)
    {
        if (j is { } value) BinaryPrimitives.WriteDoubleLittleEndian(Bytes[32..], value);
        DataFrame.WriteChecksum(Bytes);
    }

    public void Dispose()
    {
        var b = Interlocked.Exchange(ref _buffer, null);
        if (b is not null) ArrayPool<byte>.Shared.Return(b);
    }
}
