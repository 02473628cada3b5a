using MvnStream.Core.Formats;

namespace MvnStream.Kafka.Tests.Support;

/// <summary>Decoding record values and comparing rows bit for bit.</summary>
public static class Rows
{
    /// <summary>
    /// Decodes every value with <see cref="RecordDecoder.TryDecode"/> (failing on a rejected record) and returns the rows, row-major.
    /// <paramref name="anyValue"/> turns the decoder's value checks off (NaN, Infinity, |x| &gt; 1e100), for tests of
    /// the encoding itself over the whole double range.
    /// </summary>
    public static double[] Decode(IEnumerable<byte[]> values, RowFormat format, int dimension, bool anyValue = false)
    {
        var buffer = new RowBuffer(dimension);
        int d = dimension;
        int index = 0;
        foreach (var v in values)
        {
            string? error = RecordDecoder.TryDecode(v, format, ref d, allowNonFinite: anyValue, buffer);
            Assert.True(error is null, $"record {index} was rejected: {error}");
            index++;
        }
        return buffer.AsSpan().ToArray();
    }

    /// <summary>Asserts that the two arrays hold the same doubles, bit for bit (so -0.0 differs from 0.0).</summary>
    public static void AssertBitIdentical(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, int dimension)
    {
        Assert.True(expected.Length == actual.Length, $"expected {expected.Length / dimension} rows, got {actual.Length / (double)dimension}");
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.DoubleToInt64Bits(expected[i]) != BitConverter.DoubleToInt64Bits(actual[i]))
                Assert.Fail($"row {i / dimension}, value {i % dimension}: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }
}
