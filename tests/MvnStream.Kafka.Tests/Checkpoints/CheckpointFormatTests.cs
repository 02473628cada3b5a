using System.Buffers.Binary;
using System.Security.Cryptography;
using Google.Protobuf;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Model;
using MvnStream.Kafka.Streaming;
using MvnStream.Kafka.Streaming.Checkpoints;

namespace MvnStream.Kafka.Tests.Checkpoints;

/// <summary>
/// The checkpoint's own versioned format (CheckpointFormat): checkpoints written by the previous format version (kept
/// as a test file) are read, the current version round-trips bits exactly, fields a later release adds are skipped, a
/// newer major version is refused with a message that says to upgrade, and damaged bytes are a clear error.
/// </summary>
public sealed class CheckpointFormatTests
{
    private static readonly string V1File = Path.Combine(AppContext.BaseDirectory, "TestData", "checkpoint-v1.bin");

    /// <summary>SHA-256 of checkpoint-v1.bin as format version 1 wrote it: the file is evidence, never regenerated.</summary>
    private const string V1Sha256 = "57ac0dcd96308885f29237960a89fd328012226f22dc01ee3ea69d6749c7efff";

    [Fact]
    public void A_checkpoint_written_by_format_version_1_is_read_with_every_field()
    {
        var bytes = File.ReadAllBytes(V1File);
        Assert.Equal(V1Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Equal(1, CheckpointFormat.VersionOf(bytes, V1File));
        var cp = CheckpointFormat.Decode(bytes, V1File);
        CheckpointAssert.Same(KnownCheckpoint.Create(), cp);
        // The values themselves, spelled out once more (KnownCheckpoint could be edited, the file cannot).
        Assert.Equal("mvnstream-rows/rows", cp.JobKey);
        Assert.Equal((4L, 17L, 3), (cp.Epoch, cp.Version, cp.Dimension));
        Assert.Equal(Parameterization.LowerTriangular, cp.Theta!.Parameterization);
        Assert.Equal([0.5, -1.25, 2.0], cp.Theta.Mu);
        Assert.Equal([1.5, 0.25, 0.75, -0.125, 0.0625, 2.5], cp.Theta.LambdaPacked);
        Assert.Equal((1234L, 0.0005), (cp.AdamStep, cp.AdamLearningRate));
        Assert.Equal(9, cp.AdamFirstMoment.Length);
        Assert.Equal(9e-6, cp.AdamSecondMoment[8]);
        Assert.Equal((1500L, 1487.25, 42.0), (cp.Statistics!.Count, cp.Statistics.Weight, cp.Statistics.Fourth));
        Assert.Equal([10.0, 1.5, 20.0, -2.25, 3.75, 30.0], cp.Statistics.ScatterLower);
        Assert.Equal("rows", cp.Topic);
        Assert.Equal([0, 1], cp.Partitions);
        Assert.Equal([0L, 100L], cp.Starts);
        Assert.Equal([800L, 905L], cp.Nexts);
        Assert.Equal([0L, 5L], cp.Lost);
        Assert.Equal((1500L, 100L, 7L, 3L), (cp.AcceptedRecords, cp.RejectedRecords, cp.Duplicates, cp.Refused));
        Assert.Equal(DateTimeKind.Utc, cp.WrittenUtc.Kind);
        Assert.Equal(new DateTime(2026, 12, 6, 16, 0, 0, DateTimeKind.Utc).AddTicks(1234567).Ticks, cp.WrittenUtc.Ticks);
        // What the coordinator restores from it is usable state.
        Assert.Equal(1500, cp.Statistics.ToStatistics().Count);
        Assert.Equal(3, cp.Theta.ToParameters().Dimension);
    }

    /// <summary>
    /// Format version 1 as the release just before this format wrote it: the same envelope, its wire payload version 2
    /// (the statistics' column min and max added). Written from KnownCheckpoint with those ranges by that release.
    /// </summary>
    [Fact]
    public void A_version_1_checkpoint_with_the_column_ranges_of_wire_payload_2_is_read()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "TestData", "checkpoint-v1-wire2.bin");
        var bytes = File.ReadAllBytes(path);
        Assert.Equal("bf1879036452a3e95698edac403382c6a09f18803577bf814f8e0fce3b213a1f", Convert.ToHexStringLower(SHA256.HashData(bytes)));
        var known = KnownCheckpoint.Create();
        var expected = known with { Statistics = known.Statistics! with { ColumnMin = [-1.5, -4.0, 0.25], ColumnMax = [2.5, 3.0, 4.75] } };
        CheckpointAssert.Same(expected, CheckpointFormat.Decode(bytes, path));
    }

    [Fact]
    public async Task The_file_store_loads_a_version_1_checkpoint_and_saves_version_2()
    {
        string dir = Directory.CreateTempSubdirectory("mvnstream-ckpt-").FullName;
        try
        {
            string path = Path.Combine(dir, "job.ckpt");
            File.Copy(V1File, path);
            using var store = new FileCheckpointStore(path);
            var cp = await store.LoadAsync(KnownCheckpoint.JobKey, CancellationToken.None);
            CheckpointAssert.Same(KnownCheckpoint.Create(), cp!);
            await store.SaveAsync(cp! with { Version = 18 }, CancellationToken.None);
            var written = await File.ReadAllBytesAsync(path);
            Assert.Equal("MVNCKPT2"u8.ToArray(), written[..8]);
            CheckpointAssert.Same(KnownCheckpoint.Create() with { Version = 18 }, (await store.LoadAsync(KnownCheckpoint.JobKey, CancellationToken.None))!);
            var e = await Assert.ThrowsAsync<InvalidDataException>(() => store.LoadAsync("other/job", CancellationToken.None));
            Assert.Contains("belongs to stream 'mvnstream-rows/rows'", e.Message, StringComparison.Ordinal);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Version_2_has_a_self_describing_header_and_round_trips_bits_exactly()
    {
        var cp = KnownCheckpoint.Create();
        var bytes = CheckpointFormat.Encode(cp);
        Assert.Equal("MVNCKPT2"u8.ToArray(), bytes[..8]);
        Assert.Equal(CheckpointFormat.MinorVersion, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)));
        Assert.Equal(bytes.Length - CheckpointFormat.HeaderBytes, (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(10)));
        Assert.Equal(2, CheckpointFormat.VersionOf(bytes, "x"));
        CheckpointAssert.Same(cp, CheckpointFormat.Decode(bytes, "x"));
        // Deterministic: the same checkpoint gives the same bytes.
        Assert.Equal(bytes, CheckpointFormat.Encode(CheckpointFormat.Decode(bytes, "x")));
    }

    [Theory]
    [InlineData(0, Parameterization.LowerTriangular)]
    [InlineData(1, Parameterization.Full)]
    [InlineData(512, Parameterization.LowerTriangular)]
    [InlineData(40, Parameterization.Full)]
    public void Version_2_round_trips_any_dimension_special_doubles_and_no_model(int d, Parameterization p)
    {
        var rng = new Random(d);
        double[] Fill(int n)
        {
            var a = new double[n];
            for (int i = 0; i < n; i++) a[i] = BitConverter.Int64BitsToDouble(rng.NextInt64());
            double[] special = [double.NaN, BitConverter.Int64BitsToDouble(0x7FF0_0000_0000_0001), -0.0, double.PositiveInfinity, double.Epsilon];
            for (int i = 0; i < Math.Min(n, special.Length); i++) a[rng.Next(n)] = special[i];
            return a;
        }
        int lambda = p == Parameterization.Full ? d * d : d * (d + 1) / 2;
        int parts = d % 7;
        var cp = new StreamCheckpoint("g/t-ü", long.MaxValue, -1, d, new ThetaData(d, p, Fill(d), Fill(lambda)), Fill(d + lambda), Fill(d + lambda), 5, 1e-3,
            new StatisticsData(d, 123, 122.5, Fill(d), Fill(d * (d + 1) / 2), Fill(d), -0.0, Fill(d), Fill(d)), "t-ü",
            Enumerable.Range(0, parts).ToArray(), Enumerable.Repeat(3L, parts).ToArray(), Enumerable.Repeat(long.MaxValue, parts).ToArray(), new long[parts],
            1, 2, 3, 4, new DateTime(DateTime.MaxValue.Ticks, DateTimeKind.Local));
        CheckpointAssert.Same(cp, CheckpointFormat.Decode(CheckpointFormat.Encode(cp), "x"));
        var noModel = cp with { Theta = null, AdamFirstMoment = [], AdamSecondMoment = [], AdamStep = 0, AdamLearningRate = 0, WrittenUtc = default };
        CheckpointAssert.Same(noModel, CheckpointFormat.Decode(CheckpointFormat.Encode(noModel), "x"));
    }

    /// <summary>A later release adds fields (of every protobuf wire type) and raises the minor version: this release reads the body and skips them.</summary>
    [Fact]
    public void Fields_a_later_minor_version_adds_are_skipped()
    {
        var cp = KnownCheckpoint.Create();
        var body = CheckpointFormat.ToMessage(cp).ToByteArray();
        using var extra = new MemoryStream();
        using (var o = new CodedOutputStream(extra, leaveOpen: true))
        {
            o.WriteTag(100, WireFormat.WireType.Varint); o.WriteInt64(-42);
            o.WriteTag(101, WireFormat.WireType.Fixed64); o.WriteDouble(2.5);
            o.WriteTag(102, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFromUtf8("a new nested message or string"));
            o.WriteTag(103, WireFormat.WireType.Fixed32); o.WriteFixed32(7);
        }
        // New fields first and last: protobuf readers accept fields in any order.
        byte[] future = [.. extra.ToArray(), .. body, .. extra.ToArray()];
        var bytes = CheckpointFormat.Envelope(future, CheckpointFormat.MajorVersion, minor: 7);
        CheckpointAssert.Same(cp, CheckpointFormat.Decode(bytes, "x"));
    }

    [Fact]
    public void A_newer_major_version_is_refused_with_a_message_to_upgrade()
    {
        var body = CheckpointFormat.ToMessage(KnownCheckpoint.Create()).ToByteArray();
        foreach (int major in new[] { 3, 9 })
        {
            var e = Assert.Throws<CheckpointFormatException>(() => CheckpointFormat.Decode(CheckpointFormat.Envelope(body, major, 0), "file /data/job.ckpt"));
            Assert.Equal($"file /data/job.ckpt: checkpoint format version {major} is newer than this release reads (2); upgrade mvnstream", e.Message);
        }
    }

    [Fact]
    public void Every_truncation_of_either_version_is_a_clear_error()
    {
        foreach (var bytes in new[] { File.ReadAllBytes(V1File), CheckpointFormat.Encode(KnownCheckpoint.Create()) })
            for (int cut = 0; cut < bytes.Length; cut++)
            {
                var e = Assert.Throws<CheckpointFormatException>(() => CheckpointFormat.Decode(bytes.AsSpan(0, cut), "ck"));
                Assert.StartsWith("ck: ", e.Message, StringComparison.Ordinal);
                Assert.True(cut < 8 ? e.Message.Contains("not an MvnStream checkpoint", StringComparison.Ordinal) || e.Message.Contains("empty", StringComparison.Ordinal)
                    : e.Message.Contains("truncated", StringComparison.Ordinal), $"cut at {cut}: {e.Message}");
            }
    }

    [Fact]
    public void A_flipped_bit_anywhere_in_a_version_2_body_is_reported_as_corrupt()
    {
        var bytes = CheckpointFormat.Encode(KnownCheckpoint.Create());
        for (int i = CheckpointFormat.HeaderBytes; i < bytes.Length; i++)
        {
            var bad = bytes.ToArray();
            bad[i] ^= (byte)(1 << (i % 8));
            var e = Assert.Throws<CheckpointFormatException>(() => CheckpointFormat.Decode(bad, "ck"));
            Assert.Contains("corrupt checkpoint: the CRC-32", e.Message, StringComparison.Ordinal);
        }
        var longer = CheckpointFormat.Envelope([.. bytes[CheckpointFormat.HeaderBytes..]], 2, 0);
        Assert.Contains("bytes after its", Assert.Throws<CheckpointFormatException>(() => CheckpointFormat.Decode([.. longer, 0], "ck")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_bytes_are_not_a_checkpoint()
    {
        foreach (var bytes in new[] { ""u8.ToArray(), "{\"dimension\": 2}"u8.ToArray(), "MVNCKPT"u8.ToArray(), "MVNCKPT\0"u8.ToArray(), new byte[100] })
            Assert.Contains("not", Assert.Throws<CheckpointFormatException>(() => CheckpointFormat.Decode(bytes, "ck")).Message, StringComparison.Ordinal);
        var garbage = CheckpointFormat.Envelope([0xFF, 0xFF, 0xFF], 2, 0);
        Assert.Contains("malformed checkpoint body", Assert.Throws<CheckpointFormatException>(() => CheckpointFormat.Decode(garbage, "ck")).Message, StringComparison.Ordinal);
    }

    /// <summary>A well-formed body whose arrays do not fit d is refused before the coordinator would index past them.</summary>
    [Fact]
    public void A_body_whose_arrays_do_not_fit_d_is_inconsistent()
    {
        var cp = KnownCheckpoint.Create();
        (StreamCheckpoint Checkpoint, string Expected)[] cases =
        [
            (cp with { Theta = cp.Theta! with { Mu = [1.0] } }, "theta.mu has 1 values, expected 3"),
            (cp with { Statistics = cp.Statistics! with { ScatterLower = [1.0, 2.0] } }, "statistics.scatter_lower has 2 values, expected 6"),
            (cp with { Dimension = 4 }, "theta has dimension 3, the checkpoint 4"),
            (cp with { Starts = [0, 1000] }, "partition 1 covers [1000, 905)"),
        ];
        foreach (var (bad, expected) in cases)
        {
            var e = Assert.Throws<CheckpointFormatException>(() => CheckpointFormat.Decode(CheckpointFormat.Encode(bad), "ck"));
            Assert.Contains("inconsistent checkpoint: " + expected, e.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>The bytes stored do not depend on the cluster wire protocol, so a new wire version leaves stored checkpoints readable.</summary>
    [Fact]
    public void A_checkpoint_is_not_a_cluster_message()
    {
        Assert.False(typeof(IMvnMessage).IsAssignableFrom(typeof(StreamCheckpoint)), "a checkpoint is durable state with its own format, not a cluster message");
    }
}
