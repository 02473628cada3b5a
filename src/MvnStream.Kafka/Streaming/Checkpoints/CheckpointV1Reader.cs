using System.Buffers.Binary;
using System.Text;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Model;

namespace MvnStream.Kafka.Streaming.Checkpoints;

/// <summary>
/// Reads checkpoint format version 1, what releases before <see cref="CheckpointFormat"/> wrote: the Akka envelope of
/// the cluster wire codec around its StreamCheckpoint payload (wire version 1). Frozen here, byte for byte, so that the
/// wire protocol can change without making these checkpoints unreadable. Never written any more.
/// <code>
/// "MVNCKPT1"                  8 ASCII bytes (the '1' is the format version)
/// serializer id               int32 LE, 4217
/// manifest                    int32 LE length, UTF-8 "SCk"
/// payload                     int32 LE length, then: wire version byte (1, or 2 from the release that added the
///                             statistics' column min and max) and the fields in declaration order,
///                             little-endian (int32, int64, doubles as their 8 bytes; strings and arrays as an int32
///                             count, -1 for null, then UTF-8 or raw bytes; a nested record as a presence byte 0/1
///                             then its fields; the DateTime as int64 ticks and a kind byte)
/// </code>
/// </summary>
internal static class CheckpointV1Reader
{
    private const int SerializerId = 4217;
    private const string Manifest = "SCk";

    public static StreamCheckpoint Read(ReadOnlySpan<byte> bytes, string source)
    {
        var r = new Reader(bytes, source) { Position = 8 }; // past "MVNCKPT1"
        int id = r.Int32("serializer id");
        if (id != SerializerId) throw r.Problem($"serializer id {id}, expected {SerializerId}");
        string? manifest = r.String("manifest");
        if (manifest != Manifest) throw r.Problem($"manifest '{manifest}', expected '{Manifest}'");
        int payload = r.Int32("payload length");
        if (payload < 0 || payload != r.Remaining)
            throw new CheckpointFormatException(source, $"truncated checkpoint (format version 1): {r.Remaining:N0} of {payload:N0} payload bytes");
        byte wire = r.Byte("wire version");
        if (wire is not (1 or 2)) throw r.Problem($"wire version {wire}, expected 1 or 2");
        var checkpoint = new StreamCheckpoint(
            r.String("JobKey")!,
            r.Int64("Epoch"),
            r.Int64("Version"),
            r.Int32("Dimension"),
            ReadTheta(ref r),
            r.Doubles("AdamFirstMoment"),
            r.Doubles("AdamSecondMoment"),
            r.Int64("AdamStep"),
            r.Double("AdamLearningRate"),
            ReadStatistics(ref r, wire),
            r.String("Topic")!,
            r.Block<int>("Partitions", sizeof(int), BinaryPrimitives.ReadInt32LittleEndian),
            r.Block<long>("Starts", sizeof(long), BinaryPrimitives.ReadInt64LittleEndian),
            r.Block<long>("Nexts", sizeof(long), BinaryPrimitives.ReadInt64LittleEndian),
            r.Block<long>("Lost", sizeof(long), BinaryPrimitives.ReadInt64LittleEndian),
            r.Int64("AcceptedRecords"),
            r.Int64("RejectedRecords"),
            r.Int64("Duplicates"),
            r.Int64("Refused"),
            ReadDateTime(ref r));
        if (r.Remaining != 0) throw r.Problem($"{r.Remaining} bytes after the last field");
        return checkpoint;
    }

    private static ThetaData? ReadTheta(ref Reader r) =>
        !r.Presence("Theta") ? null : new ThetaData(r.Int32("Theta.Dimension"), (Parameterization)r.Int32("Theta.Parameterization"), r.Doubles("Theta.Mu"), r.Doubles("Theta.LambdaPacked"));

