using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Google.Protobuf;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Model;
using Schema = MvnStream.Kafka.Streaming.Checkpoints.Schema;

namespace MvnStream.Kafka.Streaming.Checkpoints;

/// <summary>
/// The bytes of a stored <see cref="StreamCheckpoint"/> (file or Kafka record set), a format of its own, independent of
/// the cluster wire protocol, so that upgrading the wire protocol never makes stored state unreadable (a stream whose
/// topic retention has passed could never be rebuilt). Self-describing and versioned:
/// <code>
/// offset 0   "MVNCKPT"                    7 ASCII bytes
/// offset 7   major format version         1 ASCII digit ('2'; '1' is the legacy format below)
/// offset 8   minor format version         uint16 little-endian
/// offset 10  body length                  uint32 little-endian
/// offset 14  CRC-32 (IEEE) of the body    uint32 little-endian
/// offset 18  body                         protobuf message mvnstream.checkpoint.Checkpoint (checkpoint.proto)
/// </code>
/// A reader reads every older major version and every minor version of its own major version (protobuf skips the fields
/// it does not know), and refuses a newer major version with a message that says to upgrade. Version 1 is what releases
/// before this format wrote ("MVNCKPT1", then the wire codec's StreamCheckpoint payload): read by
/// <see cref="CheckpointV1Reader"/>, never written. Nothing read is trusted: a wrong magic, a truncation, a checksum
/// mismatch, a malformed body or arrays that do not fit d are a <see cref="CheckpointFormatException"/> naming the source
/// and what is wrong.
/// </summary>
public static class CheckpointFormat
{
    /// <summary>The format this release writes.</summary>
    public const int MajorVersion = 2;

    /// <summary>Raised for additive changes to checkpoint.proto; informational (any minor version of <see cref="MajorVersion"/> is read).</summary>
    public const int MinorVersion = 0;

    /// <summary>Magic, major version digit, minor version, body length, CRC-32.</summary>
    public const int HeaderBytes = 7 + 1 + 2 + 4 + 4;

    /// <summary>"MVNCKPT": the first bytes of every checkpoint of every format version.</summary>
    public static ReadOnlySpan<byte> Magic => "MVNCKPT"u8;

    /// <summary>The checkpoint as format <see cref="MajorVersion"/>.<see cref="MinorVersion"/>.</summary>
    public static byte[] Encode(StreamCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return Envelope(ToMessage(checkpoint).ToByteArray(), MajorVersion, MinorVersion);
    }

