using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using System.Text;

namespace MvnStream.Cluster.Protocol.Wire;

/// <summary>
/// Reads the protobuf encoding <see cref="ProtoWriter"/> wrote, within a limit (the end of the payload or of the nested
/// message being read). Every read names the field it reads, so a short or malformed payload fails with a
/// <see cref="SerializationException"/> that says which message, which field, at which offset and how many bytes were
/// missing. Lengths are checked against the bytes remaining before anything is allocated.
/// </summary>
internal sealed class ProtoReader(byte[] data, int position, int limit, string manifest, string typeName)
{
    private int _position = position;

    public int Position => _position;

    /// <summary>The end of what is being read now (payload or nested message).</summary>
    public int Limit { get; private set; } = limit;

    public int Remaining => Limit - _position;

    /// <summary>Reads a nested message of <paramref name="length"/> bytes from here: the limit moves to its end and back.</summary>
    public T Nested<T>(int length, Func<ProtoReader, T> read)
    {
        int outer = Limit;
        Limit = _position + length;
        var value = read(this);
        Limit = outer;
        return value;
    }

    /// <summary>
    /// A nested value announced longer than the bytes left: read what is there to name the innermost field that was cut
    /// (the statistics' scatter, not only the statistics), else name <paramref name="field"/> itself.
    /// </summary>
    public SerializationException TruncatedNested(string field, int length, Action<ProtoReader> readPartial)
    {
        int at = _position;
        try { readPartial(this); }
        catch (SerializationException e) when (e.Data.Contains(TruncatedKey)) { return e; }
        _position = at;
        return Truncated(field, length);
    }

    public (int Number, WireType Type) ReadTag()
    {
        int at = _position;
        ulong tag = ReadVarint("a field tag");
        int number = (int)(tag >> 3);
        uint type = (uint)(tag & 7);
        if (tag >> 3 is 0 or > (1 << 29) - 1 || type is 3 or 4 or 6 or 7)
            throw Malformed($"field tag {tag} at offset {at} (field {tag >> 3}, wire type {type}) is not a valid tag");
        return (number, (WireType)type);
    }

    public ulong ReadVarint(string field)
    {
        ulong value = 0;
        for (int shift = 0, i = 0; i < 10; i++, shift += 7)
        {
            if (_position >= Limit) throw Truncated(field + " (varint)", 1);
            byte b = data[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw Malformed($"{field}: a varint longer than 10 bytes at offset {_position - 10}");
    }

    public long ReadFixed64(string field)
    {
        if (Remaining < sizeof(long)) throw Truncated(field, sizeof(long));
        long value = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(_position));
        _position += sizeof(long);
        return value;
    }

    /// <summary>The length of a length-delimited field; may exceed <see cref="Remaining"/> (the caller says which field was cut).</summary>
    public int ReadLength(string field)
    {
        int at = _position;
        ulong length = ReadVarint(field + " (length)");
        if (length > int.MaxValue) throw Malformed($"{field} has length {length} at offset {at}");
        return (int)length;
    }

    public string ReadUtf8(string field, int length)
    {
        if (length > Remaining) throw Truncated(field, length);
        var s = length == 0 ? string.Empty : Encoding.UTF8.GetString(data, _position, length);
        _position += length;
        return s;
    }

    /// <summary>An array written by <see cref="ProtoWriter.WriteBlock{T}"/>: <paramref name="length"/> bytes, a whole number of elements.</summary>
    public T[] ReadBlock<T>(string field, int length) where T : unmanaged
    {
        int size = Unsafe.SizeOf<T>();
        if (length > Remaining) throw Truncated(field, length);
        if (length % size != 0) throw Malformed($"{field} has {length} bytes at offset {_position}, not a whole number of {size}-byte elements");
        if (length == 0) return [];
        var result = GC.AllocateUninitializedArray<T>(length / size);
        var target = MemoryMarshal.AsBytes(result.AsSpan());
        data.AsSpan(_position, length).CopyTo(target);
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < target.Length; i += size) target.Slice(i, size).Reverse();
        _position += length;
        return result;
    }

    /// <summary>Skips a field this node does not know (written by a newer node): forward compatibility.</summary>
    public void Skip(int number, WireType type)
    {
        string field = "unknown field " + number.ToString(CultureInfo.InvariantCulture);
        switch (type)
        {
            case WireType.Varint: ReadVarint(field); break;
            case WireType.Fixed64: Advance(field, 8); break;
            case WireType.Fixed32: Advance(field, 4); break;
            case WireType.LengthDelimited: Advance(field, ReadLength(field)); break;
        }
    }

    private void Advance(string field, int count)
    {
        if (count > Remaining) throw Truncated(field, count);
        _position += count;
    }

    public SerializationException Malformed(string what) =>
        new($"MvnStreamSerializer: malformed payload for manifest '{manifest}' ({typeName}): {what}");

    /// <summary>Marks a truncation (in <see cref="Exception.Data"/>), told apart from other malformations without parsing messages.</summary>
    private const string TruncatedKey = "MvnStream.Truncated";

    public SerializationException Truncated(string field, long needed)
    {
        var e = new SerializationException($"MvnStreamSerializer: truncated payload for manifest '{manifest}' ({typeName}): {field} needs {needed} bytes at offset {_position} but only {Math.Max(0, Remaining)} remain (payload is {data.Length} bytes)");
        e.Data[TruncatedKey] = true;
        return e;
    }
}

