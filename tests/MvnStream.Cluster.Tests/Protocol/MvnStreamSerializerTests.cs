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
        long raw = 8L * (s.Mean.Length + s.ScatterLower.Length + s.Third.Length);
        Assert.Equal(131_328, s.ScatterLower.Length);
        Assert.InRange(bytes.Length, raw, raw + 512);
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
        long raw = 8L * (s.Mean.Length + s.ScatterLower.Length + s.Third.Length);
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
            new StreamJobFinished(null!, null, 0, 0, 0, 0, 0, 0, 0, 0, 0, null!, null!, null!, []),
            new PartitionContribution("j", 1, "t", 0, 5, 5, 0, 0, null),
            new CommitOffsets("j", 1, "t", [], null!),
            new WorkerStreamStatus("j", 1, "w", null!, [], true, null),
            new WorkerStreamStatus("j", 1, "w", [int.MinValue, int.MaxValue], [long.MinValue, long.MaxValue], false, "ω-🙂"),
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

        var emptyStats = new ShardLoaded("j", 1, 2, 3, ["é", "中文", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", ""], 4, 5, new StatisticsData(0, 0, 0, [], [], [], double.NaN));
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

    [Fact]
    public void A_corrupt_huge_array_length_throws_before_allocating()
    {
        var message = new PartialGradientComputed("j", 1, 2, 3, [1, 2], [3], 4);
        var bytes = serializer.ToBinary(message);
        // version(1) + JobId(4 + 1) + Round(8) + ShardIndex(4) + J(8) = 26: GradMu's length.
        Assert.Equal(2, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(26)));
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(26), int.MaxValue);
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes, "PGok"));
        Assert.Contains("GradMu", e.Message, StringComparison.Ordinal);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(26), -7);
        e = Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes, "PGok"));
        Assert.Contains("GradMu has length -7", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_presence_flag_throws()
    {
        var bytes = serializer.ToBinary(new DescribeFile("j", "p", new ReaderSettings(RowFormat.Csv, 3, BadRowPolicy.Skip)));
        // version(1) + JobId(4 + 1) + Path(4 + 1) = 11: Reader's presence flag.
        Assert.Equal(1, bytes[11]);
        bytes[11] = 7;
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary(bytes, "DF"));
        Assert.Contains("Reader (presence flag)", e.Message, StringComparison.Ordinal);
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
