using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace MvnStream.Cluster.Protocol.Wire;

/// <summary>
/// Appends MvnStream's binary wire primitives to a buffer: little-endian fixed-width integers,
/// doubles as their exact IEEE-754 bits (NaN payloads and -0.0 survive), arrays and strings as an
/// int32 length (-1 for null) followed by the raw bytes (UTF-8 for strings). Arrays of doubles,
/// ints and longs are copied as one block, never element by element. A struct over the buffer, so passing it
/// around allocates nothing; all state lives in the buffer.
/// </summary>
internal readonly struct WireWriter(IBufferWriter<byte> buffer)
{
    /// <summary>Length written in place of an array or string to mean null.</summary>
    public const int NullLength = -1;

    public void WriteByte(byte value)
    {
        buffer.GetSpan(1)[0] = value;
        buffer.Advance(1);
    }

    public void WriteBool(bool value) => WriteByte(value ? (byte)1 : (byte)0);

    public void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(buffer.GetSpan(sizeof(int)), value);
        buffer.Advance(sizeof(int));
    }

    public void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(buffer.GetSpan(sizeof(long)), value);
        buffer.Advance(sizeof(long));
    }

    /// <summary>The double's bits exactly (no canonicalisation of NaN, -0.0 kept).</summary>
    public void WriteDouble(double value) => WriteInt64(BitConverter.DoubleToInt64Bits(value));

    /// <summary>
    /// A <see cref="DateTime"/> exactly: its int64 <see cref="DateTime.Ticks"/> then its <see cref="DateTime.Kind"/>
    /// as one byte (0 Unspecified, 1 Utc, 2 Local). No time-zone conversion either way, so Local stays Local.
    /// </summary>
    public void WriteDateTime(DateTime value)
    {
        WriteInt64(value.Ticks);
        WriteByte((byte)value.Kind);
    }

    /// <summary>Writes a presence flag (0 = null, 1 = present) and returns whether a value follows.</summary>
    public bool WritePresence<T>(T? value) where T : class
    {
        WriteBool(value is not null);
        return value is not null;
    }

    /// <summary>UTF-8 byte count (int32, -1 = null) then the bytes. Lone surrogates become U+FFFD, as in any UTF-8 encoding.</summary>
    public void WriteString(string? value)
    {
        if (value is null)
        {
            WriteInt32(NullLength);
            return;
        }
        int count = Encoding.UTF8.GetByteCount(value);
        WriteInt32(count);
        if (count == 0) return;
        int written = Encoding.UTF8.GetBytes(value, buffer.GetSpan(count));
        buffer.Advance(written);
    }

    public void WriteStrings(string[]? values)
    {
        if (values is null)
        {
            WriteInt32(NullLength);
            return;
        }
        WriteInt32(values.Length);
        foreach (var s in values) WriteString(s);
    }

    /// <summary>Element count (int32, -1 = null) then the doubles' little-endian bytes in one copy.</summary>
    public void WriteDoubles(double[]? values) => WriteBlock(values);

    /// <summary>Element count (int32, -1 = null) then the ints' little-endian bytes in one copy.</summary>
    public void WriteInt32s(int[]? values) => WriteBlock(values);

    /// <summary>Element count (int32, -1 = null) then the longs' little-endian bytes in one copy.</summary>
    public void WriteInt64s(long[]? values) => WriteBlock(values);

    /// <summary>An array of fixed-size numbers as one block copy; on a big-endian machine each element's bytes are reversed.</summary>
    private void WriteBlock<T>(T[]? values) where T : unmanaged
    {
        if (values is null)
        {
            WriteInt32(NullLength);
            return;
        }
        WriteInt32(values.Length);
        if (values.Length == 0) return;
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        var target = buffer.GetSpan(bytes.Length)[..bytes.Length];
        bytes.CopyTo(target);
        if (!BitConverter.IsLittleEndian)
        {
            int size = Unsafe.SizeOf<T>();
            for (int i = 0; i < target.Length; i += size) target.Slice(i, size).Reverse();
        }
        buffer.Advance(bytes.Length);
    }
}