    /// <summary>
    /// Wire version 2 added each column's min and max after the fourth moment. Version 1 did not carry them: the range is
    /// unknown, read as (-inf, +inf) for a column with rows (never taken for a constant column), (+inf, -inf) with none.
    /// </summary>
    private static StatisticsData? ReadStatistics(ref Reader r, byte wire)
    {
        if (!r.Presence("Statistics")) return null;
        int d = r.Int32("Statistics.Dimension");
        long count = r.Int64("Statistics.Count");
        double weight = r.Double("Statistics.Weight");
        var mean = r.Doubles("Statistics.Mean");
        var scatter = r.Doubles("Statistics.ScatterLower");
        var third = r.Doubles("Statistics.Third");
        double fourth = r.Double("Statistics.Fourth");
        double[] min, max;
        if (wire >= 2)
        {
            min = r.Doubles("Statistics.ColumnMin");
            max = r.Doubles("Statistics.ColumnMax");
        }
        else
        {
            if (d < 0 || d > 1 << 20) throw r.Problem($"Statistics.Dimension {d}");
            min = new double[d];
            max = new double[d];
            Array.Fill(min, count > 0 ? double.NegativeInfinity : double.PositiveInfinity);
            Array.Fill(max, count > 0 ? double.PositiveInfinity : double.NegativeInfinity);
        }
        return new StatisticsData(d, count, weight, mean, scatter, third, fourth, min, max);
    }

    private static DateTime ReadDateTime(ref Reader r)
    {
        long ticks = r.Int64("WrittenUtc");
        byte kind = r.Byte("WrittenUtc kind");
        if ((ulong)ticks > (ulong)DateTime.MaxValue.Ticks || kind > (byte)DateTimeKind.Local)
            throw r.Problem($"WrittenUtc of {ticks} ticks, kind {kind}");
        return new DateTime(ticks, (DateTimeKind)kind);
    }

    /// <summary>Little-endian reads that name the field when the bytes run out or are malformed.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data, string source)
    {
        private readonly ReadOnlySpan<byte> _data = data;

        public int Position { get; set; }

        public readonly int Remaining => _data.Length - Position;

        public readonly CheckpointFormatException Problem(string what) =>
            new(source, $"malformed checkpoint (format version 1) at byte {Position}: {what}");

        private ReadOnlySpan<byte> Take(int count, string field)
        {
            if (count < 0 || count > Remaining)
                throw new CheckpointFormatException(source, $"truncated checkpoint (format version 1): {field} needs {count} bytes at byte {Position}, {Remaining} remain");
            var span = _data.Slice(Position, count);
            Position += count;
            return span;
        }

        public byte Byte(string field) => Take(1, field)[0];

        public int Int32(string field) => BinaryPrimitives.ReadInt32LittleEndian(Take(4, field));

        public long Int64(string field) => BinaryPrimitives.ReadInt64LittleEndian(Take(8, field));

        public double Double(string field) => BitConverter.Int64BitsToDouble(Int64(field));

        public bool Presence(string field) => Byte(field + " (presence)") switch
        {
            0 => false,
            1 => true,
            var b => throw Problem($"{field} presence flag {b}, expected 0 or 1"),
        };

        private int Count(string field, int elementBytes)
        {
            int count = Int32(field + " (length)");
            if (count < -1) throw Problem($"{field} has length {count}");
            if (count > Remaining / elementBytes)
                throw new CheckpointFormatException(source, $"truncated checkpoint (format version 1): {field} has {count} elements of {elementBytes} bytes, {Remaining} bytes remain");
            return count;
        }

        public string? String(string field)
        {
            int count = Count(field, 1);
            return count < 0 ? null : Encoding.UTF8.GetString(Take(count, field));
        }

        public double[] Doubles(string field) => Block<double>(field, sizeof(double), BinaryPrimitives.ReadDoubleLittleEndian)!;

        public T[] Block<T>(string field, int size, ReadElement<T> read)
        {
            int count = Count(field, size);
            if (count < 0) return null!;
            var span = Take(count * size, field);
            var result = new T[count];
            for (int i = 0; i < count; i++) result[i] = read(span.Slice(i * size, size));
            return result;
        }
    }

    private delegate T ReadElement<out T>(ReadOnlySpan<byte> bytes);
}
