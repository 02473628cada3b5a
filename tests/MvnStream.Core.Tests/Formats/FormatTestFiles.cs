using System.Text;
using MvnStream.Core.Formats;

namespace MvnStream.Core.Tests.Formats;

/// <summary>A temporary directory for test input files, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mvnstream-formats-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Write(string name, string text) => Write(name, Encoding.UTF8.GetBytes(text));

    public string Write(string name, byte[] bytes)
    {
        var file = System.IO.Path.Combine(Path, name);
        File.WriteAllBytes(file, bytes);
        return file;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>Everything one reader produced.</summary>
internal sealed record ReadResult(List<double[]> Rows, long RowsRejected, IReadOnlyList<RejectedRow> Rejections, int Dimension, long BytesRead)
{
    public double[] Flat => Rows.SelectMany(r => r).ToArray();
}

internal static class Read
{
    public static ReadResult All(string path, RowReaderOptions options) => Range(path, options, 0, long.MaxValue);

    public static ReadResult Range(string path, RowReaderOptions options, long start, long end)
    {
        using var reader = RowReader.Open(path, options, start, end);
        var rows = new List<double[]>();
        double[]? block = null;
        int d = 0;
        while (true)
        {
            if (block == null)
            {
                try { d = reader.Dimension; }
                catch (InvalidOperationException) { d = 0; }
                block = new double[Math.Max(1, options.BlockRows * Math.Max(d, 1))];
            }
            int n = reader.ReadBlock(block);
            if (n == 0) break;
            for (int i = 0; i < n; i++) rows.Add(block.AsSpan(i * d, d).ToArray());
        }
        Assert.Equal(rows.Count, reader.RowsRead);
        return new ReadResult(rows, reader.RowsRejected, reader.Rejections.ToList(), d, reader.BytesRead);
    }

    public static RowReaderOptions Csv(int? d = null, BadRowPolicy policy = BadRowPolicy.Fail) =>
        new() { Format = RowFormat.Csv, Dimension = d, OnBadRow = policy };

    public static RowReaderOptions Json(int? d = null, BadRowPolicy policy = BadRowPolicy.Fail) =>
        new() { Format = RowFormat.Json, Dimension = d, OnBadRow = policy };

    public static RowReaderOptions F64(int d, BadRowPolicy policy = BadRowPolicy.Fail) =>
        new() { Format = RowFormat.F64, Dimension = d, OnBadRow = policy };

    public static byte[] F64Bytes(params double[] values)
    {
        var bytes = new byte[8 * values.Length];
        for (int i = 0; i < values.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), values[i]);
        return bytes;
    }
}
