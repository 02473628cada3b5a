using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MvnStream.Core.Formats;

/// <summary>
/// Raw f64 rows: copying little-endian bytes into doubles and a vectorised search for NaN/±Infinity
/// (all exponent bits set), which is what lets f64 decoding run at memory speed.
/// </summary>
internal static class F64Rows
{
    private const ulong ExponentMask = 0x7FF0_0000_0000_0000;

    /// <summary>Index of the first NaN or ±Infinity in <paramref name="values"/>, or -1.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<double> values)
    {
        var bits = MemoryMarshal.Cast<double, ulong>(values);
        int n = bits.Length;
        int i = 0;
        ref ulong start = ref MemoryMarshal.GetReference(bits);
        if (Vector256.IsHardwareAccelerated && n >= Vector256<ulong>.Count)
        {
            var mask = Vector256.Create(ExponentMask);
            for (; i <= n - 4 * Vector256<ulong>.Count; i += 4 * Vector256<ulong>.Count)
            {
                var a = Vector256.LoadUnsafe(ref start, (nuint)i) & mask;
                var b = Vector256.LoadUnsafe(ref start, (nuint)(i + Vector256<ulong>.Count)) & mask;
                var c = Vector256.LoadUnsafe(ref start, (nuint)(i + 2 * Vector256<ulong>.Count)) & mask;
                var d = Vector256.LoadUnsafe(ref start, (nuint)(i + 3 * Vector256<ulong>.Count)) & mask;
                var hit = Vector256.Equals(a, mask) | Vector256.Equals(b, mask) | Vector256.Equals(c, mask) | Vector256.Equals(d, mask);
                if (hit != Vector256<ulong>.Zero) return Scalar(bits, i);
            }
            for (; i <= n - Vector256<ulong>.Count; i += Vector256<ulong>.Count)
            {
                var a = Vector256.LoadUnsafe(ref start, (nuint)i) & mask;
                if (Vector256.EqualsAny(a, mask)) return Scalar(bits, i);
            }
        }
        else if (Vector128.IsHardwareAccelerated && n >= Vector128<ulong>.Count)
        {
            var mask = Vector128.Create(ExponentMask);
            for (; i <= n - Vector128<ulong>.Count; i += Vector128<ulong>.Count)
            {
                var a = Vector128.LoadUnsafe(ref start, (nuint)i) & mask;
                if (Vector128.EqualsAny(a, mask)) return Scalar(bits, i);
            }
        }
        return Scalar(bits, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Scalar(ReadOnlySpan<ulong> bits, int from)
    {
        for (int i = from; i < bits.Length; i++)
        {
            if ((bits[i] & ExponentMask) == ExponentMask) return i;
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
