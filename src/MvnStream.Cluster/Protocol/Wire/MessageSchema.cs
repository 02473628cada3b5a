using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;

namespace MvnStream.Cluster.Protocol.Wire;

/// <summary>
/// The protobuf message of a wire record, read from its declaration: each primary-constructor parameter carries a
/// <see cref="FieldAttribute"/> number, and its type gives the encoding (protobuf wire types in brackets):
/// <list type="bullet">
/// <item>int, enum (int32), long (int64), bool: varint [0]; 0 and false are not written.</item>
/// <item>double: fixed64 [1], its exact bits; +0.0 is not written, -0.0 and NaN payloads are. double?: written when it has a value.</item>
/// <item>string: UTF-8 [2]; null is not written, "" is (presence is kept).</item>
/// <item>double[], int[], long[]: the elements' little-endian bytes [2] (packed fixed64 / sfixed32 / sfixed64); null is not written, [] is.</item>
/// <item>string[]: [2] a message of repeated field 1, each element a message whose field 1 is the string (absent for null).</item>
/// <item>a nested wire record (statistics, theta, settings): its message [2]; null is not written.</item>
/// </list>
/// A field absent from a payload reads as its default (0, false, null), so a payload from a node without a newer field
/// reads; a field this node does not know is skipped. Fields are written in number order.
/// Readers, writers and the constructor call are compiled once per type.
/// </summary>
internal sealed class MessageSchema
{
    private static readonly ConcurrentDictionary<Type, MessageSchema> Cache = new();

    private readonly FieldCodec[] _fields;
    private readonly FieldCodec?[] _byNumber;
    private readonly object?[] _defaults;
    private readonly Func<object?[], object> _construct;

