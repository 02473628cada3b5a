using System.Buffers.Binary;
using System.Runtime.Serialization;
using CsCheck;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;

namespace MvnStream.Cluster.Tests.Protocol;

public sealed class MvnStreamSerializerTests(SerializerFixture fixture) : IClassFixture<SerializerFixture>
{
    private readonly MvnStreamSerializer serializer = fixture.Serializer;

    public static TheoryData<string> MessageTypeNames
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var t in MessageGenerators.AllMessageTypes) data.Add(t.Name);
            return data;
        }
    }

    private static Type TypeNamed(string name) => MessageGenerators.AllMessageTypes.Single(t => t.Name == name);

    private object RoundTrip(object message, out byte[] bytes)
    {
        bytes = serializer.ToBinary(message);
        return serializer.FromBinary(bytes, serializer.Manifest(message));
    }

    private static string Describe(IMvnMessage m) => m.GetType().Name + " " + m.ToString()![..Math.Min(200, m.ToString()!.Length)];

    // -------------------------------------------------------------------------------------------
    // Coverage: a message type added without a wire format (or a generator) fails here.
    // -------------------------------------------------------------------------------------------

    [Fact]
    public void Every_IMvnMessage_type_in_the_assembly_has_a_manifest()
    {
        Assert.NotEmpty(MessageGenerators.AllMessageTypes);
        var missing = MessageGenerators.AllMessageTypes.Where(t => !MvnStreamSerializer.ManifestsByType.ContainsKey(t)).Select(t => t.FullName).ToList();
        Assert.True(missing.Count == 0, "IMvnMessage types without a wire format (add them to MvnStreamSerializer.Codecs): " + string.Join(", ", missing));
    }

    [Fact]
    public void Every_manifest_belongs_to_an_IMvnMessage_type()
    {
        foreach (var t in MvnStreamSerializer.ManifestsByType.Keys)
            Assert.Contains(t, MessageGenerators.AllMessageTypes);
    }

    [Fact]
    public void Every_IMvnMessage_type_has_a_test_generator()
    {
        var missing = MessageGenerators.AllMessageTypes.Where(t => !MessageGenerators.ByType.ContainsKey(t)).Select(t => t.FullName).ToList();
        Assert.True(missing.Count == 0, "IMvnMessage types without a generator in MessageGenerators.ByType: " + string.Join(", ", missing));
    }

    [Fact]
    public void Manifests_are_short_unique_and_ascii()
    {
        var manifests = MvnStreamSerializer.ManifestsByType.Values.ToList();
        Assert.Equal(manifests.Count, manifests.Distinct(StringComparer.Ordinal).Count());
        foreach (var m in manifests)
        {
            Assert.InRange(m.Length, 2, 4);
            Assert.All(m, c => Assert.True(char.IsAsciiLetterOrDigit(c), $"manifest '{m}' has a character outside [A-Za-z0-9]"));
        }
    }

    [Fact]
    public void Shipped_manifests_never_change()
    {
        var expected = new Dictionary<Type, string>
        {
            [typeof(SubmitFitJob)] = "FSub", [typeof(FitJobAccepted)] = "FAcc", [typeof(CancelFitJob)] = "FCan",
            [typeof(FitJobLoadProgress)] = "FLP", [typeof(FitJobRoundProgress)] = "FRP", [typeof(FitJobNotice)] = "FNot",
            [typeof(FitJobCompleted)] = "FDon", [typeof(FitJobFailed)] = "FErr",
            [typeof(RegisterWorker)] = "WReg", [typeof(WorkerRegistered)] = "WAck", [typeof(DescribeFile)] = "DF",
            [typeof(FileDescribed)] = "DFok", [typeof(FileDescribeFailed)] = "DFer", [typeof(LoadShard)] = "LS",
            [typeof(ShardLoadProgress)] = "LSp", [typeof(ShardLoaded)] = "LSok", [typeof(ShardLoadFailed)] = "LSer",
            [typeof(ComputePartialGradient)] = "PG", [typeof(PartialGradientComputed)] = "PGok", [typeof(ReleaseJob)] = "RJ",
            [typeof(StartStreamJob)] = "SSub", [typeof(StreamJobStarted)] = "SAcc", [typeof(StreamJobStatus)] = "SSt",
            [typeof(StreamJobNotice)] = "SNot", [typeof(StopStreamJob)] = "SCan", [typeof(StreamJobFinished)] = "SDon",
            [typeof(StreamJobFailed)] = "SErr",
            [typeof(StartConsuming)] = "CS", [typeof(LedgerQuery)] = "LQ", [typeof(LedgerPosition)] = "LQok",
            [typeof(PartitionContribution)] = "PC", [typeof(ContributionAck)] = "PCok", [typeof(RecordsLost)] = "RL",
            [typeof(ModelUpdated)] = "MU", [typeof(CommitOffsets)] = "CO", [typeof(StopConsuming)] = "CX",
            [typeof(ConsumingStopped)] = "CXok", [typeof(WorkerStreamStatus)] = "WSS",
        };
        foreach (var retired in MvnStreamSerializer.RetiredManifests)
            Assert.DoesNotContain(retired, MvnStreamSerializer.ManifestsByType.Values);
        foreach (var (type, manifest) in expected)
        {
            Assert.True(MvnStreamSerializer.ManifestsByType.TryGetValue(type, out var actual), $"{type.Name} has no manifest");
            Assert.True(manifest == actual, $"{type.Name}: manifest '{actual}', shipped as '{manifest}' (never change a shipped manifest)");
        }
    }

    [Fact]
    public void Identifier_is_4217_and_manifests_are_included()
    {
        Assert.Equal(4217, serializer.Identifier);
        Assert.Equal(MvnStreamSerializer.SerializerId, serializer.Identifier);
        Assert.True(serializer.IncludeManifest);
    }

    // -------------------------------------------------------------------------------------------
    // Round trips.
    // -------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(MessageTypeNames))]
    public void Round_trips_bit_for_bit(string typeName)
    {
        var type = TypeNamed(typeName);
        Assert.True(MessageGenerators.ByType.TryGetValue(type, out var gen), $"no generator for {typeName}");
        gen.Sample(message =>
        {
            Assert.IsType(type, message);
            var back = RoundTrip(message, out var bytes);
            WireEquality.AssertBitIdentical(message, back);
            Assert.Equal(MvnStreamSerializer.WireVersion, bytes[0]);
            // Deterministic: the copy serializes to the same bytes.
            Assert.Equal(bytes, serializer.ToBinary(back));
        }, iter: 300, print: Describe);
    }

    [Fact]
    public void Round_trips_through_Akka_serialization_by_identifier_and_manifest()
    {
        var serialization = fixture.System.Serialization;
        foreach (var (type, gen) in MessageGenerators.ByType)
        {
            var message = gen.Single();
            var found = serialization.FindSerializerFor(message);
            Assert.IsType<MvnStreamSerializer>(found);
            var manifest = Akka.Serialization.Serialization.ManifestFor(found, message);
            var bytes = found.ToBinary(message);
            var back = serialization.Deserialize(bytes, found.Identifier, manifest);
            Assert.IsType(type, back);
            WireEquality.AssertBitIdentical(message, back);
        }
    }

    [Fact]
    public void A_d512_ShardLoaded_round_trips_and_its_payload_is_the_raw_doubles_plus_a_few_bytes()
    {
        var message = MessageGenerators.LargeShardLoaded();
        var back = RoundTrip(message, out var bytes);
        WireEquality.AssertBitIdentical(message, back);
        var s = message.Statistics!;
        long raw = 8L * (s.Mean.Length + s.ScatterLower.Length + s.Third.Length + s.ColumnMin.Length + s.ColumnMax.Length);
        Assert.Equal(131_328, s.ScatterLower.Length);
        Assert.InRange(bytes.Length, raw, raw + 512);
    }

    /// <summary>FrameBudget's sizes (what a job is checked against before it starts) bound the real payloads.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(64)]
    [InlineData(512)]
    public void FrameBudget_bounds_the_payloads_of_the_large_messages(int d)
    {
        int tril = MessageGenerators.Tril(d);
        var stats = new StatisticsData(d, long.MaxValue, -1.5, MessageGenerators.Fill(d, 1), MessageGenerators.Fill(tril, 2), MessageGenerators.Fill(d, 3), double.NaN,
            MessageGenerators.Fill(d, 7), MessageGenerators.Fill(d, 8));
        const string id = "a-job-id-of-a-realistic-length-0123456789";
        Assert.InRange(serializer.ToBinary(new PartitionContribution(id, long.MaxValue, "a-topic", int.MaxValue, long.MaxValue - 1, long.MaxValue, long.MaxValue, long.MaxValue, stats)).Length,
            FrameBudget.StatisticsBytes(d) - FrameBudget.EnvelopeBytes, FrameBudget.StatisticsBytes(d));
        Assert.InRange(serializer.ToBinary(new ShardLoaded(id, int.MaxValue, long.MaxValue, long.MaxValue, [], long.MaxValue, 1.5, stats)).Length,
            FrameBudget.StatisticsBytes(d) - FrameBudget.EnvelopeBytes, FrameBudget.StatisticsBytes(d));
        foreach (var p in new[] { Parameterization.LowerTriangular, Parameterization.Full })
        {
            var lambda = MessageGenerators.Fill(p == Parameterization.Full ? d * d : tril, 4);
            long budget = FrameBudget.ThetaBytes(d, p);
            Assert.InRange(serializer.ToBinary(new PartialGradientComputed(id, long.MaxValue, int.MaxValue, double.NaN, MessageGenerators.Fill(d, 5), lambda, 1.5)).Length,
                budget - FrameBudget.EnvelopeBytes, budget);
            Assert.InRange(serializer.ToBinary(new ModelUpdated(id, long.MaxValue, long.MaxValue, new ThetaData(d, p, MessageGenerators.Fill(d, 6), lambda))).Length,
                budget - FrameBudget.EnvelopeBytes, budget);
        }
    }

    [Fact]
    public void A_d512_full_Lambda_gradient_round_trips()
    {
        var message = MessageGenerators.LargeFullGradient();
        var back = RoundTrip(message, out var bytes);
        WireEquality.AssertBitIdentical(message, back);
        Assert.Equal(512 * 512, ((PartialGradientComputed)back).GradLambdaPacked.Length);
        Assert.InRange(bytes.Length, 8L * (512 + 512 * 512), 8L * (512 + 512 * 512) + 256);
    }

    [Fact]
    public void A_d512_PartitionContribution_round_trips_and_its_payload_is_the_raw_doubles_plus_a_few_bytes()
    {
        var message = MessageGenerators.LargePartitionContribution();
        var back = RoundTrip(message, out var bytes);
        WireEquality.AssertBitIdentical(message, back);
        var s = message.Statistics!;
        long raw = 8L * (s.Mean.Length + s.ScatterLower.Length + s.Third.Length + s.ColumnMin.Length + s.ColumnMax.Length);
        Assert.Equal(131_328, ((PartitionContribution)back).Statistics!.ScatterLower.Length);
        Assert.InRange(bytes.Length, raw, raw + 512);
    }

    [Fact]
    public void Streaming_messages_with_nulls_and_empty_arrays_survive()
    {
        IMvnMessage[] messages =
        [
            new StartStreamJob("j", null!),
            new StreamJobStatus("", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, double.NaN, 0, -0.0, 0, 0, null, 0),
            new StreamJobFinished(null!, null, 0, 0, 0, 0, 0, 0, 0, 0, 0, null!, null!, null!, [], null!),
            new PartitionContribution("j", 1, "t", 0, 5, 5, 0, 0, null),
            new CommitOffsets("j", 1, "t", [], null!),
            new WorkerStreamStatus("j", 1, "w", null!, [], true, null, []),
            new WorkerStreamStatus("j", 1, "w", [int.MinValue, int.MaxValue], [long.MinValue, long.MaxValue], false, "ω-🙂", [0, long.MaxValue]),
        ];
        foreach (var message in messages)
            WireEquality.AssertBitIdentical(message, RoundTrip(message, out _));
        Assert.Null(((StartStreamJob)RoundTrip(messages[0], out _)).Settings);
        Assert.Null(((WorkerStreamStatus)RoundTrip(messages[5], out _)).Error);
    }

    [Fact]
    public void Special_doubles_nulls_empty_arrays_and_non_ascii_strings_survive()
    {
        foreach (var x in MessageGenerators.SpecialDoubles)
        {
            var message = new PartialGradientComputed("ω-√-🙂", long.MinValue, int.MaxValue, x, [], [x, -x], x);
            WireEquality.AssertBitIdentical(message, RoundTrip(message, out _));
        }
        var noStats = new ShardLoaded("", 0, 0, 0, [], 0, -0.0, null);
        var back = (ShardLoaded)RoundTrip(noStats, out _);
        Assert.Null(back.Statistics);
        Assert.Empty(back.Rejections);
        Assert.Equal("", back.JobId);
        WireEquality.AssertBitIdentical(noStats, back);

        var emptyStats = new ShardLoaded("j", 1, 2, 3, ["é", "中文", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", ""], 4, 5, new StatisticsData(0, 0, 0, [], [], [], double.NaN, [], null!));
        WireEquality.AssertBitIdentical(emptyStats, RoundTrip(emptyStats, out _));

        var nullInside = new FitJobCompleted(null!, null!, 1, 2, null!, 3, 4, 5, null!, true, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        WireEquality.AssertBitIdentical(nullInside, RoundTrip(nullInside, out _));
    }

    [Fact]
    public void A_lone_surrogate_becomes_the_replacement_character_as_in_any_UTF8()
    {
        var back = (FitJobNotice)RoundTrip(new FitJobNotice("a\uD800b", "ok"), out _);
        Assert.Equal("a\uFFFDb", back.JobId);
    }

    [Fact]
    public void Serialization_is_safe_from_many_threads_with_mixed_sizes()
    {
        var messages = Enumerable.Range(0, 64)
            .Select(i => i % 8 == 0 ? (IMvnMessage)MessageGenerators.LargeShardLoaded(i) : new FitJobNotice("job" + i, new string('x', i)))
            .ToArray();
        var results = new object[messages.Length];
        Parallel.For(0, messages.Length, i => results[i] = RoundTrip(messages[i], out _));
        for (int i = 0; i < messages.Length; i++) WireEquality.AssertBitIdentical(messages[i], results[i]);
    }

    // -------------------------------------------------------------------------------------------
    // Malformed input: always a SerializationException that says what was wrong.
    // -------------------------------------------------------------------------------------------

    [Fact]
    public void Unknown_manifest_throws_a_SerializationException_naming_it()
    {
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary([1, 0, 0, 0, 0], "Nope"));
        Assert.Contains("'Nope'", e.Message, StringComparison.Ordinal);
        Assert.Contains("unknown manifest", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_type_without_a_wire_format_throws_a_SerializationException_naming_it()
    {
        var e = Assert.Throws<SerializationException>(() => serializer.Manifest("not a message"));
        Assert.Contains("System.String", e.Message, StringComparison.Ordinal);
        Assert.Throws<SerializationException>(() => serializer.ToBinary(new object()));
    }

    [Theory]
    [MemberData(nameof(MessageTypeNames))]
    public void Every_truncation_throws_a_SerializationException_naming_the_message_and_field(string typeName)
    {
        var type = TypeNamed(typeName);
        var gen = MessageGenerators.ByType[type];
        gen.Sample(message => AssertEveryTruncationThrows(message, typeName), iter: 20, print: Describe);
    }

    /// <summary>The d = 512 payloads a random draw reaches only now and then, cut every way the theory cuts.</summary>
    [Fact]
    public void Every_truncation_of_a_d512_streaming_payload_throws()
    {
        AssertEveryTruncationThrows(MessageGenerators.LargePartitionContribution(), nameof(PartitionContribution));
    }

    private void AssertEveryTruncationThrows(IMvnMessage message, string typeName)
    {
        var bytes = serializer.ToBinary(message);
        var manifest = serializer.Manifest(message);
        // Every cut of a small payload; for a large one, every cut near both ends and 100 in between.
        IEnumerable<int> cuts = bytes.Length <= 4096
            ? Enumerable.Range(0, bytes.Length)
            : Enumerable.Range(0, 512).Concat(Enumerable.Range(bytes.Length - 256, 256)).Concat(Enumerable.Range(1, 100).Select(k => (int)((long)bytes.Length * k / 101)));
        foreach (var cut in cuts)
        {
            var e = Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes[..cut], manifest));
            Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
            Assert.Contains($"'{manifest}' ({typeName})", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Truncated_statistics_name_the_missing_array()
    {
        var bytes = serializer.ToBinary(MessageGenerators.LargeShardLoaded());
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes[..(bytes.Length / 2)], "LSok"));
        Assert.Contains("StatisticsData.ScatterLower", e.Message, StringComparison.Ordinal);
        Assert.Contains("ShardLoaded", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_contribution_statistics_name_the_missing_array()
    {
        var bytes = serializer.ToBinary(MessageGenerators.LargePartitionContribution());
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes[..(bytes.Length / 2)], "PC"));
        Assert.Contains("StatisticsData.ScatterLower", e.Message, StringComparison.Ordinal);
        Assert.Contains("PartitionContribution", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Trailing_bytes_throw()
    {
        var bytes = serializer.ToBinary(new CancelFitJob("j"));
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary([.. bytes, 0], "FCan"));
        Assert.Contains("trailing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_wire_version_throws()
    {
        var bytes = serializer.ToBinary(new CancelFitJob("j"));
        bytes[0] = 99;
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes, "FCan"));
        Assert.Contains("wire version 99", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A payload around a hand-made protobuf body: the version byte and the body's length first.</summary>
    private static byte[] Payload(params byte[] body)
    {
        var header = new List<byte> { MvnStreamSerializer.WireVersion };
        for (ulong n = (ulong)body.Length; ; n >>= 7)
        {
            if (n < 0x80) { header.Add((byte)n); break; }
            header.Add((byte)(n | 0x80));
        }
        return [.. header, .. body];
    }

    [Fact]
    public void A_corrupt_huge_array_length_throws_before_allocating()
    {
        // PartialGradientComputed field 5 (GradMu), length-delimited (tag 5 << 3 | 2 = 42), announcing 2^31 - 1 bytes.
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary(Payload(42, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 1, 2, 3), "PGok"));
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        Assert.Contains("PartialGradientComputed.GradMu needs 2147483647 bytes", e.Message, StringComparison.Ordinal);
        // A length beyond int: malformed.
        e = Assert.Throws<SerializationException>(() => serializer.FromBinary(Payload(42, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F), "PGok"));
        Assert.Contains("GradMu has length 4294967295", e.Message, StringComparison.Ordinal);
        // Bytes that are not a whole number of doubles.
        e = Assert.Throws<SerializationException>(() => serializer.FromBinary(Payload(42, 3, 1, 2, 3), "PGok"));
        Assert.Contains("GradMu has 3 bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_field_of_the_wrong_wire_type_or_an_invalid_tag_throws_naming_it()
    {
        // DescribeFile field 3 (Reader, a nested message) sent as a varint (tag 3 << 3 | 0 = 24).
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary(Payload(24, 1), "DF"));
        Assert.Contains("DescribeFile.Reader (field 3) has wire type 0, expected 2", e.Message, StringComparison.Ordinal);
        // Wire type 7 does not exist; field 0 is not a field.
        Assert.Contains("not a valid tag", Assert.Throws<SerializationException>(() => serializer.FromBinary(Payload(15), "DF")).Message, StringComparison.Ordinal);
        Assert.Contains("not a valid tag", Assert.Throws<SerializationException>(() => serializer.FromBinary(Payload(2, 0), "DF")).Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Forward compatibility, the point of numbered fields: a newer node's payload with fields this node does not know
    /// (of every protobuf wire type, before, between and after the known ones, also inside a nested message) reads as
    /// the message without them.
    /// </summary>
    [Fact]
    public void Fields_a_newer_node_adds_are_skipped()
    {
        byte[] unknown =
        [
            0xC8, 0x3E, 0x96, 0x01, // field 1001, varint 150
            0xD1, 0x3E, 1, 2, 3, 4, 5, 6, 7, 8, // field 1002, fixed64
            0xDA, 0x3E, 3, (byte)'n', (byte)'e', (byte)'w', // field 1003, length-delimited
            0xE5, 0x3E, 1, 2, 3, 4, // field 1004, fixed32
        ];
        var message = new DescribeFile("job", "/data/rows.csv", new ReaderSettings(RowFormat.Csv, 3, BadRowPolicy.Skip));
        var body = serializer.ToBinary(message)[2..]; // version byte and a one-byte body length
        Assert.Equal(body.Length, serializer.ToBinary(message)[1]);
        // JobId (field 1: tag, length, 3 bytes) and Path (field 2: tag, length, 14 bytes), then Reader (field 3: tag 26, length, message).
        int readerAt = 5 + 2 + message.Path.Length;
        Assert.Equal(26, body[readerAt]);
        Assert.Equal(body.Length - readerAt - 2, body[readerAt + 1]);
        // Unknown fields around the known ones and inside the nested reader settings.
        byte[] nested = [.. unknown, .. body[(readerAt + 2)..]];
        byte[] newer = [.. unknown, .. body[..readerAt], .. unknown, 26, (byte)nested.Length, .. nested, .. unknown];
        WireEquality.AssertBitIdentical(message, serializer.FromBinary(Payload(newer), "DF"));
    }

    /// <summary>A payload from a node that predates a field reads that field as its default (here all of them, from an empty body).</summary>
    [Fact]
    public void Fields_an_older_node_did_not_send_read_as_their_defaults()
    {
        var back = (FitJobAccepted)serializer.FromBinary(Payload(), "FAcc");
        Assert.Equal(new FitJobAccepted(null!, 0, 0, 0, 0), back);
        var job = serializer.ToBinary(new FitJobAccepted("j", 3, 6, 1000, 0));
        Assert.Equal(new FitJobAccepted("j", 3, 6, 1000, 0), serializer.FromBinary(job, "FAcc"));
    }

    [Fact]
    public void Every_wire_record_numbers_every_field_once()
    {
        foreach (var type in MessageGenerators.AllMessageTypes.Concat([typeof(StatisticsData), typeof(ThetaData), typeof(ReaderSettings), typeof(FitJobSettings), typeof(StreamJobSettings)]))
        {
            var fields = MvnStream.Cluster.Protocol.Wire.MessageSchema.For(type).Fields.ToList();
            Assert.Equal(type.GetConstructors().Max(c => c.GetParameters().Length), fields.Count);
            Assert.Equal(fields.Count, fields.Select(f => f.Number).Distinct().Count());
        }
    }

    /// <summary>The body is standard protobuf: Google.Protobuf's own reader walks it (tags, lengths, fixed64 doubles).</summary>
    [Fact]
    public void The_body_is_protobuf_that_a_standard_reader_walks()
    {
        var message = MessageGenerators.LargePartitionContribution();
        var bytes = serializer.ToBinary(message);
        var input = new Google.Protobuf.CodedInputStream(bytes, 1, bytes.Length - 1);
        int length = input.ReadLength();
        Assert.Equal(bytes.Length - 1 - Google.Protobuf.CodedOutputStream.ComputeLengthSize(length), length);
        var seen = new List<int>();
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            int number = Google.Protobuf.WireFormat.GetTagFieldNumber(tag);
            seen.Add(number);
            if (number == 9) // Statistics: a nested message whose field 5 is the packed lower triangle
            {
                var stats = new Google.Protobuf.CodedInputStream(input.ReadBytes().ToByteArray());
                for (uint t; (t = stats.ReadTag()) != 0;)
                    if (Google.Protobuf.WireFormat.GetTagFieldNumber(t) == 5) Assert.Equal(8 * 131_328, stats.ReadBytes().Length);
                    else stats.SkipLastField();
            }
            else if (number == 1) Assert.Equal(message.JobId, input.ReadString());
            else input.SkipLastField();
        }
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9], seen);
    }

    // -------------------------------------------------------------------------------------------
    // The comparer itself must see what record equality misses.
    // -------------------------------------------------------------------------------------------

    [Fact]
    public void The_comparer_sees_NaN_payloads_negative_zero_and_array_contents()
    {
        var nan1 = BitConverter.Int64BitsToDouble(0x7FF8_0000_0000_0001);
        var nan2 = BitConverter.Int64BitsToDouble(0x7FF8_0000_0000_0002);
        var a = new ThetaData(1, Parameterization.Full, [nan1], [0.0]);
        Assert.Null(WireEquality.FirstDifference(a, new ThetaData(1, Parameterization.Full, [nan1], [0.0])));
        Assert.NotNull(WireEquality.FirstDifference(a, new ThetaData(1, Parameterization.Full, [nan2], [0.0])));
        Assert.NotNull(WireEquality.FirstDifference(a, new ThetaData(1, Parameterization.Full, [nan1], [-0.0])));
        Assert.NotNull(WireEquality.FirstDifference(a, new ThetaData(1, Parameterization.Full, [nan1], [0.0, 0.0])));
        Assert.NotNull(WireEquality.FirstDifference(a, new ThetaData(1, Parameterization.LowerTriangular, [nan1], [0.0])));
        Assert.NotNull(WireEquality.FirstDifference(new ShardLoaded("j", 0, 0, 0, ["a"], 0, 0, null), new ShardLoaded("j", 0, 0, 0, ["b"], 0, 0, null)));
        Assert.NotNull(WireEquality.FirstDifference(new FitJobNotice("j", "m"), new FitJobNotice("j", null!)));
    }
}
