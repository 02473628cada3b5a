using System.Buffers.Binary;
using MvnStream.Cluster.DataPlane;
using MvnStream.Core.Model;

namespace MvnStream.Cluster.Tests.DataPlane;

/// <summary>The data plane's frame codec (docs/ARCHITECTURE.md, "The data plane"): round trips, torn and corrupt frames, bounds.</summary>
public sealed class DataFrameTests
{
    private static async Task<Frame?> ReadBackAsync(byte[] bytes, long maxBody = DataFrame.DefaultMaxBodyBytes)
    {
        using var stream = new MemoryStream(bytes);
        return await DataFrame.ReadAsync(stream, maxBody, CancellationToken.None);
    }

    private static byte[] RoundBytes(int d = 5, Parameterization p = Parameterization.LowerTriangular, string job = "job-ü-1", int[]? shards = null)
    {
        int n = MvnParameters.PackedLength(d, p);
        var values = Enumerable.Range(0, n).Select(i => Math.PI * (i - 3) / 7).ToArray();
        using var f = DataFrame.Round(job, 42, shards ?? [3, 1, 7], d, p, values.AsSpan(0, d), values.AsSpan(d));
        return f.Memory.ToArray();
    }

    [Theory]
    [InlineData(1, Parameterization.LowerTriangular)]
    [InlineData(5, Parameterization.LowerTriangular)]
    [InlineData(4, Parameterization.Full)]
    public async Task A_round_frame_reads_back_with_every_field_and_the_values_bit_for_bit(int d, Parameterization p)
    {
        int n = MvnParameters.PackedLength(d, p);
        var values = Enumerable.Range(0, n).Select(i => i == 0 ? double.Epsilon : -1.0 / (i + 0.5)).ToArray();
        values[n - 1] = double.NaN;
        using var sent = DataFrame.Round("jöb-🚀", long.MaxValue - 1, [9, 0, 2], d, p, values.AsSpan(0, d), values.AsSpan(d));
        using var got = await ReadBackAsync(sent.Memory.ToArray());
        Assert.NotNull(got);
        Assert.Equal(FrameKind.Round, got.Kind);
        Assert.Equal("jöb-🚀", got.JobId);
        Assert.Equal(long.MaxValue - 1, got.Round);
        Assert.Equal([9, 0, 2], got.Shards());
        Assert.Equal(d, got.Dimension);
        Assert.Equal(p, got.Parameterization);
        Assert.Equal(values.Select(BitConverter.DoubleToInt64Bits), got.Values.ToArray().Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public async Task A_gradient_frame_reads_back_with_its_shard_J_and_values()
    {
        const int d = 3;
        using var sent = DataFrame.Gradient("j", 7, 11, d, Parameterization.LowerTriangular, 0);
        for (int i = 0; i < sent.WritableValues.Length; i++) sent.WritableValues[i] = i * 1.5;
        sent.Seal(-123.25);
        using var got = await ReadBackAsync(sent.Memory.ToArray());
        Assert.NotNull(got);
        Assert.Equal(FrameKind.Gradient, got.Kind);
        Assert.Equal(7, got.Round);
        Assert.Equal(11, got.Shard);
        Assert.Equal(-123.25, got.J);
        Assert.Equal(Enumerable.Range(0, MvnParameters.PackedLength(d, Parameterization.LowerTriangular)).Select(i => i * 1.5), got.Values.ToArray());
    }

    [Fact]
    public async Task A_closed_connection_between_frames_is_the_end_not_an_error()
    {
        Assert.Null(await ReadBackAsync([]));
    }

    [Fact]
    public async Task A_frame_cut_anywhere_is_torn()
    {
        var bytes = RoundBytes();
        foreach (int cut in new[] { 1, DataFrame.HeaderBytes - 1, DataFrame.HeaderBytes, DataFrame.HeaderBytes + 3, bytes.Length - 1 })
        {
            var e = await Assert.ThrowsAsync<DataFrameException>(() => ReadBackAsync(bytes[..cut]));
            Assert.Contains("torn", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_flipped_bit_in_the_header_or_the_body_fails_the_checksum()
    {
        var bytes = RoundBytes();
        foreach (int at in new[] { 8, 32, DataFrame.HeaderBytes + 1, bytes.Length - 2 })
        {
            var corrupt = (byte[])bytes.Clone();
            corrupt[at] ^= 0x10;
            var e = await Assert.ThrowsAsync<DataFrameException>(() => ReadBackAsync(corrupt));
            Assert.Contains("checksum", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Bad_magic_version_kind_or_lengths_are_refused_before_the_body_is_read()
    {
        var bytes = RoundBytes();
        async Task<string> Refused(Action<byte[]> tamper, long maxBody = DataFrame.DefaultMaxBodyBytes)
        {
            var b = (byte[])bytes.Clone();
            tamper(b);
            return (await Assert.ThrowsAsync<DataFrameException>(() => ReadBackAsync(b, maxBody))).Message;
        }

        Assert.Contains("magic", await Refused(b => b[0] = (byte)'X'), StringComparison.Ordinal);
        Assert.Contains("version", await Refused(b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), 9)), StringComparison.Ordinal);
        Assert.Contains("kind", await Refused(b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(6), 77)), StringComparison.Ordinal);
        Assert.Contains("d = 0", await Refused(b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(20), 0)), StringComparison.Ordinal);
        Assert.Contains("d = 46341", await Refused(b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(20), DataFrame.MaxDimension + 1)), StringComparison.Ordinal);
        Assert.Contains("0 shards", await Refused(b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(16), 0)), StringComparison.Ordinal);
        Assert.Contains("expected", await Refused(b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(28), bytes.Length)), StringComparison.Ordinal);
        Assert.Contains("negative", await Refused(b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(28), -8)), StringComparison.Ordinal);
        Assert.Contains("over the limit", await Refused(_ => { }, maxBody: 64), StringComparison.Ordinal);
    }

    [Fact]
    public void Encoding_refuses_fields_out_of_bounds_and_theta_of_the_wrong_length()
    {
        Assert.Throws<DataFrameException>(() => DataFrame.Round(new string('x', DataFrame.MaxJobIdBytes + 1), 1, [0], 2, Parameterization.Full, new double[2], new double[4]));
        Assert.Throws<DataFrameException>(() => DataFrame.Round("j", 1, [], 2, Parameterization.Full, new double[2], new double[4]));
        Assert.Throws<ArgumentException>(() => DataFrame.Round("j", 1, [0], 2, Parameterization.Full, new double[2], new double[3]));
        Assert.Throws<DataFrameException>(() => DataFrame.Gradient("j", 1, 0, 0, Parameterization.Full, 0));
    }

    [Fact]
    public void The_values_of_a_frame_start_on_an_8_byte_boundary_whatever_the_job_id_and_shard_count()
    {
        // Read in place as doubles: the body pads the job id and the shard indices to 8 bytes.
        foreach (var (job, shards) in new[] { ("a", new[] { 1 }), ("abcdefgh", new[] { 1, 2 }), ("abcdefghi", new[] { 1, 2, 3 }) })
        {
            var bytes = RoundBytes(d: 2, job: job, shards: shards);
            int expected = DataFrame.HeaderBytes + ((System.Text.Encoding.UTF8.GetByteCount(job) + 7) & ~7) + ((4 * shards.Length + 7) & ~7) + 8 * 5;
            Assert.Equal(expected, bytes.Length);
        }
    }
}