    private MessageSchema(Type type)
    {
        Type = type;
        var constructor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).FirstOrDefault()
            ?? throw new InvalidOperationException($"wire type {type.Name} has no public constructor");
        var parameters = constructor.GetParameters();
        var fields = new List<FieldCodec>();
        for (int i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i];
            var number = p.GetCustomAttribute<FieldAttribute>()?.Number
                ?? throw new InvalidOperationException($"wire type {type.Name}: parameter {p.Name} has no [Field(n)] number");
            if (number is < 1 or > 1 << 20)
                throw new InvalidOperationException($"wire type {type.Name}: parameter {p.Name} has field number {number}, outside [1, 2^20]");
            var property = type.GetProperty(p.Name!, BindingFlags.Public | BindingFlags.Instance)
                ?? throw new InvalidOperationException($"wire type {type.Name}: parameter {p.Name} has no property of its name");
            if (fields.FirstOrDefault(f => f.Number == number) is { } clash)
                throw new InvalidOperationException($"wire type {type.Name}: {p.Name} and {clash.Name} both use field number {number}");
            fields.Add(FieldCodec.Create(type, property, p.ParameterType, number, i));
        }
        _fields = [.. fields.OrderBy(f => f.Number)];
        _byNumber = new FieldCodec?[fields.Count == 0 ? 1 : fields.Max(f => f.Number) + 1];
        foreach (var f in fields) _byNumber[f.Number] = f;
        _defaults = [.. fields.OrderBy(f => f.Index).Select(f => f.Default)];

        // args => new T((P0)args[0], (P1)args[1], ...), each from its canonical stored form (see FieldCodec.Stored).
        var args = Expression.Parameter(typeof(object?[]), "args");
        var arguments = fields.OrderBy(f => f.Index).Select(f => f.FromStored(Expression.ArrayIndex(args, Expression.Constant(f.Index))));
        _construct = Expression.Lambda<Func<object?[], object>>(Expression.Convert(Expression.New(constructor, arguments), typeof(object)), args).Compile();
    }

    public Type Type { get; }

    /// <summary>The schema of a wire record type (built once, checked: every parameter numbered, numbers unique).</summary>
    public static MessageSchema For(Type type) => Cache.GetOrAdd(type, static t => new MessageSchema(t));

    /// <summary>The fields' numbers, names and CLR types, in number order (for tests and documentation).</summary>
    public IEnumerable<(int Number, string Name, Type Type)> Fields => _fields.Select(f => (f.Number, f.Name, f.ClrType));

    /// <summary>Bytes of the message body (not counting a length prefix).</summary>
    public int Size(object message)
    {
        long size = 0;
        foreach (var f in _fields) size += f.Size(message);
        return size <= int.MaxValue ? (int)size : throw new InvalidOperationException($"{Type.Name} would take {size} bytes, more than a payload can hold");
    }

    public void Write(ProtoWriter writer, object message)
    {
        foreach (var f in _fields) f.Write(writer, message);
    }

    /// <summary>Reads fields until the reader's limit; unknown fields are skipped, absent ones keep their defaults.</summary>
    public object Read(ProtoReader reader)
    {
        var values = (object?[])_defaults.Clone();
        while (reader.Remaining > 0)
        {
            var (number, type) = reader.ReadTag();
            var f = number < _byNumber.Length ? _byNumber[number] : null;
            if (f is null)
            {
                reader.Skip(number, type);
                continue;
            }
            if (type != f.WireType)
                throw reader.Malformed($"{f.Name} (field {number}) has wire type {(int)type}, expected {(int)f.WireType}");
            values[f.Index] = f.Read(reader);
        }
        return _construct(values);
    }

    /// <summary>How one parameter is encoded: size, write and read, over its value in a canonical stored form.</summary>
    private sealed class FieldCodec
    {
        public required int Number { get; init; }
        public required int Index { get; init; }
        public required string Name { get; init; }
        public required Type ClrType { get; init; }
        public required WireType WireType { get; init; }
        public required object? Default { get; init; }
        public required Func<object, long> Size { get; init; }
        public required Action<ProtoWriter, object> Write { get; init; }
        public required Func<ProtoReader, object?> Read { get; init; }

        /// <summary>The stored value (args[i]) converted to the constructor parameter's type.</summary>
        public required Func<Expression, Expression> FromStored { get; init; }

        public static FieldCodec Create(Type owner, PropertyInfo property, Type type, int number, int index)
        {
            string name = owner.Name + "." + property.Name;
            int tag = ProtoWriter.TagSize(number);
            var underlying = type.IsEnum ? Enum.GetUnderlyingType(type) : type;

            FieldCodec Make(WireType wire, object? dflt, Func<object, long> size, Action<ProtoWriter, object> write, Func<ProtoReader, object?> read, Func<Expression, Expression> fromStored) =>
                new()
                {
                    Number = number, Index = index, Name = name, ClrType = type, WireType = wire, Default = dflt,
                    Size = size, Write = write, Read = read, FromStored = fromStored,
                };

            if (underlying == typeof(int) || underlying == typeof(long) || underlying == typeof(bool))
            {
                // Stored as a long; int32 and enums are sign-extended, as protobuf's int32.
                var get = Getter<long>(owner, property);
                Func<Expression, Expression> back = underlying == typeof(bool)
                    ? e => Expression.NotEqual(Expression.Unbox(e, typeof(long)), Expression.Constant(0L))
                    : underlying == typeof(int)
                        ? e => Expression.Convert(Expression.Convert(Expression.Unbox(e, typeof(long)), typeof(int)), type)
                        : e => Expression.Unbox(e, typeof(long));
                return Make(WireType.Varint, 0L,
                    m => get(m) is var v && v != 0 ? tag + ProtoWriter.VarintSize((ulong)v) : 0,
                    (w, m) =>
                    {
                        long v = get(m);
                        if (v == 0) return;
                        w.WriteTag(number, WireType.Varint);
                        w.WriteVarint((ulong)v);
                    },
                    r => (long)r.ReadVarint(name),
                    back);
            }
            if (type == typeof(double))
            {
                var get = Getter<double>(owner, property);
                return Make(WireType.Fixed64, 0.0,
                    m => BitConverter.DoubleToInt64Bits(get(m)) != 0 ? tag + 8 : 0,
                    (w, m) =>
                    {
                        long bits = BitConverter.DoubleToInt64Bits(get(m));
                        if (bits == 0) return;
                        w.WriteTag(number, WireType.Fixed64);
                        w.WriteFixed64(bits);
                    },
                    r => BitConverter.Int64BitsToDouble(r.ReadFixed64(name)),
                    e => Expression.Unbox(e, typeof(double)));
            }
            if (type == typeof(double?))
            {
                var get = Getter<double?>(owner, property);
                return Make(WireType.Fixed64, null,
                    m => get(m).HasValue ? tag + 8 : 0,
                    (w, m) =>
                    {
                        if (get(m) is not { } x) return;
                        w.WriteTag(number, WireType.Fixed64);
                        w.WriteFixed64(BitConverter.DoubleToInt64Bits(x));
                    },
                    r => (double?)BitConverter.Int64BitsToDouble(r.ReadFixed64(name)),
                    e => Expression.Convert(e, typeof(double?)));
            }
            if (type == typeof(string))
            {
                var get = Getter<string?>(owner, property);
                return Make(WireType.LengthDelimited, null,
                    m => get(m) is { } s ? tag + LengthDelimitedSize(Encoding.UTF8.GetByteCount(s)) : 0,
                    (w, m) =>
                    {
                        if (get(m) is not { } s) return;
                        w.WriteTag(number, WireType.LengthDelimited);
                        WriteString(w, s);
                    },
                    r => r.ReadUtf8(name, r.ReadLength(name)),
                    e => Expression.Convert(e, type));
            }
            if (type == typeof(double[])) return Block<double>();
            if (type == typeof(int[])) return Block<int>();
            if (type == typeof(long[])) return Block<long>();
            if (type == typeof(string[]))
            {
                var get = Getter<string?[]?>(owner, property);
                return Make(WireType.LengthDelimited, null,
                    m => get(m) is { } a ? tag + LengthDelimitedSize(StringsSize(a)) : 0,
                    (w, m) =>
                    {
                        if (get(m) is not { } a) return;
                        w.WriteTag(number, WireType.LengthDelimited);
                        w.WriteVarint((ulong)StringsSize(a));
                        foreach (var s in a)
                        {
                            w.WriteTag(1, WireType.LengthDelimited);
                            if (s is null)
                            {
                                w.WriteVarint(0);
                                continue;
                            }
                            int bytes = Encoding.UTF8.GetByteCount(s);
                            w.WriteVarint((ulong)(1 + LengthDelimitedSize(bytes)));
                            w.WriteTag(1, WireType.LengthDelimited);
                            w.WriteVarint((ulong)bytes);
                            w.WriteUtf8(s, bytes);
                        }
                    },
                    r =>
                    {
                        int length = r.ReadLength(name);
                        if (length > r.Remaining) throw r.TruncatedNested(name, length, p => p.Nested(p.Remaining, q => ReadStrings(q, name)));
                        return r.Nested(length, q => ReadStrings(q, name));
                    },
                    e => Expression.Convert(e, type));
            }
            if (type.IsClass && type.GetConstructors().Any(c => c.GetParameters().Any(p => p.GetCustomAttribute<FieldAttribute>() is not null)))
            {
                var get = Getter<object?>(owner, property);
                return Make(WireType.LengthDelimited, null,
                    m => get(m) is { } v ? tag + LengthDelimitedSize(For(type).Size(v)) : 0,
                    (w, m) =>
                    {
                        if (get(m) is not { } v) return;
                        var schema = For(type);
                        w.WriteTag(number, WireType.LengthDelimited);
                        w.WriteVarint((ulong)schema.Size(v));
                        schema.Write(w, v);
                    },
                    r =>
                    {
                        int length = r.ReadLength(name);
                        var schema = For(type);
                        if (length > r.Remaining) throw r.TruncatedNested(name, length, p => p.Nested(p.Remaining, schema.Read));
                        return r.Nested(length, schema.Read);
                    },
                    e => Expression.Convert(e, type));
            }
            throw new InvalidOperationException($"wire type {owner.Name}: {property.Name} has type {type.Name}, which has no wire encoding");

            FieldCodec Block<T>() where T : unmanaged
            {
                var get = Getter<T[]?>(owner, property);
                int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
                return Make(WireType.LengthDelimited, null,
                    m => get(m) is { } a ? tag + LengthDelimitedSize((long)a.Length * size) : 0,
                    (w, m) =>
                    {
                        if (get(m) is not { } a) return;
                        w.WriteTag(number, WireType.LengthDelimited);
                        w.WriteVarint((ulong)a.Length * (ulong)size);
                        w.WriteBlock(a);
                    },
                    r => r.ReadBlock<T>(name, r.ReadLength(name)),
                    e => Expression.Convert(e, type));
            }
        }

        private static long LengthDelimitedSize(long bytes) => ProtoWriter.VarintSize((ulong)bytes) + bytes;

        private static void WriteString(ProtoWriter w, string s)
        {
            int bytes = Encoding.UTF8.GetByteCount(s);
            w.WriteVarint((ulong)bytes);
            w.WriteUtf8(s, bytes);
        }

        /// <summary>The body of a string list: per element, field 1 holding a message whose field 1 is the string (none for null).</summary>
        private static int StringsSize(string?[] values)
        {
            long size = 0;
            foreach (var s in values)
                size += 1 + LengthDelimitedSize(s is null ? 0 : 1 + LengthDelimitedSize(Encoding.UTF8.GetByteCount(s)));
            return (int)size;
        }

        private static string?[] ReadStrings(ProtoReader r, string name)
        {
            var list = new List<string?>();
            while (r.Remaining > 0)
            {
                var (number, type) = r.ReadTag();
                if (number != 1 || type != WireType.LengthDelimited)
                {
                    r.Skip(number, type);
                    continue;
                }
                string element = name + "[" + list.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) + "]";
                int length = r.ReadLength(element);
                if (length > r.Remaining) throw r.TruncatedNested(element, length, p => p.Nested(p.Remaining, q => ReadElement(q, element)));
                list.Add(r.Nested(length, q => ReadElement(q, element)));
            }
            return [.. list];
        }

        private static string? ReadElement(ProtoReader r, string element)
        {
            string? value = null;
            while (r.Remaining > 0)
            {
                var (number, type) = r.ReadTag();
                if (number == 1 && type == WireType.LengthDelimited) value = r.ReadUtf8(element, r.ReadLength(element));
                else r.Skip(number, type);
            }
            return value;
        }

        /// <summary>m => (TStored)((TOwner)m).Property, enums through their underlying type, bool as 0/1.</summary>
        private static Func<object, TStored> Getter<TStored>(Type owner, PropertyInfo property)
        {
            var m = Expression.Parameter(typeof(object), "m");
            Expression value = Expression.Property(Expression.Convert(m, owner), property);
            if (value.Type.IsEnum) value = Expression.Convert(value, Enum.GetUnderlyingType(value.Type));
            if (value.Type == typeof(bool) && typeof(TStored) == typeof(long))
                value = Expression.Condition(value, Expression.Constant(1L), Expression.Constant(0L));
            if (value.Type != typeof(TStored)) value = Expression.Convert(value, typeof(TStored));
            return Expression.Lambda<Func<object, TStored>>(value, m).Compile();
        }
    }
}
