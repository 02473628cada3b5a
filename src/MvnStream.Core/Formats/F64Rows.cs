using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MvnStream.Core.Formats;

/// <summary>
/// Raw f64 rows: copying little-endian bytes into doubles and a vectorised search for values a row may not
/// hold (NaN, ±Infinity, |x| beyond <see cref="RowErrors.MaxMagnitude"/>), which is what lets f64 decoding run
/// at memory speed. For IEEE-754 doubles, |x| &lt;= L exactly when the bits of |x| (sign cleared), read as an
/// integer, are &lt;= the bits of L; NaN and Infinity have larger bits than any finite L.
/// </summary>
internal static class F64Rows
{
    private const long AbsMask = 0x7FFF_FFFF_FFFF_FFFF;
    private static readonly long LimitBits = BitConverter.DoubleToInt64Bits(RowErrors.MaxMagnitude);

    /// <summary>Index of the first value a row may not hold (NaN, ±Infinity, |x| &gt; <see cref="RowErrors.MaxMagnitude"/>) in <paramref name="values"/>, or -1.</summary>
    public static int IndexOfUnusable(ReadOnlySpan<double> values)
    {
        // Masked bits are below 2^63, so a signed 64-bit compare orders them as unsigned.
        var bits = MemoryMarshal.Cast<double, long>(values);
        int n = bits.Length;
        int i = 0;
        ref long start = ref MemoryMarshal.GetReference(bits);
        if (Vector256.IsHardwareAccelerated && n >= Vector256<long>.Count)
        {
            var mask = Vector256.Create(AbsMask);
            var limit = Vector256.Create(LimitBits);
            for (; i <= n - 4 * Vector256<long>.Count; i += 4 * Vector256<long>.Count)
            {
                var a = Vector256.LoadUnsafe(ref start, (nuint)i) & mask;
                var b = Vector256.LoadUnsafe(ref start, (nuint)(i + Vector256<long>.Count)) & mask;
                var c = Vector256.LoadUnsafe(ref start, (nuint)(i + 2 * Vector256<long>.Count)) & mask;
                var d = Vector256.LoadUnsafe(ref start, (nuint)(i + 3 * Vector256<long>.Count)) & mask;
                var hit = Vector256.GreaterThan(a, limit) | Vector256.GreaterThan(b, limit) | Vector256.GreaterThan(c, limit) | Vector256.GreaterThan(d, limit);
                if (hit != Vector256<long>.Zero) return Scalar(bits, i);
            }
            for (; i <= n - Vector256<long>.Count; i += Vector256<long>.Count)
            {
                var a = Vector256.LoadUnsafe(ref start, (nuint)i) & mask;
                if (Vector256.GreaterThanAny(a, limit)) return Scalar(bits, i);
            }
        }
        else if (Vector128.IsHardwareAccelerated && n >= Vector128<long>.Count)
        {
            var mask = Vector128.Create(AbsMask);
            var limit = Vector128.Create(LimitBits);
            for (; i <= n - Vector128<long>.Count; i += Vector128<long>.Count)
            {
                var a = Vector128.LoadUnsafe(ref start, (nuint)i) & mask;
                if (Vector128.GreaterThanAny(a, limit)) return Scalar(bits, i);
            }
        }
        return Scalar(bits, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Scalar(ReadOnlySpan<long> bits, int from)
    {
        for (int i = from; i < bits.Length; i++)
        {
            if ((bits[i] & AbsMask) > LimitBits) return i;
        }
        return -1;
    }

    /// <summary>Converts doubles just read as little-endian bytes to the machine's order.</summary>
    public static void FromLittleEndian(Span<double> values)
    {
        if (BitConverter.IsLittleEndian) return;
        var bits = MemoryMarshal.Cast<double, ulong>(values);
        BinaryPrimitives.ReverseEndianness(bits, bits);
    }

    /// <summary>Copies little-endian doubles from <paramref name="source"/> into <paramref name="destination"/>.</summary>
    public static void CopyFromLittleEndian(ReadOnlySpan<byte> source, Span<double> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            source.CopyTo(MemoryMarshal.AsBytes(destination));
            return;
        }
        for (int i = 0; i < destination.Length; i++)
            destination[i] = BinaryPrimitives.ReadDoubleLittleEndian(source[(8 * i)..]);
    }
}
