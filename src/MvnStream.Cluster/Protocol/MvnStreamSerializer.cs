using System.Collections.Frozen;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using MvnStream.Cluster.Protocol.Wire;

namespace MvnStream.Cluster.Protocol;

/// <summary>
/// The compact binary serializer of every <see cref="IMvnMessage"/> (docs/ARCHITECTURE.md, "Messages and the wire": numeric messages never cross the wire
/// as JSON). A payload is one version byte (<see cref="WireVersion"/>), the body's length as a varint, then the body:
/// the message in the protobuf encoding, its schema the record's declaration: each parameter carries its field number
/// (<see cref="FieldAttribute"/>; the encoding of each type is in <see cref="MessageSchema"/>). Arrays of doubles are
/// their little-endian bytes in one block (bits exact), and symmetric matrices travel as packed lower triangles, so a
/// d = 512 statistics message is the raw doubles plus a few bytes.
/// <para>
/// Adding a field is one edit: a new parameter with a new number. Nodes skip fields they do not know and read absent
/// ones as their default, so no version bump is needed. Adding a message type: one <see cref="Codec.Of{T}"/> line in
/// <see cref="Codecs"/> (a new short, unique manifest); a test fails for any IMvnMessage without one. Never reuse or
/// change a manifest or a field number once shipped (<see cref="RetiredManifests"/>); bump <see cref="WireVersion"/>
/// only for a change older nodes must refuse.
/// </para>
/// </summary>
public sealed class MvnStreamSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int SerializerId = 4217;

    /// <summary>
    /// First byte of every payload. Versions 1 and 2 were positional layouts (2 added the statistics' column min and max
    /// and StreamJobFinished's SolveStopReason); 3 is the protobuf encoding. An older node's payload is refused with both
    /// versions named.
    /// </summary>
    public const byte WireVersion = 3;

    public override int Identifier => SerializerId;

    // ---------------------------------------------------------------------------------------------
    // The table: manifest -> message type. One line per message type.
    // ---------------------------------------------------------------------------------------------

    private static readonly Codec[] Codecs =
    [
        // Client <-> coordinator.
        Codec.Of<SubmitFitJob>("FSub"),
        Codec.Of<FitJobAccepted>("FAcc"),
        Codec.Of<CancelFitJob>("FCan"),
        Codec.Of<FitJobLoadProgress>("FLP"),
        Codec.Of<FitJobRoundProgress>("FRP"),
        Codec.Of<FitJobNotice>("FNot"),
        Codec.Of<FitJobCompleted>("FDon"),
        Codec.Of<FitJobFailed>("FErr"),
        // Worker <-> coordinator.
        Codec.Of<RegisterWorker>("WReg"),
        Codec.Of<WorkerRegistered>("WAck"),
        Codec.Of<CoordinatorAvailable>("WHi"),
        Codec.Of<DescribeFile>("DF"),
        Codec.Of<FileDescribed>("DFok"),
        Codec.Of<FileDescribeFailed>("DFer"),
        Codec.Of<LoadShard>("LS"),
        Codec.Of<ShardLoadProgress>("LSp"),
        Codec.Of<ShardLoaded>("LSok"),
        Codec.Of<ShardLoadFailed>("LSer"),
        Codec.Of<ComputePartialGradient>("PG"),
        Codec.Of<PartialGradientComputed>("PGok"),
        Codec.Of<ReleaseJob>("RJ"),
        // Client <-> stream coordinator.
        Codec.Of<StartStreamJob>("SSub"),
        Codec.Of<StreamJobStarted>("SAcc"),
        Codec.Of<StreamJobStatus>("SSt"),
        Codec.Of<StreamJobNotice>("SNot"),
        Codec.Of<StopStreamJob>("SCan"),
        Codec.Of<StreamJobFinished>("SDon"),
        Codec.Of<StreamJobFailed>("SErr"),
        // Stream coordinator <-> stream workers.
        Codec.Of<StartConsuming>("CS"),
        Codec.Of<LedgerQuery>("LQ"),
        Codec.Of<LedgerPosition>("LQok"),
        Codec.Of<PartitionContribution>("PC"),
        Codec.Of<ContributionAck>("PCok"),
        Codec.Of<RecordsLost>("RL"),
        Codec.Of<ModelUpdated>("MU"),
        Codec.Of<CommitOffsets>("CO"),
        Codec.Of<StopConsuming>("CX"),
        Codec.Of<ConsumingStopped>("CXok"),
        Codec.Of<WorkerStreamStatus>("WSS"),
    ];

    /// <summary>
    /// Manifests once shipped and no longer used: never given to another type. "SCk" was StreamCheckpoint, which now has
    /// a versioned format of its own (MvnStream.Kafka's CheckpointFormat) and no longer crosses the wire.
    /// </summary>
    internal static readonly IReadOnlySet<string> RetiredManifests = new HashSet<string>(StringComparer.Ordinal) { "SCk" };

    private static readonly FrozenDictionary<Type, Codec> ByType = BuildIndex(c => c.Type, "type");
    private static readonly FrozenDictionary<string, Codec> ByManifest = BuildIndex(c => c.Manifest, "manifest");

    /// <summary>Every message type this serializer handles, with its manifest (tests check it covers every IMvnMessage).</summary>
    internal static IReadOnlyDictionary<Type, string> ManifestsByType { get; } =
        Codecs.ToFrozenDictionary(c => c.Type, c => c.Manifest);

    public override string Manifest(object o)
    {
        ArgumentNullException.ThrowIfNull(o);
        return CodecFor(o).Manifest;
    }

    public override byte[] ToBinary(object obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var schema = CodecFor(obj).Schema;
        int body = schema.Size(obj);
        // Exact size, written in place; not zeroed first (it is overwritten at once), which matters for MiB-sized payloads.
        var result = GC.AllocateUninitializedArray<byte>(1 + ProtoWriter.VarintSize((ulong)body) + body);
        var writer = new ProtoWriter(result, 0);
        writer.WriteByte(WireVersion);
        writer.WriteVarint((ulong)body);
        schema.Write(writer, obj);
        if (writer.Position != result.Length)
            throw new InvalidOperationException($"MvnStreamSerializer: {obj.GetType().Name} wrote {writer.Position} bytes, sized {result.Length}");
        return result;
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (manifest is null || !ByManifest.TryGetValue(manifest, out var codec))
            throw new SerializationException(
                $"MvnStreamSerializer: unknown manifest '{manifest}' ({bytes.Length} bytes); known manifests: {string.Join(", ", ByManifest.Keys.Order(StringComparer.Ordinal))}");
        var reader = new ProtoReader(bytes, 1, bytes.Length, codec.Manifest, codec.Type.Name);
        if (bytes.Length == 0) throw reader.Truncated("wire version", 1);
        if (bytes[0] != WireVersion)
            throw reader.Malformed($"wire version {bytes[0]} is not supported (this node reads version {WireVersion})");
        int length = reader.ReadLength("body");
        if (reader.Remaining > length)
            throw reader.Malformed($"{reader.Remaining - length} unexpected trailing bytes after the {length}-byte body");
        if (reader.Remaining < length)
            throw reader.TruncatedNested("body", length, r => r.Nested(r.Remaining, codec.Schema.Read));
        return reader.Nested(length, codec.Schema.Read);
    }

    private static Codec CodecFor(object o) =>
        ByType.TryGetValue(o.GetType(), out var codec)
            ? codec
            : throw new SerializationException($"MvnStreamSerializer: no wire format for type {o.GetType().FullName}; add it to MvnStreamSerializer.Codecs");

    private static FrozenDictionary<TKey, Codec> BuildIndex<TKey>(Func<Codec, TKey> key, string what) where TKey : notnull
    {
        var index = new Dictionary<TKey, Codec>();
        foreach (var c in Codecs)
            if (!index.TryAdd(key(c), c))
                throw new InvalidOperationException($"MvnStreamSerializer: {what} '{key(c)}' is used by both {index[key(c)].Type.Name} and {c.Type.Name}");
        return index.ToFrozenDictionary();
    }

    private sealed class Codec
    {
        private MessageSchema? _schema;

        private Codec(Type type, string manifest)
        {
            Type = type;
            Manifest = manifest;
        }

        public Type Type { get; }
        public string Manifest { get; }

        /// <summary>
        /// Built on the type's first message, not with the table: a schema compiles a getter per field and a constructor call,
        /// each JIT-compiled at full optimization, and building all ~40 at once cost every process ~260 such compilations while
        /// its first ActorSystem started, most of them for messages a fit or a worker never sends (docs/ARCHITECTURE.md,
        /// "Fitting a file"). Every type's schema is still checked by the serializer tests' round trip of each message type.
        /// </summary>
        public MessageSchema Schema => _schema ??= MessageSchema.For(Type);

        public static Codec Of<T>(string manifest) where T : class, IMvnMessage => new(typeof(T), manifest);
    }
}
