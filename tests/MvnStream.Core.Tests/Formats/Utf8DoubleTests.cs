using System.Globalization;
using System.Numerics;
using System.Text;
using CsCheck;
using MvnStream.Core.Formats;

namespace MvnStream.Core.Tests.Formats;

/// <summary>The fast number parser must agree bit for bit with the BCL parser it replaces.</summary>
public sealed class Utf8DoubleTests
{
    private static double Bcl(string s, out bool ok)
    {
        ok = double.TryParse(Encoding.UTF8.GetBytes(s), NumberStyles.Float, CultureInfo.InvariantCulture, out double v);
        return v;
    }

    private static void AssertSameAsBcl(string s)
    {
        double expected = Bcl(s, out bool expectedOk);
        bool ok = Utf8Double.TryParse(Encoding.UTF8.GetBytes(s), out double actual);
        Assert.True(expectedOk == ok, $"'{s}': BCL says {(expectedOk ? "valid" : "invalid")}, fast parser says {(ok ? "valid" : "invalid")}");
        if (ok)
        {
            Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(actual),
                $"'{s}': BCL {expected:R} (0x{BitConverter.DoubleToInt64Bits(expected):x16}), fast {actual:R} (0x{BitConverter.DoubleToInt64Bits(actual):x16})");
        }
    }

    [Fact]
    public void Powers_of_five_table_matches_known_entries()
    {
        var t = Utf8Double.BuildPowersOfFive();
        Assert.Equal(2 * 651, t.Length);
        Assert.Equal(0xeef453d6923bd65aUL, t[0]); // 5^-342
        Assert.Equal(0x113faa2906a13b3fUL, t[1]);
        Assert.Equal(0x9558b4661b6565f8UL, t[2]); // 5^-341
        Assert.Equal(0x4ac7ca59a424c507UL, t[3]);
        Assert.Equal(0x8000000000000000UL, t[2 * 342]); // 5^0
        Assert.Equal(0UL, t[2 * 342 + 1]);
        Assert.Equal(0xa000000000000000UL, t[2 * 343]); // 5^1
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-0")]
    [InlineData("+0.0e5")]
    [InlineData("1")]
    [InlineData("-1.5")]
    [InlineData(".5")]
    [InlineData("5.")]
    [InlineData("+1")]
    [InlineData("1e")]
    [InlineData("e5")]
    [InlineData("")]
    [InlineData("-")]
    [InlineData(".")]
    [InlineData("1.2.3")]
    [InlineData(" 1 ")]
    [InlineData("NaN")]
    [InlineData("-Infinity")]
    [InlineData("Infinity")]
    [InlineData("0x10")]
    [InlineData("1,5")]
    [InlineData("1e-400")]
    [InlineData("1e400")]
    [InlineData("-1e400")]
    [InlineData("4.9406564584124654e-324")]
    [InlineData("2.4703282292062327e-324")]
    [InlineData("2.4703282292062328e-324")]
    [InlineData("2.2250738585072011e-308")]
    [InlineData("2.2250738585072014e-308")]
    [InlineData("1.7976931348623157e308")]
    [InlineData("1.7976931348623158e308")]
    [InlineData("1.7976931348623159e308")]
    [InlineData("9007199254740993")]
    [InlineData("9007199254740995")]
    [InlineData("9223372036854775807")]
    [InlineData("18446744073709551615")]
    [InlineData("18446744073709551616")]
    [InlineData("00000000000000000000000000001")]
    [InlineData("0.000000000000000000000000000001")]
    [InlineData("123456789012345678901234567890")]
    [InlineData("1234567890123456789")]
    [InlineData("12345678901234567890")]
    [InlineData("0.1")]
    [InlineData("0.30000000000000004")]
    [InlineData("1e22")]
    [InlineData("1e23")]
    [InlineData("8.98846567431158e307")]
    [InlineData("7.2057594037927933e16")]
    [InlineData("1e99999")]
    [InlineData("1E+5")]
    [InlineData("1e-5")]
    [InlineData("1_0")]
    [InlineData("١")]
    public void Agrees_with_the_BCL_on_edge_cases(string s) => AssertSameAsBcl(s);

    [Fact]
    public void Round_trip_of_R_formatted_random_doubles_is_bit_identical()
    {
        Gen.Double.Where(double.IsFinite).Sample(x =>
        {
            var s = x.ToString("R", CultureInfo.InvariantCulture);
            Assert.True(Utf8Double.TryParse(Encoding.UTF8.GetBytes(s), out double y), s);
            Assert.True(BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits(y), $"{s} parsed as {y:R}");
        }, iter: 200_000);
    }

    [Fact]
    public void Random_bit_patterns_in_several_formats_agree_with_the_BCL()
    {
        string[] formats = ["R", "E16", "G17", "E10", "G5", "F20"];
        Gen.ULong.Select(Gen.Int[0, formats.Length - 1]).Sample((bits, f) =>
        {
            double x = BitConverter.UInt64BitsToDouble(bits);
            AssertSameAsBcl(x.ToString(formats[f], CultureInfo.InvariantCulture));
        }, iter: 200_000);
    }

    [Fact]
    public void Random_decimal_strings_agree_with_the_BCL()
    {
        var gen =
            from sign in Gen.Int[0, 2]
            from digits in Gen.Int[1, 24]
            from mantissa in Gen.Char['0', '9'].Array[digits]
            from point in Gen.Int[-1, digits]
            from hasExponent in Gen.Bool
            from exponent in Gen.Int[-360, 330]
            select (sign == 0 ? "" : sign == 1 ? "-" : "+")
                   + (point < 0 ? new string(mantissa) : new string(mantissa, 0, point) + "." + new string(mantissa, point, digits - point))
                   + (hasExponent ? "e" + exponent.ToString(CultureInfo.InvariantCulture) : "");
        gen.Sample(AssertSameAsBcl, iter: 300_000);
    }

    [Fact]
    public void Near_halfway_decimal_strings_agree_with_the_BCL()
    {
        // The exact midpoint between adjacent doubles, cut to 17-19 significant digits (and nudged by one
        // unit in the last digit), lies within 1e-17 relative of a rounding boundary: the hard cases.
        Gen.ULong.Select(Gen.Int[17, 19], Gen.Int[-1, 1]).Sample((bits, digits, nudge) =>
        {
            double x = Math.Abs(BitConverter.UInt64BitsToDouble(bits));
            if (!double.IsFinite(x) || x == double.MaxValue) return;
            AssertSameAsBcl(MidpointDigits(x, digits, nudge));
        }, iter: 100_000);
    }

    /// <summary>The midpoint of x and the next double, truncated to <paramref name="digits"/> significant digits.</summary>
    private static string MidpointDigits(double x, int digits, int nudge)
    {
        long raw = BitConverter.DoubleToInt64Bits(x);
        long mantissa = raw & 0xFFFFFFFFFFFFFL;
        int exponent = (int)((raw >> 52) & 0x7FF);
        if (exponent == 0) exponent = 1; else mantissa |= 1L << 52;
        exponent -= 1075;
        // midpoint = (2m + 1) * 2^(exponent - 1)
        var n = new BigInteger(2 * mantissa + 1);
        int e2 = exponent - 1;
        int decimalShift = 0;
        if (e2 >= 0) n <<= e2;
        else
        {
            n *= BigInteger.Pow(5, -e2);
            decimalShift = -e2; // value = n / 10^decimalShift
        }
        string all = n.ToString(CultureInfo.InvariantCulture);
        int take = Math.Min(digits, all.Length);
        var head = BigInteger.Parse(all[..take], CultureInfo.InvariantCulture) + nudge;
        if (head <= 0) head = 1;
        string h = head.ToString(CultureInfo.InvariantCulture);
        int exp10 = all.Length - take - decimalShift;
        return h + "e" + exp10.ToString(CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Fast_path_handles_almost_all_R_formatted_numbers()
    {
        // Otherwise the parser silently falls back to the slow BCL path and loses its reason to exist.
        var r = new Random(20240611);
        int handled = 0;
        const int n = 100_000;
        for (int i = 0; i < n; i++)
        {
            double x = (r.NextDouble() * 2 - 1) * Math.Pow(10, r.Next(-30, 30));
            if (Utf8Double.TryParseFast(Encoding.UTF8.GetBytes(x.ToString("R", CultureInfo.InvariantCulture)), out _)) handled++;
        }
        Assert.True(handled > n * 99 / 100, $"fast path handled only {handled} of {n}");
    }
}
