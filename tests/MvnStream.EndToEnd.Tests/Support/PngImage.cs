using System.Buffers.Binary;
using System.IO.Compression;

namespace MvnStream.EndToEnd.Tests.Support;

/// <summary>
/// A PNG file read by hand (PNG specification, ISO/IEC 15948), independent of the library that wrote it: the signature,
/// the IHDR header and, for 8-bit RGB or RGBA images without interlacing, the pixels (IDAT inflated with zlib, the five
/// row filters undone). Enough to check what a plot command drew; anything else is refused with the reason.
/// </summary>
public sealed class PngImage
{
    public static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public int Width { get; }
    public int Height { get; }
    public int BitDepth { get; }
    public int ColorType { get; }

    private readonly byte[] _pixels; // RGBA, row-major
    private readonly int _channels;

    private PngImage(int width, int height, int bitDepth, int colorType, byte[] pixels, int channels)
    {
        (Width, Height, BitDepth, ColorType, _pixels, _channels) = (width, height, bitDepth, colorType, pixels, channels);
    }

    /// <summary>Signature and IHDR only: (width, height), or an exception saying what is wrong.</summary>
    public static (int Width, int Height) ReadSize(byte[] bytes)
    {
        if (bytes.Length < 33 || !bytes.AsSpan(0, 8).SequenceEqual(Signature)) throw new InvalidDataException("not a PNG file: no PNG signature");
        int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(8));
        string type = System.Text.Encoding.ASCII.GetString(bytes, 12, 4);
        if (type != "IHDR" || length != 13) throw new InvalidDataException($"the first chunk is {type} of {length} bytes, not a 13-byte IHDR");
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    public static PngImage Read(string path) => Read(File.ReadAllBytes(path));

    public static PngImage Read(byte[] bytes)
    {
        var (width, height) = ReadSize(bytes);
        int bitDepth = bytes[24], colorType = bytes[25], interlace = bytes[28];
        if (bitDepth != 8 || (colorType != 2 && colorType != 6) || interlace != 0)
            throw new NotSupportedException($"PNG with bit depth {bitDepth}, colour type {colorType}, interlace {interlace}: only 8-bit RGB/RGBA without interlacing is read here");
        int channels = colorType == 6 ? 4 : 3;

        var idat = new MemoryStream();
        int at = 8;
        bool ended = false;
        while (at + 12 <= bytes.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(at));
            string type = System.Text.Encoding.ASCII.GetString(bytes, at + 4, 4);
            if (length < 0 || at + 12 + length > bytes.Length) throw new InvalidDataException($"chunk {type} at byte {at} runs past the end of the file");
            if (type == "IDAT") idat.Write(bytes, at + 8, length);
            at += 12 + length;
            if (type == "IEND") { ended = true; break; }
        }
        if (!ended) throw new InvalidDataException("no IEND chunk: the file is truncated");

        int stride = width * channels;
        var raw = new byte[(stride + 1) * height];
        idat.Position = 0;
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.ReadExactly(raw);

        var pixels = new byte[stride * height];
        for (int y = 0; y < height; y++)
        {
            int filter = raw[y * (stride + 1)];
            var src = raw.AsSpan(y * (stride + 1) + 1, stride);
            var dst = pixels.AsSpan(y * stride, stride);
            var prev = y > 0 ? pixels.AsSpan((y - 1) * stride, stride) : new byte[stride];
            for (int i = 0; i < stride; i++)
            {
                int a = i >= channels ? dst[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
                int predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"row {y}: unknown filter type {filter}"),
                };
                dst[i] = (byte)(src[i] + predictor);
            }
        }
        return new PngImage(width, height, bitDepth, colorType, pixels, channels);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>The (r, g, b) of pixel (x, y), x to the right and y down from the top-left corner.</summary>
    public (byte R, byte G, byte B) Rgb(int x, int y)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) throw new ArgumentOutOfRangeException(nameof(x), $"pixel ({x}, {y}) is outside the {Width}x{Height} image");
        int i = (y * Width + x) * _channels;
        return (_pixels[i], _pixels[i + 1], _pixels[i + 2]);
    }
}
