using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace MvnStream.Core.Formats;

/// <summary>
/// Parses a decimal number from UTF-8 bytes with exactly the result of
/// <c>double.TryParse(utf8, NumberStyles.Float, CultureInfo.InvariantCulture, out v)</c>, several times
/// faster for the usual shapes. The BCL parser costs ~300 ns for the 17-digit numbers that "R" formatting
/// writes, which caps csv ingest far below the 150 MB/s target.
/// </summary>
/// <remarks>
/// Numbers of the form [+-]digits[.digits][e[+-]digits] with at most 19 significant digits are converted
/// with Clinger's exact fast path (≤ 2^53 and |exponent| ≤ 22) or the Eisel-Lemire algorithm
/// (D. Lemire, "Number Parsing at a Gigabyte per Second", 2021), which is correctly rounded whenever it
/// answers. Everything else (whitespace, NaN, Infinity, more digits, huge exponents, invalid text and the
/// rare cases Eisel-Lemire declines) goes to the BCL parser, so the two agree bit for bit.
/// </remarks>
internal static class Utf8Double
{
    private const int SmallestPowerOfTen = -342;
    private const int LargestPowerOfTen = 308;

    private static readonly double[] ExactPowersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    // 128-bit approximations of 5^q for q in [-342, 308], two words (high, low) per power.
    private static readonly ulong[] PowersOfFive = BuildPowersOfFive();

