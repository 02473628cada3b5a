using System.Buffers;
using System.Collections.Frozen;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using MvnStream.Cluster.Protocol.Wire;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;

namespace MvnStream.Cluster.Protocol;

/// <summary>
/// The compact binary serializer of every <see cref="IMvnMessage"/> (DESIGN §2: numeric messages never
/// cross the wire as JSON). Payload = one version byte (<see cref="WireVersion"/>) followed by the
/// message's fields in declaration order, little-endian:
/// int/enum = int32, long = int64, double = its 8 IEEE-754 bytes (bits exact), bool = 1 byte,
/// string = int32 UTF-8 byte count (-1 null) + bytes, double[]/int[]/long[] = int32 count (-1 null) + raw
/// bytes, string[] = int32 count (-1 null) + strings, nested record = presence byte (0/1) + its fields,
/// DateTime = int64 ticks + kind byte (0 Unspecified, 1 Utc, 2 Local; exact, no time-zone conversion).
/// <para>
/// Adding a message type: one <see cref="Codec.Of{T}"/> line in <see cref="Codecs"/> (a new short,
/// unique manifest) and its Write/Read pair below. A test fails for any IMvnMessage without a codec.
/// Never reuse or change a manifest once shipped; to change a layout, bump <see cref="WireVersion"/>.
/// </para>
/// </summary>
public sealed class MvnStreamSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int SerializerId = 4217;

    /// <summary>First byte of every payload.</summary>
    public const byte WireVersion = 1;

    /// <summary>Serialization buffers larger than this are not kept for reuse by the thread.</summary>
    private const int MaxRetainedBufferBytes = 8 * 1024 * 1024;

    public override int Identifier => SerializerId;

    // ---------------------------------------------------------------------------------------------
    // The table: manifest -> writer/reader. One line per message type.
    // ---------------------------------------------------------------------------------------------

    private static readonly Codec[] Codecs =
    [
        // Client <-> coordinator.
        Codec.Of<SubmitFitJob>("FSub", WriteSubmitFitJob, ReadSubmitFitJob),
        Codec.Of<FitJobAccepted>("FAcc", WriteFitJobAccepted, ReadFitJobAccepted),
        Codec.Of<CancelFitJob>("FCan", WriteCancelFitJob, ReadCancelFitJob),
        Codec.Of<FitJobLoadProgress>("FLP", WriteFitJobLoadProgress, ReadFitJobLoadProgress),
        Codec.Of<FitJobRoundProgress>("FRP", WriteFitJobRoundProgress, ReadFitJobRoundProgress),
        Codec.Of<FitJobNotice>("FNot", WriteFitJobNotice, ReadFitJobNotice),
        Codec.Of<FitJobCompleted>("FDon", WriteFitJobCompleted, ReadFitJobCompleted),
        Codec.Of<FitJobFailed>("FErr", WriteFitJobFailed, ReadFitJobFailed),
        // Worker <-> coordinator.
        Codec.Of<RegisterWorker>("WReg", WriteRegisterWorker, ReadRegisterWorker),
        Codec.Of<WorkerRegistered>("WAck", WriteWorkerRegistered, ReadWorkerRegistered),
        Codec.Of<DescribeFile>("DF", WriteDescribeFile, ReadDescribeFile),
        Codec.Of<FileDescribed>("DFok", WriteFileDescribed, ReadFileDescribed),
        Codec.Of<FileDescribeFailed>("DFer", WriteFileDescribeFailed, ReadFileDescribeFailed),
        Codec.Of<LoadShard>("LS", WriteLoadShard, ReadLoadShard),
        Codec.Of<ShardLoadProgress>("LSp", WriteShardLoadProgress, ReadShardLoadProgress),
        Codec.Of<ShardLoaded>("LSok", WriteShardLoaded, ReadShardLoaded),
        Codec.Of<ShardLoadFailed>("LSer", WriteShardLoadFailed, ReadShardLoadFailed),
        Codec.Of<ComputePartialGradient>("PG", WriteComputePartialGradient, ReadComputePartialGradient),
        Codec.Of<PartialGradientComputed>("PGok", WritePartialGradientComputed, ReadPartialGradientComputed),
        Codec.Of<ReleaseJob>("RJ", WriteReleaseJob, ReadReleaseJob),
        // Client <-> stream coordinator.
        Codec.Of<StartStreamJob>("SSub", WriteStartStreamJob, ReadStartStreamJob),
        Codec.Of<StreamJobStarted>("SAcc", WriteStreamJobStarted, ReadStreamJobStarted),
        Codec.Of<StreamJobStatus>("SSt", WriteStreamJobStatus, ReadStreamJobStatus),
        Codec.Of<StreamJobNotice>("SNot", WriteStreamJobNotice, ReadStreamJobNotice),
        Codec.Of<StopStreamJob>("SCan", WriteStopStreamJob, ReadStopStreamJob),
        Codec.Of<StreamJobFinished>("SDon", WriteStreamJobFinished, ReadStreamJobFinished),
        Codec.Of<StreamJobFailed>("SErr", WriteStreamJobFailed, ReadStreamJobFailed),
        // Stream coordinator <-> stream workers.
        Codec.Of<StartConsuming>("CS", WriteStartConsuming, ReadStartConsuming),
        Codec.Of<LedgerQuery>("LQ", WriteLedgerQuery, ReadLedgerQuery),
        Codec.Of<LedgerPosition>("LQok", WriteLedgerPosition, ReadLedgerPosition),
        Codec.Of<PartitionContribution>("PC", WritePartitionContribution, ReadPartitionContribution),
        Codec.Of<ContributionAck>("PCok", WriteContributionAck, ReadContributionAck),
        Codec.Of<RecordsLost>("RL", WriteRecordsLost, ReadRecordsLost),
        Codec.Of<ModelUpdated>("MU", WriteModelUpdated, ReadModelUpdated),
        Codec.Of<CommitOffsets>("CO", WriteCommitOffsets, ReadCommitOffsets),
        Codec.Of<StopConsuming>("CX", WriteStopConsuming, ReadStopConsuming),
        Codec.Of<ConsumingStopped>("CXok", WriteConsumingStopped, ReadConsumingStopped),
        Codec.Of<WorkerStreamStatus>("WSS", WriteWorkerStreamStatus, ReadWorkerStreamStatus),
    ];

    /// <summary>
    /// Manifests once shipped and no longer used: never given to another type. "SCk" was StreamCheckpoint, which now has
    /// a versioned format of its own (MvnStream.Kafka's CheckpointFormat) and no longer crosses the wire.
    /// </summary>
    internal static readonly IReadOnlySet<string> RetiredManifests = new HashSet<string>(StringComparer.Ordinal) { "SCk" };

    private static readonly FrozenDictionary<Type, Codec> ByType = BuildIndex(c => c.Type, "type");
    private static readonly FrozenDictionary<string, Codec> ByManifest = BuildIndex(c => c.Manifest, "manifest");

    [ThreadStatic] private static ArrayBufferWriter<byte>? cachedBuffer;

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
        var codec = CodecFor(obj);
        var buffer = cachedBuffer ?? new ArrayBufferWriter<byte>(4096);
        cachedBuffer = null; // re-entrancy safe: a nested call on this thread gets its own buffer
        try
        {
            var writer = new WireWriter(buffer);
            writer.WriteByte(WireVersion);
            codec.Write(writer, obj);
            // Exact size; not zeroed first (it is overwritten at once), which matters for MiB-sized payloads.
            var result = GC.AllocateUninitializedArray<byte>(buffer.WrittenCount);
            buffer.WrittenSpan.CopyTo(result);
            return result;
        }
        finally
        {
            if (buffer.Capacity <= MaxRetainedBufferBytes)
            {
                buffer.ResetWrittenCount();
                cachedBuffer = buffer;
            }
        }
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (manifest is null || !ByManifest.TryGetValue(manifest, out var codec))
            throw new SerializationException(
                $"MvnStreamSerializer: unknown manifest '{manifest}' ({bytes.Length} bytes); known manifests: {string.Join(", ", ByManifest.Keys.Order(StringComparer.Ordinal))}");
        var reader = new WireReader(bytes, codec.Manifest, codec.Type.Name);
        byte version = reader.ReadByte("wire version");
        if (version != WireVersion)
            throw reader.Malformed($"wire version {version} is not supported (this node reads version {WireVersion})");
        var message = codec.Read(ref reader);
        reader.EnsureEnd();
        return message;
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

    private delegate T WireRead<out T>(ref WireReader reader);

    private sealed class Codec
    {
        private Codec(Type type, string manifest, Action<WireWriter, object> write, WireRead<object> read)
        {
            Type = type;
            Manifest = manifest;
            Write = write;
            Read = read;
        }

        public Type Type { get; }
        public string Manifest { get; }
        public Action<WireWriter, object> Write { get; }
        public WireRead<object> Read { get; }

        public static Codec Of<T>(string manifest, Action<WireWriter, T> write, WireRead<T> read) where T : class, IMvnMessage =>
            new(typeof(T), manifest, (w, o) => write(w, (T)o), read);
    }

    // ---------------------------------------------------------------------------------------------
    // Nested wire types.
    // ---------------------------------------------------------------------------------------------

    private static void WriteStatistics(WireWriter w, StatisticsData? s)
    {
        if (!w.WritePresence(s)) return;
        w.WriteInt32(s!.Dimension);
        w.WriteInt64(s.Count);
        w.WriteDouble(s.Weight);
        w.WriteDoubles(s.Mean);
        w.WriteDoubles(s.ScatterLower);
        w.WriteDoubles(s.Third);
        w.WriteDouble(s.Fourth);
    }

    private static StatisticsData? ReadStatistics(ref WireReader r, string field)
    {
        if (!r.ReadPresence(field)) return null;
        return new StatisticsData(
            r.ReadInt32("StatisticsData.Dimension"),
            r.ReadInt64("StatisticsData.Count"),
            r.ReadDouble("StatisticsData.Weight"),
            r.ReadDoubles("StatisticsData.Mean"),
            r.ReadDoubles("StatisticsData.ScatterLower"),
            r.ReadDoubles("StatisticsData.Third"),
            r.ReadDouble("StatisticsData.Fourth"));
    }

    private static void WriteTheta(WireWriter w, ThetaData? t)
    {
        if (!w.WritePresence(t)) return;
        w.WriteInt32(t!.Dimension);
        w.WriteInt32((int)t.Parameterization);
        w.WriteDoubles(t.Mu);
        w.WriteDoubles(t.LambdaPacked);
    }

    private static ThetaData? ReadTheta(ref WireReader r, string field)
    {
        if (!r.ReadPresence(field)) return null;
        return new ThetaData(
            r.ReadInt32("ThetaData.Dimension"),
            (Parameterization)r.ReadInt32("ThetaData.Parameterization"),
            r.ReadDoubles("ThetaData.Mu"),
            r.ReadDoubles("ThetaData.LambdaPacked"));
    }

    private static void WriteReaderSettings(WireWriter w, ReaderSettings? s)
    {
        if (!w.WritePresence(s)) return;
        w.WriteInt32((int)s!.Format);
        w.WriteInt32(s.Dimension);
        w.WriteInt32((int)s.OnBadRow);
    }

    private static ReaderSettings? ReadReaderSettings(ref WireReader r, string field)
    {
        if (!r.ReadPresence(field)) return null;
        return new ReaderSettings(
            (RowFormat)r.ReadInt32("ReaderSettings.Format"),
            r.ReadInt32("ReaderSettings.Dimension"),
            (BadRowPolicy)r.ReadInt32("ReaderSettings.OnBadRow"));
    }

    private static void WriteFitJobSettings(WireWriter w, FitJobSettings? s)
    {
        if (!w.WritePresence(s)) return;
        w.WriteInt32((int)s!.Solver);
        w.WriteInt32((int)s.Parameterization);
        w.WriteInt32(s.MaxIterations);
        w.WriteDouble(s.GradientTolerance);
        w.WriteDouble(s.RelativeTolerance);
        w.WriteDouble(s.LearningRate);
        w.WriteDouble(s.Ridge);
        w.WriteInt32((int)s.Shrinkage);
        w.WriteDouble(s.ShrinkageIntensity);
        w.WriteInt32((int)s.Summing);
        w.WriteInt32(s.ShardsPerWorker);
        w.WriteInt32(s.MinWorkers);
        w.WriteBool(s.WorkerWaitSeconds.HasValue);
        w.WriteDouble(s.WorkerWaitSeconds ?? 0);
    }

    private static double? ReadOptionalDouble(ref WireReader r, string field)
    {
        bool present = r.ReadBool(field);
        double value = r.ReadDouble(field);
        return present ? value : null;
    }

    private static FitJobSettings? ReadFitJobSettings(ref WireReader r, string field)
    {
        if (!r.ReadPresence(field)) return null;
        return new FitJobSettings(
            (SolverKind)r.ReadInt32("FitJobSettings.Solver"),
            (Parameterization)r.ReadInt32("FitJobSettings.Parameterization"),
            r.ReadInt32("FitJobSettings.MaxIterations"),
            r.ReadDouble("FitJobSettings.GradientTolerance"),
            r.ReadDouble("FitJobSettings.RelativeTolerance"),
            r.ReadDouble("FitJobSettings.LearningRate"),
            r.ReadDouble("FitJobSettings.Ridge"),
            (ShrinkageMode)r.ReadInt32("FitJobSettings.Shrinkage"),
            r.ReadDouble("FitJobSettings.ShrinkageIntensity"),
            (SummingMode)r.ReadInt32("FitJobSettings.Summing"),
            r.ReadInt32("FitJobSettings.ShardsPerWorker"),
            r.ReadInt32("FitJobSettings.MinWorkers"),
            ReadOptionalDouble(ref r, "FitJobSettings.WorkerWaitSeconds"));
    }

    private static void WriteStreamJobSettings(WireWriter w, StreamJobSettings? s)
    {
        if (!w.WritePresence(s)) return;
        w.WriteString(s!.Bootstrap);
        w.WriteString(s.Topic);
        w.WriteString(s.Group);
        w.WriteInt32((int)s.Format);
        w.WriteInt32(s.Dimension);
        w.WriteDouble(s.Forgetting);
        w.WriteString(s.ModelTopic);
        w.WriteString(s.ScoresTopic);
        w.WriteString(s.DeadLetterTopic);
        w.WriteDouble(s.AnomalyLevel);
        w.WriteString(s.Checkpoint);
        w.WriteString(s.ModelFile);
        w.WriteDouble(s.SnapshotIntervalSeconds);
        w.WriteDouble(s.UntilIdleSeconds);
        w.WriteInt64(s.MaxRows);
        w.WriteInt32(s.StepsPerUpdate);
        w.WriteInt32((int)s.Solver);
        w.WriteInt32((int)s.Parameterization);
        w.WriteInt32(s.MaxIterations);
        w.WriteDouble(s.GradientTolerance);
        w.WriteDouble(s.LearningRate);
        w.WriteDouble(s.Ridge);
        w.WriteInt32((int)s.Shrinkage);
        w.WriteDouble(s.ShrinkageIntensity);
        w.WriteInt32(s.BatchRows);
        w.WriteDouble(s.LingerMilliseconds);
        w.WriteStrings(s.KafkaProperties);
    }

    private static StreamJobSettings? ReadStreamJobSettings(ref WireReader r, string field)
    {
        if (!r.ReadPresence(field)) return null;
        return new StreamJobSettings(
            r.ReadString("StreamJobSettings.Bootstrap"),
            r.ReadString("StreamJobSettings.Topic"),
            r.ReadString("StreamJobSettings.Group"),
            (RowFormat)r.ReadInt32("StreamJobSettings.Format"),
            r.ReadInt32("StreamJobSettings.Dimension"),
            r.ReadDouble("StreamJobSettings.Forgetting"),
            r.ReadString("StreamJobSettings.ModelTopic"),
            r.ReadString("StreamJobSettings.ScoresTopic"),
            r.ReadString("StreamJobSettings.DeadLetterTopic"),
            r.ReadDouble("StreamJobSettings.AnomalyLevel"),
            r.ReadString("StreamJobSettings.Checkpoint"),
            r.ReadString("StreamJobSettings.ModelFile"),
            r.ReadDouble("StreamJobSettings.SnapshotIntervalSeconds"),
            r.ReadDouble("StreamJobSettings.UntilIdleSeconds"),
            r.ReadInt64("StreamJobSettings.MaxRows"),
            r.ReadInt32("StreamJobSettings.StepsPerUpdate"),
            (SolverKind)r.ReadInt32("StreamJobSettings.Solver"),
            (Parameterization)r.ReadInt32("StreamJobSettings.Parameterization"),
            r.ReadInt32("StreamJobSettings.MaxIterations"),
            r.ReadDouble("StreamJobSettings.GradientTolerance"),
            r.ReadDouble("StreamJobSettings.LearningRate"),
            r.ReadDouble("StreamJobSettings.Ridge"),
            (ShrinkageMode)r.ReadInt32("StreamJobSettings.Shrinkage"),
            r.ReadDouble("StreamJobSettings.ShrinkageIntensity"),
            r.ReadInt32("StreamJobSettings.BatchRows"),
            r.ReadDouble("StreamJobSettings.LingerMilliseconds"),
            r.ReadStrings("StreamJobSettings.KafkaProperties"));
    }

    // ---------------------------------------------------------------------------------------------
    // Client <-> coordinator messages. Fields in declaration order; C# evaluates constructor
    // arguments left to right, so the reads below follow the wire order.
    // ---------------------------------------------------------------------------------------------

    private static void WriteSubmitFitJob(WireWriter w, SubmitFitJob m)
    {
        w.WriteString(m.JobId);
        w.WriteString(m.Path);
        WriteReaderSettings(w, m.Reader);
        WriteFitJobSettings(w, m.Settings);
    }

    private static SubmitFitJob ReadSubmitFitJob(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadString("Path"),
        ReadReaderSettings(ref r, "Reader")!,
        ReadFitJobSettings(ref r, "Settings")!);

    private static void WriteFitJobAccepted(WireWriter w, FitJobAccepted m)
    {
        w.WriteString(m.JobId);
        w.WriteInt32(m.Workers);
        w.WriteInt32(m.Shards);
        w.WriteInt64(m.FileBytes);
        w.WriteInt32(m.Dimension);
    }

    private static FitJobAccepted ReadFitJobAccepted(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt32("Workers"),
        r.ReadInt32("Shards"),
        r.ReadInt64("FileBytes"),
        r.ReadInt32("Dimension"));

    private static void WriteCancelFitJob(WireWriter w, CancelFitJob m) => w.WriteString(m.JobId);

    private static CancelFitJob ReadCancelFitJob(ref WireReader r) => new(r.ReadString("JobId"));

    private static void WriteFitJobLoadProgress(WireWriter w, FitJobLoadProgress m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Rows);
        w.WriteInt64(m.Bytes);
        w.WriteInt32(m.ShardsLoaded);
        w.WriteInt32(m.Shards);
        w.WriteDouble(m.Seconds);
    }

    private static FitJobLoadProgress ReadFitJobLoadProgress(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Rows"),
        r.ReadInt64("Bytes"),
        r.ReadInt32("ShardsLoaded"),
        r.ReadInt32("Shards"),
        r.ReadDouble("Seconds"));

    private static void WriteFitJobRoundProgress(WireWriter w, FitJobRoundProgress m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Round);
        w.WriteInt32(m.WorkersAnswered);
        w.WriteInt32(m.Workers);
        w.WriteDouble(m.NllPerRow);
        w.WriteDouble(m.GapPerRow);
        w.WriteDouble(m.GradientNorm);
        w.WriteDouble(m.RoundMilliseconds);
        w.WriteDouble(m.Seconds);
    }

    private static FitJobRoundProgress ReadFitJobRoundProgress(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Round"),
        r.ReadInt32("WorkersAnswered"),
        r.ReadInt32("Workers"),
        r.ReadDouble("NllPerRow"),
        r.ReadDouble("GapPerRow"),
        r.ReadDouble("GradientNorm"),
        r.ReadDouble("RoundMilliseconds"),
        r.ReadDouble("Seconds"));

    private static void WriteFitJobNotice(WireWriter w, FitJobNotice m)
    {
        w.WriteString(m.JobId);
        w.WriteString(m.Message);
    }

    private static FitJobNotice ReadFitJobNotice(ref WireReader r) => new(r.ReadString("JobId"), r.ReadString("Message"));

    private static void WriteFitJobCompleted(WireWriter w, FitJobCompleted m)
    {
        w.WriteString(m.JobId);
        WriteTheta(w, m.Theta);
        w.WriteInt64(m.N);
        w.WriteInt64(m.RejectedRows);
        w.WriteStrings(m.Rejections);
        w.WriteInt32(m.Iterations);
        w.WriteInt32(m.Evaluations);
        w.WriteInt64(m.Rounds);
        w.WriteString(m.StopReason);
        w.WriteBool(m.Converged);
        w.WriteDouble(m.NllPerRow);
        w.WriteDouble(m.GapPerRow);
        w.WriteDouble(m.GradientNorm);
        w.WriteDouble(m.Shrinkage);
        w.WriteDouble(m.LoadSeconds);
        w.WriteDouble(m.SolveSeconds);
        w.WriteInt32(m.WorkersUsed);
        w.WriteInt32(m.ShardsReassigned);
        w.WriteInt32(m.WorkersLost);
        w.WriteInt32(m.WorkersAtEnd);
    }

    private static FitJobCompleted ReadFitJobCompleted(ref WireReader r) => new(
        r.ReadString("JobId"),
        ReadTheta(ref r, "Theta")!,
        r.ReadInt64("N"),
        r.ReadInt64("RejectedRows"),
        r.ReadStrings("Rejections"),
        r.ReadInt32("Iterations"),
        r.ReadInt32("Evaluations"),
        r.ReadInt64("Rounds"),
        r.ReadString("StopReason"),
        r.ReadBool("Converged"),
        r.ReadDouble("NllPerRow"),
        r.ReadDouble("GapPerRow"),
        r.ReadDouble("GradientNorm"),
        r.ReadDouble("Shrinkage"),
        r.ReadDouble("LoadSeconds"),
        r.ReadDouble("SolveSeconds"),
        r.ReadInt32("WorkersUsed"),
        r.ReadInt32("ShardsReassigned"),
        r.ReadInt32("WorkersLost"),
        r.ReadInt32("WorkersAtEnd"));

    private static void WriteFitJobFailed(WireWriter w, FitJobFailed m)
    {
        w.WriteString(m.JobId);
        w.WriteInt32((int)m.Kind);
        w.WriteString(m.Message);
    }

    private static FitJobFailed ReadFitJobFailed(ref WireReader r) => new(
        r.ReadString("JobId"),
        (JobErrorKind)r.ReadInt32("Kind"),
        r.ReadString("Message"));

    // ---------------------------------------------------------------------------------------------
    // Worker <-> coordinator messages.
    // ---------------------------------------------------------------------------------------------

    private static void WriteRegisterWorker(WireWriter w, RegisterWorker m) => w.WriteString(m.WorkerId);

    private static RegisterWorker ReadRegisterWorker(ref WireReader r) => new(r.ReadString("WorkerId"));

    private static void WriteWorkerRegistered(WireWriter w, WorkerRegistered m) => w.WriteString(m.CoordinatorId);

    private static WorkerRegistered ReadWorkerRegistered(ref WireReader r) => new(r.ReadString("CoordinatorId"));

    private static void WriteDescribeFile(WireWriter w, DescribeFile m)
    {
        w.WriteString(m.JobId);
        w.WriteString(m.Path);
        WriteReaderSettings(w, m.Reader);
    }

    private static DescribeFile ReadDescribeFile(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadString("Path"),
        ReadReaderSettings(ref r, "Reader")!);

    private static void WriteFileDescribed(WireWriter w, FileDescribed m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Length);
        w.WriteInt32(m.Dimension);
        w.WriteBool(m.Shardable);
    }

    private static FileDescribed ReadFileDescribed(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Length"),
        r.ReadInt32("Dimension"),
        r.ReadBool("Shardable"));

    private static void WriteFileDescribeFailed(WireWriter w, FileDescribeFailed m)
    {
        w.WriteString(m.JobId);
        w.WriteInt32((int)m.Kind);
        w.WriteString(m.Message);
    }

    private static FileDescribeFailed ReadFileDescribeFailed(ref WireReader r) => new(
        r.ReadString("JobId"),
        (JobErrorKind)r.ReadInt32("Kind"),
        r.ReadString("Message"));

    private static void WriteLoadShard(WireWriter w, LoadShard m)
    {
        w.WriteString(m.JobId);
        w.WriteInt32(m.ShardIndex);
        w.WriteString(m.Path);
        w.WriteInt64(m.Start);
        w.WriteInt64(m.End);
        WriteReaderSettings(w, m.Reader);
        w.WriteBool(m.ReturnStatistics);
    }

    private static LoadShard ReadLoadShard(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt32("ShardIndex"),
        r.ReadString("Path"),
        r.ReadInt64("Start"),
        r.ReadInt64("End"),
        ReadReaderSettings(ref r, "Reader")!,
        r.ReadBool("ReturnStatistics"));

    private static void WriteShardLoadProgress(WireWriter w, ShardLoadProgress m)
    {
        w.WriteString(m.JobId);
        w.WriteInt32(m.ShardIndex);
        w.WriteInt64(m.Rows);
        w.WriteInt64(m.Bytes);
    }

    private static ShardLoadProgress ReadShardLoadProgress(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt32("ShardIndex"),
        r.ReadInt64("Rows"),
        r.ReadInt64("Bytes"));

    private static void WriteShardLoaded(WireWriter w, ShardLoaded m)
    {
        w.WriteString(m.JobId);
        w.WriteInt32(m.ShardIndex);
        w.WriteInt64(m.Rows);
        w.WriteInt64(m.Rejected);
        w.WriteStrings(m.Rejections);
        w.WriteInt64(m.Bytes);
        w.WriteDouble(m.Seconds);
        WriteStatistics(w, m.Statistics);
    }

    private static ShardLoaded ReadShardLoaded(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt32("ShardIndex"),
        r.ReadInt64("Rows"),
        r.ReadInt64("Rejected"),
        r.ReadStrings("Rejections"),
        r.ReadInt64("Bytes"),
        r.ReadDouble("Seconds"),
        ReadStatistics(ref r, "Statistics"));

    private static void WriteShardLoadFailed(WireWriter w, ShardLoadFailed m)
    {
        w.WriteString(m.JobId);
        w.WriteInt32(m.ShardIndex);
        w.WriteInt32((int)m.Kind);
        w.WriteString(m.Message);
    }

    private static ShardLoadFailed ReadShardLoadFailed(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt32("ShardIndex"),
        (JobErrorKind)r.ReadInt32("Kind"),
        r.ReadString("Message"));

    private static void WriteComputePartialGradient(WireWriter w, ComputePartialGradient m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Round);
        w.WriteInt32s(m.ShardIndices);
        WriteTheta(w, m.Theta);
    }

    private static ComputePartialGradient ReadComputePartialGradient(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Round"),
        r.ReadInt32s("ShardIndices"),
        ReadTheta(ref r, "Theta")!);

    private static void WritePartialGradientComputed(WireWriter w, PartialGradientComputed m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Round);
        w.WriteInt32(m.ShardIndex);
        w.WriteDouble(m.J);
        w.WriteDoubles(m.GradMu);
        w.WriteDoubles(m.GradLambdaPacked);
        w.WriteDouble(m.ComputeMilliseconds);
    }

    private static PartialGradientComputed ReadPartialGradientComputed(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Round"),
        r.ReadInt32("ShardIndex"),
        r.ReadDouble("J"),
        r.ReadDoubles("GradMu"),
        r.ReadDoubles("GradLambdaPacked"),
        r.ReadDouble("ComputeMilliseconds"));

    private static void WriteReleaseJob(WireWriter w, ReleaseJob m) => w.WriteString(m.JobId);

    private static ReleaseJob ReadReleaseJob(ref WireReader r) => new(r.ReadString("JobId"));

    // ---------------------------------------------------------------------------------------------
    // Client <-> stream coordinator messages.
    // ---------------------------------------------------------------------------------------------

    private static void WriteStartStreamJob(WireWriter w, StartStreamJob m)
    {
        w.WriteString(m.JobId);
        WriteStreamJobSettings(w, m.Settings);
    }

    private static StartStreamJob ReadStartStreamJob(ref WireReader r) => new(
        r.ReadString("JobId"),
        ReadStreamJobSettings(ref r, "Settings")!);

    private static void WriteStreamJobStarted(WireWriter w, StreamJobStarted m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
        w.WriteBool(m.Restored);
        w.WriteInt64(m.RestoredRows);
        w.WriteInt64(m.RestoredVersion);
        w.WriteInt32(m.Workers);
    }

    private static StreamJobStarted ReadStreamJobStarted(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Epoch"),
        r.ReadBool("Restored"),
        r.ReadInt64("RestoredRows"),
        r.ReadInt64("RestoredVersion"),
        r.ReadInt32("Workers"));

    private static void WriteStreamJobStatus(WireWriter w, StreamJobStatus m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
        w.WriteInt64(m.Version);
        w.WriteInt64(m.Rows);
        w.WriteInt64(m.AcceptedRecords);
        w.WriteInt64(m.RejectedRecords);
        w.WriteInt64(m.LostRecords);
        w.WriteInt64(m.Duplicates);
        w.WriteInt64(m.Refused);
        w.WriteInt32(m.Partitions);
        w.WriteInt32(m.Workers);
        w.WriteDouble(m.RowsPerSecond);
        w.WriteInt64(m.Lag);
        w.WriteDouble(m.NllPerRow);
        w.WriteDouble(m.GapPerRow);
        w.WriteDouble(m.Weight);
        WriteTheta(w, m.Theta);
        w.WriteDouble(m.Seconds);
    }

    private static StreamJobStatus ReadStreamJobStatus(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Epoch"),
        r.ReadInt64("Version"),
        r.ReadInt64("Rows"),
        r.ReadInt64("AcceptedRecords"),
        r.ReadInt64("RejectedRecords"),
        r.ReadInt64("LostRecords"),
        r.ReadInt64("Duplicates"),
        r.ReadInt64("Refused"),
        r.ReadInt32("Partitions"),
        r.ReadInt32("Workers"),
        r.ReadDouble("RowsPerSecond"),
        r.ReadInt64("Lag"),
        r.ReadDouble("NllPerRow"),
        r.ReadDouble("GapPerRow"),
        r.ReadDouble("Weight"),
        ReadTheta(ref r, "Theta"),
        r.ReadDouble("Seconds"));

    private static void WriteStreamJobNotice(WireWriter w, StreamJobNotice m)
    {
        w.WriteString(m.JobId);
        w.WriteString(m.Message);
    }

    private static StreamJobNotice ReadStreamJobNotice(ref WireReader r) => new(r.ReadString("JobId"), r.ReadString("Message"));

    private static void WriteStopStreamJob(WireWriter w, StopStreamJob m) => w.WriteString(m.JobId);

    private static StopStreamJob ReadStopStreamJob(ref WireReader r) => new(r.ReadString("JobId"));

    private static void WriteStreamJobFinished(WireWriter w, StreamJobFinished m)
    {
        w.WriteString(m.JobId);
        WriteTheta(w, m.Theta);
        w.WriteInt64(m.Rows);
        w.WriteDouble(m.Weight);
        w.WriteInt64(m.AcceptedRecords);
        w.WriteInt64(m.RejectedRecords);
        w.WriteInt64(m.LostRecords);
        w.WriteInt64(m.Version);
        w.WriteInt32(m.Iterations);
        w.WriteDouble(m.NllPerRow);
        w.WriteDouble(m.GapPerRow);
        w.WriteString(m.StopReason);
        w.WriteStrings(m.PartitionKeys);
        w.WriteInt64s(m.PartitionStarts);
        w.WriteInt64s(m.PartitionNexts);
    }

    private static StreamJobFinished ReadStreamJobFinished(ref WireReader r) => new(
        r.ReadString("JobId"),
        ReadTheta(ref r, "Theta"),
        r.ReadInt64("Rows"),
        r.ReadDouble("Weight"),
        r.ReadInt64("AcceptedRecords"),
        r.ReadInt64("RejectedRecords"),
        r.ReadInt64("LostRecords"),
        r.ReadInt64("Version"),
        r.ReadInt32("Iterations"),
        r.ReadDouble("NllPerRow"),
        r.ReadDouble("GapPerRow"),
        r.ReadString("StopReason"),
        r.ReadStrings("PartitionKeys"),
        r.ReadInt64s("PartitionStarts"),
        r.ReadInt64s("PartitionNexts"));

    private static void WriteStreamJobFailed(WireWriter w, StreamJobFailed m)
    {
        w.WriteString(m.JobId);
        w.WriteInt32((int)m.Kind);
        w.WriteString(m.Message);
    }

    private static StreamJobFailed ReadStreamJobFailed(ref WireReader r) => new(
        r.ReadString("JobId"),
        (JobErrorKind)r.ReadInt32("Kind"),
        r.ReadString("Message"));

    // ---------------------------------------------------------------------------------------------
    // Stream coordinator <-> stream workers messages.
    // ---------------------------------------------------------------------------------------------

    private static void WriteStartConsuming(WireWriter w, StartConsuming m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
        WriteStreamJobSettings(w, m.Settings);
    }

    private static StartConsuming ReadStartConsuming(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Epoch"),
        ReadStreamJobSettings(ref r, "Settings")!);

    private static void WriteLedgerQuery(WireWriter w, LedgerQuery m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
        w.WriteString(m.Topic);
        w.WriteInt32(m.Partition);
        w.WriteInt64(m.LowWatermark);
    }

    private static LedgerQuery ReadLedgerQuery(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Epoch"),
        r.ReadString("Topic"),
        r.ReadInt32("Partition"),
        r.ReadInt64("LowWatermark"));

    private static void WriteLedgerPosition(WireWriter w, LedgerPosition m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
        w.WriteString(m.Topic);
        w.WriteInt32(m.Partition);
        w.WriteInt64(m.Next);
    }

    private static LedgerPosition ReadLedgerPosition(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Epoch"),
        r.ReadString("Topic"),
        r.ReadInt32("Partition"),
        r.ReadInt64("Next"));

    private static void WritePartitionContribution(WireWriter w, PartitionContribution m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
        w.WriteString(m.Topic);
        w.WriteInt32(m.Partition);
        w.WriteInt64(m.From);
        w.WriteInt64(m.To);
        w.WriteInt64(m.AcceptedRecords);
        w.WriteInt64(m.RejectedRecords);
        WriteStatistics(w, m.Statistics);
    }

    private static PartitionContribution ReadPartitionContribution(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Epoch"),
        r.ReadString("Topic"),
        r.ReadInt32("Partition"),
        r.ReadInt64("From"),
        r.ReadInt64("To"),
        r.ReadInt64("AcceptedRecords"),
        r.ReadInt64("RejectedRecords"),
        ReadStatistics(ref r, "Statistics"));

    private static void WriteContributionAck(WireWriter w, ContributionAck m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
        w.WriteString(m.Topic);
        w.WriteInt32(m.Partition);
        w.WriteInt64(m.From);
        w.WriteInt64(m.To);
        w.WriteInt32((int)m.Outcome);
        w.WriteInt64(m.Next);
    }

    private static ContributionAck ReadContributionAck(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Epoch"),
        r.ReadString("Topic"),
        r.ReadInt32("Partition"),
        r.ReadInt64("From"),
        r.ReadInt64("To"),
        (ContributionOutcome)r.ReadInt32("Outcome"),
        r.ReadInt64("Next"));

    private static void WriteRecordsLost(WireWriter w, RecordsLost m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
        w.WriteString(m.Topic);
        w.WriteInt32(m.Partition);
        w.WriteInt64(m.Next);
        w.WriteInt64(m.LowWatermark);
    }

    private static RecordsLost ReadRecordsLost(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Epoch"),
        r.ReadString("Topic"),
        r.ReadInt32("Partition"),
        r.ReadInt64("Next"),
        r.ReadInt64("LowWatermark"));

    private static void WriteModelUpdated(WireWriter w, ModelUpdated m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
        w.WriteInt64(m.Version);
        WriteTheta(w, m.Theta);
    }

    private static ModelUpdated ReadModelUpdated(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Epoch"),
        r.ReadInt64("Version"),
        ReadTheta(ref r, "Theta")!);

    private static void WriteCommitOffsets(WireWriter w, CommitOffsets m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
        w.WriteString(m.Topic);
        w.WriteInt32s(m.Partitions);
        w.WriteInt64s(m.Offsets);
    }

    private static CommitOffsets ReadCommitOffsets(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Epoch"),
        r.ReadString("Topic"),
        r.ReadInt32s("Partitions"),
        r.ReadInt64s("Offsets"));

    private static void WriteStopConsuming(WireWriter w, StopConsuming m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
    }

    private static StopConsuming ReadStopConsuming(ref WireReader r) => new(r.ReadString("JobId"), r.ReadInt64("Epoch"));

    private static void WriteConsumingStopped(WireWriter w, ConsumingStopped m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
        w.WriteString(m.WorkerId);
    }

    private static ConsumingStopped ReadConsumingStopped(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Epoch"),
        r.ReadString("WorkerId"));

    private static void WriteWorkerStreamStatus(WireWriter w, WorkerStreamStatus m)
    {
        w.WriteString(m.JobId);
        w.WriteInt64(m.Epoch);
        w.WriteString(m.WorkerId);
        w.WriteInt32s(m.Partitions);
        w.WriteInt64s(m.Lag);
        w.WriteBool(m.AtEnd);
        w.WriteString(m.Error);
    }

    private static WorkerStreamStatus ReadWorkerStreamStatus(ref WireReader r) => new(
        r.ReadString("JobId"),
        r.ReadInt64("Epoch"),
        r.ReadString("WorkerId"),
        r.ReadInt32s("Partitions"),
        r.ReadInt64s("Lag"),
        r.ReadBool("AtEnd"),
        r.ReadNullableString("Error"));
}
