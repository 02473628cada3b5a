using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using System.Text;

namespace MvnStream.Cluster.Protocol.Wire;

/// <summary>
/// Reads what <see cref="WireWriter"/> wrote. Every read names the field it is reading, so a short
/// or malformed payload fails with a <see cref="SerializationException"/> that says which message,
/// which field, at which offset and how many bytes were missing. Lengths are checked against the
/// bytes remaining before anything is allocated.
/// </summary>
internal ref struct WireReader
{
    private readonly ReadOnlySpan<byte> data;
    private readonly string manifest;
    private readonly string typeName;
    private int position;

    public WireReader(ReadOnlySpan<byte> data, string manifest, string typeName)
    {
        this.data = data;
        this.manifest = manifest;
        this.typeName = typeName;
        position = 0;
    }

    public readonly int Position => position;

    public readonly int Remaining => data.Length - position;

    public byte ReadByte(string field) => Take(1, field)[0];

    public bool ReadBool(string field)
    {
        int at = position;
        byte b = ReadByte(field);
        return b switch
        {
            0 => false,
            1 => true,
            _ => throw Malformed($"{field} at offset {at} is {b}, expected a boolean 0 or 1"),
        };
    }

    public int ReadInt32(string field) => BinaryPrimitives.ReadInt32LittleEndian(Take(sizeof(int), field));

    public long ReadInt64(string field) => BinaryPrimitives.ReadInt64LittleEndian(Take(sizeof(long), field));

    public double ReadDouble(string field) => BitConverter.Int64BitsToDouble(ReadInt64(field));

    /// <summary>
    /// A <see cref="DateTime"/> written by <see cref="WireWriter.WriteDateTime"/>: int64 ticks then a kind byte.
    /// Ticks outside [MinValue, MaxValue] or a kind other than 0, 1, 2 are malformed.
    /// </summary>
    public DateTime ReadDateTime(string field)
    {
        int at = position;
        long ticks = ReadInt64(field + " (ticks)");
        byte kind = ReadByte(field + " (kind)");
        if ((ulong)ticks > (ulong)DateTime.MaxValue.Ticks)
            throw Malformed($"{field} at offset {at} has {ticks} ticks, outside [0, {DateTime.MaxValue.Ticks}]");
        if (kind > (byte)DateTimeKind.Local)
            throw Malformed($"{field} at offset {at + sizeof(long)} has kind {kind}, expected 0 (Unspecified), 1 (Utc) or 2 (Local)");
        return new DateTime(ticks, (DateTimeKind)kind);
    }

    /// <summary>Reads a presence flag written by <see cref="WireWriter.WritePresence{T}"/>.</summary>
    public bool ReadPresence(string field)
    {
        if (Remaining < 1) throw Truncated(field + " (presence flag)", 1, null);
        byte b = data[position];
        if (b > 1) throw Malformed($"{field} (presence flag) at offset {position} is {b}, expected 0 or 1");
        position++;
        return b == 1;
    }

    public string? ReadNullableString(string field) => ReadNullableString(field, -1);

    /// <summary>A string field declared non-nullable; a null on the wire is still returned as null (exact round trip).</summary>
    public string ReadString(string field) => ReadNullableString(field)!;

    public string[] ReadStrings(string field)
    {
        // Each string takes at least its 4-byte length.
        int count = ReadLength(field, sizeof(int));
        if (count < 0) return null!;
        var result = new string[count];
        for (int i = 0; i < result.Length; i++) result[i] = ReadNullableString(field, i)!;
        return result;
    }

    /// <summary>A string, or element <paramref name="index"/> (&gt;= 0) of a string array: the name is only built on error.</summary>
    private string? ReadNullableString(string field, int index)
    {
        int count = ReadLength(field, sizeof(byte), index);
        if (count < 0) return null;
        return count == 0 ? string.Empty : Encoding.UTF8.GetString(Take(count, field, index));
    }

    public double[] ReadDoubles(string field) => ReadBlock<double>(field);

    public int[] ReadInt32s(string field) => ReadBlock<int>(field);

    public long[] ReadInt64s(string field) => ReadBlock<long>(field);

    /// <summary>An array written by WireWriter's block copy; on a big-endian machine each element's bytes are reversed.</summary>
    private T[] ReadBlock<T>(string field) where T : unmanaged
    {
        int size = Unsafe.SizeOf<T>();
        int count = ReadLength(field, size);
        if (count < 0) return null!;
        if (count == 0) return [];
        var source = Take(count * size, field);
        var result = GC.AllocateUninitializedArray<T>(count);
        var target = MemoryMarshal.AsBytes(result.AsSpan());
        source.CopyTo(target);
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < target.Length; i += size) target.Slice(i, size).Reverse();
        return result;
    }

    /// <summary>Fails when bytes are left over: the payload does not match the reader's idea of the layout.</summary>
    public readonly void EnsureEnd()
    {
        if (position != data.Length)
            throw Malformed($"{data.Length - position} unexpected trailing bytes after the last field (read {position} of {data.Length})");
    }

    public readonly SerializationException Malformed(string what) =>
        new($"MvnStreamSerializer: malformed payload for manifest '{manifest}' ({typeName}): {what}");

    /// <summary>An int32 length: -1 means null; otherwise it must fit in the bytes left at <paramref name="minBytesPerElement"/> each.</summary>
    private int ReadLength(string field, int minBytesPerElement, int index = -1)
    {
        int at = position;
        if (Remaining < sizeof(int)) throw Truncated(Name(field, index) + " (length)", sizeof(int), null);
        int count = BinaryPrimitives.ReadInt32LittleEndian(data.Slice(position, sizeof(int)));
        position += sizeof(int);
        if (count < WireWriter.NullLength)
            throw Malformed($"{Name(field, index)} has length {count} at offset {at}");
        if (count > Remaining / minBytesPerElement)
            throw Truncated(Name(field, index), (long)count * minBytesPerElement, $"{count} elements of at least {minBytesPerElement} bytes");
        return count;
    }

    private ReadOnlySpan<byte> Take(int count, string field, int index = -1)
    {
        if ((uint)count > (uint)Remaining) throw Truncated(Name(field, index), count, null);
        var span = data.Slice(position, count);
        position += count;
        return span;
    }

    private static string Name(string field, int index) =>
        index < 0 ? field : field + "[" + index.ToString(System.Globalization.CultureInfo.InvariantCulture) + "]";

    private readonly SerializationException Truncated(string field, long needed, string? detail) =>
        new($"MvnStreamSerializer: truncated payload for manifest '{manifest}' ({typeName}): {field}"
            + (detail is null ? "" : $" ({detail})")
            + $" needs {needed} bytes at offset {position} but only {Remaining} remain (payload is {data.Length} bytes)");
}