    /// <summary>Parses <paramref name="s"/> like the BCL (NumberStyles.Float, invariant culture).</summary>
    public static bool TryParse(ReadOnlySpan<byte> s, out double value) =>
        TryParseFast(s, out value)
        || double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value);

    /// <summary>The fast path alone: false means "not handled here", not "invalid".</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot read path, optimised at once (docs/ARCHITECTURE.md, "Fitting a file")
    internal static bool TryParseFast(ReadOnlySpan<byte> s, out double value)
    {
        value = 0;
        int n = s.Length;
        if (n == 0) return false;
        int i = 0;
        bool negative = false;
        if (s[0] == (byte)'-') { negative = true; i = 1; }
        else if (s[0] == (byte)'+') { i = 1; }

        ulong w = 0;
        int significant = 0;
        int exponent = 0;
        int digitsSeen = 0;

        // Integer part: leading zeros are not significant.
        while (i < n)
        {
            uint digit = (uint)(s[i] - '0');
            if (digit > 9) break;
            if (w != 0 || digit != 0)
            {
                if (++significant > 19) return false;
                w = w * 10 + digit;
            }
            digitsSeen++;
            i++;
        }

        if (i < n && s[i] == (byte)'.')
        {
            i++;
            while (i < n)
            {
                uint digit = (uint)(s[i] - '0');
                if (digit > 9) break;
                if (w != 0 || digit != 0)
                {
                    if (++significant > 19) return false;
                    w = w * 10 + digit;
                }
                exponent--;
                digitsSeen++;
                i++;
            }
        }

        if (digitsSeen == 0) return false;

        if (i < n && (s[i] | 0x20) == (byte)'e')
        {
            i++;
            bool negativeExponent = false;
            if (i < n && (s[i] == (byte)'-' || s[i] == (byte)'+'))
            {
                negativeExponent = s[i] == (byte)'-';
                i++;
            }
            int e = 0;
            int exponentDigits = 0;
            while (i < n)
            {
                uint digit = (uint)(s[i] - '0');
                if (digit > 9) break;
                if (++exponentDigits > 5) return false;
                e = e * 10 + (int)digit;
                i++;
            }
            if (exponentDigits == 0) return false;
            exponent += negativeExponent ? -e : e;
        }

        if (i != n) return false;

        if (w == 0)
        {
            value = negative ? -0.0 : 0.0;
            return true;
        }

        // Clinger: w and 10^|q| are exact doubles, so one correctly rounded operation is exact rounding.
        if (exponent >= -22 && exponent <= 22 && w <= (1UL << 53))
        {
            double d = w;
            d = exponent < 0 ? d / ExactPowersOfTen[-exponent] : d * ExactPowersOfTen[exponent];
            value = negative ? -d : d;
            return true;
        }

        if (!TryEiselLemire(w, exponent, out ulong bits)) return false;
        if (negative) bits |= 1UL << 63;
        value = BitConverter.UInt64BitsToDouble(bits);
        return true;
    }

    /// <summary>
    /// w * 10^q rounded to the nearest double (ties to even), as IEEE bits without the sign;
    /// false when the 128-bit product cannot decide the rounding (then the BCL must).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryEiselLemire(ulong w, int q, out ulong bits)
    {
        bits = 0;
        if (q < SmallestPowerOfTen || q > LargestPowerOfTen) return false;

        int lz = BitOperations.LeadingZeroCount(w);
        w <<= lz;

        int index = 2 * (q - SmallestPowerOfTen);
        ulong high = Math.BigMul(w, PowersOfFive[index], out ulong low);
        const ulong precisionMask = ulong.MaxValue >> 55; // 52 mantissa bits + 3
        if ((high & precisionMask) == precisionMask)
        {
            ulong secondHigh = Math.BigMul(w, PowersOfFive[index + 1], out _);
            low += secondHigh;
            if (secondHigh > low) high++;
        }
        if (low == ulong.MaxValue && (q < -27 || q > 55)) return false;

        int upperBit = (int)(high >> 63);
        int shift = upperBit + 64 - 52 - 3;
        ulong mantissa = high >> shift;
        int power2 = ((q * (152170 + 65536)) >> 16) + 63 + upperBit - lz + 1023;

        if (power2 <= 0)
        {
            // Subnormal (or zero).
            if (-power2 + 1 >= 64) return true;
            mantissa >>= -power2 + 1;
            mantissa += mantissa & 1;
            mantissa >>= 1;
            power2 = mantissa < (1UL << 52) ? 0 : 1;
            bits = ((ulong)power2 << 52) | mantissa;
            return true;
        }

        // Exactly halfway between two doubles: round to even instead of up.
        if (low <= 1 && q >= -4 && q <= 23 && (mantissa & 3) == 1 && (mantissa << shift) == high)
            mantissa &= ~1UL;

        mantissa += mantissa & 1;
        mantissa >>= 1;
        if (mantissa >= (2UL << 52))
        {
            mantissa = 1UL << 52;
            power2++;
        }
        mantissa &= ~(1UL << 52);
        if (power2 >= 0x7FF)
        {
            bits = 0x7FFUL << 52;
            return true;
        }
        bits = ((ulong)power2 << 52) | mantissa;
        return true;
    }

    /// <summary>
    /// The Eisel-Lemire table: for q &lt; 0 a 128-bit value just above 2^b / 5^-q, for q &gt;= 0 the leading
    /// 128 bits of 5^q (the construction of the fast_float library's table generator).
    /// </summary>
    internal static ulong[] BuildPowersOfFive()
    {
        var table = new ulong[2 * (LargestPowerOfTen - SmallestPowerOfTen + 1)];
        BigInteger two128 = BigInteger.One << 128;
        BigInteger two127 = BigInteger.One << 127;
        BigInteger mask64 = (BigInteger.One << 64) - 1;
        int k = 0;
        for (int q = SmallestPowerOfTen; q <= LargestPowerOfTen; q++)
        {
            BigInteger c;
            if (q < 0)
            {
                BigInteger power5 = BigInteger.Pow(5, -q);
                int z = (int)power5.GetBitLength(); // smallest z with 2^z >= 5^-q (never a power of two)
                if (q >= -27)
                {
                    c = (BigInteger.One << (z + 127)) / power5 + 1;
                }
                else
                {
                    c = (BigInteger.One << (2 * z + 128)) / power5 + 1;
                    while (c >= two128) c >>= 1;
                }
            }
            else
            {
                c = BigInteger.Pow(5, q);
                while (c < two127) c <<= 1;
                while (c >= two128) c >>= 1;
            }
            table[k++] = (ulong)(c >> 64);
            table[k++] = (ulong)(c & mask64);
        }
        return table;
    }
}