    /// <summary>A body in the envelope: also how tests make checkpoints of other (future) versions.</summary>
    internal static byte[] Envelope(ReadOnlySpan<byte> body, int major, int minor)
    {
        var bytes = new byte[HeaderBytes + body.Length];
        Magic.CopyTo(bytes);
        bytes[7] = (byte)('0' + major);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)minor);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(10), (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(14), Crc32.HashToUInt32(body));
        body.CopyTo(bytes.AsSpan(HeaderBytes));
        return bytes;
    }

    /// <summary>The major format version of stored bytes (1 or later), read from the header only.</summary>
    public static int VersionOf(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < Magic.Length + 1 || !bytes[..Magic.Length].SequenceEqual(Magic))
            throw new CheckpointFormatException(source, bytes.Length == 0 ? "empty file or record, not a checkpoint" : "not an MvnStream checkpoint (it does not start with \"MVNCKPT\")");
        int version = bytes[Magic.Length] - '0';
        if (version < 1) throw new CheckpointFormatException(source, $"not an MvnStream checkpoint (format version byte 0x{bytes[Magic.Length]:X2})");
        return version;
    }

    /// <summary>Reads a checkpoint of format version 1 or 2; <paramref name="source"/> names it in errors (a path, a topic and offset).</summary>
    public static StreamCheckpoint Decode(ReadOnlySpan<byte> bytes, string source)
    {
        int version = VersionOf(bytes, source);
        if (version > MajorVersion)
            throw new CheckpointFormatException(source,
                $"checkpoint format version {version} is newer than this release reads ({MajorVersion}); upgrade mvnstream");
        var checkpoint = version == 1 ? CheckpointV1Reader.Read(bytes, source) : DecodeV2(bytes, source);
        Validate(checkpoint, source);
        return checkpoint;
    }

    private static StreamCheckpoint DecodeV2(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < HeaderBytes)
            throw new CheckpointFormatException(source, $"truncated checkpoint: {bytes.Length} bytes, shorter than the {HeaderBytes}-byte header");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[10..]);
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes[14..]);
        var body = bytes[HeaderBytes..];
        if (body.Length < length)
            throw new CheckpointFormatException(source, $"truncated checkpoint: the header announces a body of {length:N0} bytes, {body.Length:N0} are there");
        if (body.Length > length)
            throw new CheckpointFormatException(source, $"corrupt checkpoint: {body.Length - length:N0} bytes after its {length:N0}-byte body");
        uint actual = Crc32.HashToUInt32(body);
        if (actual != crc)
            throw new CheckpointFormatException(source, $"corrupt checkpoint: the CRC-32 of its {length:N0}-byte body is {actual:X8}, the header says {crc:X8}");
        Schema.Checkpoint message;
        try { message = Schema.Checkpoint.Parser.ParseFrom(body); }
        catch (InvalidProtocolBufferException e)
        {
            throw new CheckpointFormatException(source, $"malformed checkpoint body: {e.Message}");
        }
        return FromMessage(message, source);
    }

    // ---------------------------------------------------------------------------------------------
    // StreamCheckpoint <-> checkpoint.proto.
    // ---------------------------------------------------------------------------------------------

    internal static Schema.Checkpoint ToMessage(StreamCheckpoint c)
    {
        var m = new Schema.Checkpoint
        {
            JobKey = c.JobKey ?? "",
            Epoch = c.Epoch,
            Version = c.Version,
            Dimension = c.Dimension,
            Topic = c.Topic ?? "",
            AcceptedRecords = c.AcceptedRecords,
            RejectedRecords = c.RejectedRecords,
            Duplicates = c.Duplicates,
            Refused = c.Refused,
            Written = new Schema.Timestamp { Ticks = c.WrittenUtc.Ticks, Kind = (int)c.WrittenUtc.Kind },
        };
        if (c.Theta is { } t)
            m.Theta = new Schema.Theta { Dimension = t.Dimension, Parameterization = (Schema.Parameterization)t.Parameterization, Mu = Bytes(t.Mu), LambdaPacked = Bytes(t.LambdaPacked) };
        if (c.AdamFirstMoment is { Length: > 0 } || c.AdamSecondMoment is { Length: > 0 } || c.AdamStep != 0 || c.AdamLearningRate != 0)
            m.Adam = new Schema.AdamState { FirstMoment = Bytes(c.AdamFirstMoment), SecondMoment = Bytes(c.AdamSecondMoment), Step = c.AdamStep, LearningRate = c.AdamLearningRate };
        if (c.Statistics is { } s)
            m.Statistics = new Schema.Statistics
            {
                Dimension = s.Dimension, Count = s.Count, Weight = s.Weight, Mean = Bytes(s.Mean), ScatterLower = Bytes(s.ScatterLower), Third = Bytes(s.Third), Fourth = s.Fourth,
                ColumnMin = Bytes(s.ColumnMin), ColumnMax = Bytes(s.ColumnMax),
            };
        int partitions = c.Partitions?.Length ?? 0;
        if (c.Starts?.Length != partitions || c.Nexts?.Length != partitions || c.Lost?.Length != partitions)
            throw new ArgumentException($"checkpoint ledger: {partitions} partitions but {c.Starts?.Length} starts, {c.Nexts?.Length} nexts, {c.Lost?.Length} lost counts");
        for (int i = 0; i < partitions; i++)
            m.Partitions.Add(new Schema.PartitionLedger { Partition = c.Partitions![i], Start = c.Starts![i], Next = c.Nexts![i], Lost = c.Lost![i] });
        return m;
    }

    private static StreamCheckpoint FromMessage(Schema.Checkpoint m, string source)
    {
        var ts = m.Written ?? new Schema.Timestamp();
        if ((ulong)ts.Ticks > (ulong)DateTime.MaxValue.Ticks || ts.Kind is < 0 or > (int)DateTimeKind.Local)
            throw new CheckpointFormatException(source, $"malformed checkpoint body: an invalid time of writing ({ts.Ticks} ticks, kind {ts.Kind})");
        var theta = m.Theta is { } t
            ? new ThetaData(t.Dimension, (Parameterization)t.Parameterization, Doubles(t.Mu, "theta.mu", source), Doubles(t.LambdaPacked, "theta.lambda_packed", source))
            : null;
        var stats = m.Statistics is { } s
            ? new StatisticsData(s.Dimension, s.Count, s.Weight, Doubles(s.Mean, "statistics.mean", source), Doubles(s.ScatterLower, "statistics.scatter_lower", source),
                Doubles(s.Third, "statistics.third", source), s.Fourth, Doubles(s.ColumnMin, "statistics.column_min", source), Doubles(s.ColumnMax, "statistics.column_max", source))
            : null;
        var adam = m.Adam ?? new Schema.AdamState();
        var parts = m.Partitions;
        return new StreamCheckpoint(m.JobKey, m.Epoch, m.Version, m.Dimension, theta,
            Doubles(adam.FirstMoment, "adam.first_moment", source), Doubles(adam.SecondMoment, "adam.second_moment", source), adam.Step, adam.LearningRate,
            stats, m.Topic,
            parts.Select(p => p.Partition).ToArray(), parts.Select(p => p.Start).ToArray(), parts.Select(p => p.Next).ToArray(), parts.Select(p => p.Lost).ToArray(),
            m.AcceptedRecords, m.RejectedRecords, m.Duplicates, m.Refused, new DateTime(ts.Ticks, (DateTimeKind)ts.Kind));
    }

    /// <summary>Little-endian IEEE-754 bytes of the doubles (bits exact); null as empty.</summary>
    private static ByteString Bytes(double[]? values)
    {
        if (values is null || values.Length == 0) return ByteString.Empty;
        if (BitConverter.IsLittleEndian) return ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        var bytes = new byte[values.Length * sizeof(double)];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * sizeof(double)), values[i]);
        return ByteString.CopyFrom(bytes);
    }

    private static double[] Doubles(ByteString bytes, string field, string source)
    {
        var span = bytes.Span;
        if (span.Length % sizeof(double) != 0)
            throw new CheckpointFormatException(source, $"malformed checkpoint body: field {field} has {span.Length} bytes, not a whole number of 8-byte doubles");
        var result = GC.AllocateUninitializedArray<double>(span.Length / sizeof(double));
        if (BitConverter.IsLittleEndian) span.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
        else for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadDoubleLittleEndian(span[(i * sizeof(double))..]);
        return result;
    }

    /// <summary>What a reader of any version checks before the state is used: arrays that fit d, a whole ledger.</summary>
    private static void Validate(StreamCheckpoint c, string source)
    {
        int d = c.Dimension;
        void Require(bool ok, string what)
        {
            if (!ok) throw new CheckpointFormatException(source, "inconsistent checkpoint: " + what);
        }
        Require(d >= 0, $"dimension {d}");
        Require(c.JobKey is not null && c.Topic is not null, "no job key or topic");
        if (c.Theta is { } t)
        {
            Require(t.Dimension == d, $"theta has dimension {t.Dimension}, the checkpoint {d}");
            Require(t.Mu?.Length == d, $"theta.mu has {t.Mu?.Length} values, expected {d}");
            long lambda = t.Parameterization == Parameterization.Full ? (long)d * d : (long)d * (d + 1) / 2;
            Require(t.Parameterization is Parameterization.LowerTriangular or Parameterization.Full, $"unknown parameterization {(int)t.Parameterization}");
            Require(t.LambdaPacked?.Length == lambda, $"theta.lambda_packed has {t.LambdaPacked?.Length} values, expected {lambda} for d = {d} ({t.Parameterization})");
        }
        Require(c.AdamFirstMoment is not null && c.AdamSecondMoment is not null && c.AdamFirstMoment.Length == c.AdamSecondMoment.Length,
            $"Adam moments of {c.AdamFirstMoment?.Length} and {c.AdamSecondMoment?.Length} values");
        if (c.Statistics is { } s)
        {
            Require(s.Dimension == d, $"statistics have dimension {s.Dimension}, the checkpoint {d}");
            Require(s.Mean?.Length == d, $"statistics.mean has {s.Mean?.Length} values, expected {d}");
            Require(s.ScatterLower?.Length == (long)d * (d + 1) / 2, $"statistics.scatter_lower has {s.ScatterLower?.Length} values, expected {(long)d * (d + 1) / 2} for d = {d}");
            Require(s.Third?.Length == d, $"statistics.third has {s.Third?.Length} values, expected {d}");
            Require(s.ColumnMin?.Length == d && s.ColumnMax?.Length == d, $"statistics column min/max have {s.ColumnMin?.Length}/{s.ColumnMax?.Length} values, expected {d} each");
            Require(s.Count >= 0, $"statistics count {s.Count}");
        }
        int n = c.Partitions?.Length ?? -1;
        Require(n >= 0 && c.Starts?.Length == n && c.Nexts?.Length == n && c.Lost?.Length == n, "a ledger whose partitions, starts, nexts and lost counts differ in number");
        for (int i = 0; i < n; i++)
            Require(c.Starts![i] >= 0 && c.Starts[i] <= c.Nexts![i] && c.Lost![i] >= 0,
                string.Create(CultureInfo.InvariantCulture, $"partition {c.Partitions![i]} covers [{c.Starts[i]}, {c.Nexts![i]}) with {c.Lost![i]} lost"));
    }
}

/// <summary>A stored checkpoint that cannot be read: says which one (path, or topic and offset) and what is wrong with it.</summary>
public sealed class CheckpointFormatException(string location, string problem) : IOException($"{location}: {problem}")
{
    /// <summary>The file, or topic and offset, that holds the checkpoint.</summary>
    public string Location { get; } = location;

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; } = problem;
}
