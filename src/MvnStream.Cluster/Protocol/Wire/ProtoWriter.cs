using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace MvnStream.Cluster.Protocol.Wire;

/// <summary>The four protobuf wire types MvnStream writes or skips.</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    Fixed32 = 5,
}

/// <summary>
/// Writes the protobuf encoding into an array sized beforehand (<see cref="MessageSchema.Size"/>): varints, fixed
/// 64-bit doubles (bits exact), length-delimited strings, nested messages and arrays. Arrays of doubles, ints and longs
/// are one block copy of their little-endian bytes (protobuf's packed fixed64 / sfixed32 / sfixed64).
/// </summary>
internal sealed class ProtoWriter(byte[] buffer, int position)
{
    public int Position => position;

    public static int VarintSize(ulong value) => (BitOperations.Log2(value | 1) / 7) + 1;

    public static int TagSize(int number) => VarintSize((ulong)number << 3);

    public void WriteTag(int number, WireType type) => WriteVarint(((ulong)number << 3) | (uint)type);

    public void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            buffer[position++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buffer[position++] = (byte)value;
    }

    public void WriteByte(byte value) => buffer[position++] = value;

    public void WriteFixed64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(position), value);
        position += sizeof(long);
    }

    /// <summary>UTF-8 bytes of <paramref name="value"/>, whose count <paramref name="byteCount"/> was written before them.</summary>
    public void WriteUtf8(string value, int byteCount) => position += Encoding.UTF8.GetBytes(value, buffer.AsSpan(position, byteCount));

    /// <summary>The elements' little-endian bytes in one copy; on a big-endian machine each element's bytes are reversed.</summary>
    public void WriteBlock<T>(T[] values) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        var target = buffer.AsSpan(position, bytes.Length);
        bytes.CopyTo(target);
        if (!BitConverter.IsLittleEndian)
        {
            int size = Unsafe.SizeOf<T>();
            for (int i = 0; i < target.Length; i += size) target.Slice(i, size).Reverse();
        }
        position += bytes.Length;
    }
}
