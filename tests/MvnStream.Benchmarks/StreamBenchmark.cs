using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Confluent.Kafka;
using MvnStream.Cluster.Hosting;
using MvnStream.Cluster.Protocol;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Kafka;
using MvnStream.Kafka.Broker;
using MvnStream.Kafka.Producing;
using MvnStream.Kafka.Streaming;

namespace MvnStream.Benchmarks;

/// <summary>
/// End-to-end streaming throughput and memory in one process: the development broker (librdkafka's mock cluster),
/// an embedded cluster (coordinator + workers, each its own ActorSystem, real TCP on loopback) running the real stream
/// job, and bare Confluent.Kafka consumers as the reference for what the broker delivers. Run with
/// <code>dotnet run -c Release --project tests/MvnStream.Benchmarks -- stream [--rows 400000] [--dim 8] [--format csv|f64] [--rows-per-record K]
///     [--workers 3] [--reps 3] [--memory-rows 1000000,2000000,3000000,4000000,5000000] [--no-throughput] [--no-memory] [--no-warmup]</code>
/// <para><b>Throughput.</b> The broker keeps only 5 MB / 100,000 message sets per partition, so the N rows are written as
/// T topics of identical content, each at most <see cref="TopicBudgetPerPartition"/> per partition (low watermarks are
/// checked to stay 0 before and after). Then, alternately, <c>--reps</c> times over every topic: (a) one bare consumer,
/// already connected, assigns every partition at offset 0 and drains to partition EOF, touching every value byte;
/// (a') the same with as many bare consumers as workers, partitions split like the range assignor; (b) the product: a
/// stream job per topic (<see cref="StreamJobRunner"/> on the embedded cluster, settings as 'mvnstream stream' builds
/// them, until-idle 0.5 s). The bare consumers use the product's <c>fetch.wait.max.ms</c> (50 ms): with librdkafka's
/// default (500 ms) the mock broker holds the last, empty fetch for half a second before the EOF.</para>
/// <para>Clocks. (a) from Assign to the last partition EOF, all N rows; (b) from the moment the first partition is
/// positioned in the coordinator's offset ledger (a worker was assigned it and asked where to start: the consumer-group
/// join is over) to the moment the ledger covers every record, all N rows. Normally every partition is positioned
/// within milliseconds of the first; when one comes more than <see cref="StragglerSeconds"/> later (a member's
/// assignment lagged by another rebalance round, seen with the mock broker's group coordinator) the join was not over,
/// so the clock starts when the last partition is positioned and counts the rows merged after it (reported). The
/// ledger is read every few milliseconds because <see cref="StreamJobStatus"/> comes once a second and a topic that
/// fits the window is merged within one tick. The read is a <see cref="RecordsLost"/> report with low watermark -1,
/// which the coordinator ignores (<c>OffsetLedger.RecordLoss</c> changes nothing for a watermark at or below next[p])
/// and answers with next[p], or -1 for a partition nobody positioned yet, so the probe never positions a partition
/// itself (a <see cref="LedgerQuery"/> would). <c>STREAMBENCH_TRACE=1</c> prints every change of next[p]. Also
/// printed: (a) from the first record, (b) from the first merged row (time to the first row subtracted; it leaves
/// out the read time of every partition's first batch, so it flatters (b)), and the 1 s status ticks.</para>
/// <para><b>Memory.</b> One long job on its own topic while a producer thread stays at most <see cref="AheadPerPartition"/>
/// per partition ahead of the rows merged (ledger and statuses); at each mark (1M ... 5M rows) the producer pauses, the
/// job catches up, and the process is sampled after forced full collections: GC heap
/// (<see cref="GC.GetTotalMemory(bool)"/>) and working set (<see cref="Environment.WorkingSet"/>).</para>
/// </summary>
public static class StreamBenchmark
{
    private const double ThroughputTarget = 0.9;
    private const double MemoryTolerance = 0.10;

    /// <summary>Broker bytes of a throughput topic per partition (4.5 MB): inside the 5 MB window with a margin.</summary>
    private const long TopicBudgetPerPartition = 9L * 512 * 1024;

    /// <summary>Bytes a record costs in a v2 record batch beyond its value (length, attributes, deltas, key, header count), rounded up.</summary>
    private const int RecordOverheadBytes = 16;

    /// <summary>How far the memory phase's producer may run ahead of the rows merged, per partition.</summary>
    private const long AheadPerPartition = 1L * 1024 * 1024;

    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(2);

    /// <summary>A partition positioned this long after the first one means a member's assignment lagged (another rebalance round).</summary>
    private const double StragglerSeconds = 0.5;

    private sealed record Options(long Rows, int Dim, RowFormat Format, int RowsPerRecord, int Workers, int Reps, long[] MemoryMarks,
        bool Throughput, bool Memory, bool Warmup, long Seed, bool Late = false, double LateRate = 20_000, double LateBacklog = 1.0, double LateHold = 10,
        bool Hold = false, double HoldRate = 200_000, double HoldSeconds = 20);

    /// <summary>One bare drain of one topic: all rows from Assign to the last EOF, and the rows after the first record since it.</summary>
    private sealed record BareRun(long Rows, double Seconds, long FirstRows, double FirstSeconds, long Checksum);

    /// <summary>One product job over one topic, as the coordinator's ledger and statuses saw it.</summary>
    private sealed record ProductRun(string Topic, double SubmitToPositioned, long Rows, double Seconds, long FirstRows, double FirstSeconds,
        double Straggler, double LongestGap, string StatusText, StreamJobFinished Finished, long Duplicates, long Refused);

    public static int Run(string[] args)
    {
        long rows = 400_000;
        int dim = 8, workers = 3, reps = 3, k = 0;
        var format = RowFormat.Csv;
        long[] marks = [1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000];
        bool throughput = true, memory = true, warmup = true, late = false;
        double lateRate = 20_000, lateBacklog = 1.0, lateHold = 10, holdRate = 200_000, holdSeconds = 20;
        bool hold = false;
        const string usage = "usage: stream [--rows N] [--dim D] [--format csv|f64] [--rows-per-record K] [--workers W] [--reps R] [--memory-rows M1,M2,...] [--no-throughput] [--no-memory] [--no-warmup] [--late [--late-rate R] [--late-backlog S] [--late-hold H]] [--hold [--hold-rate R (0 = the producer's maximum)] [--hold-seconds H]]";
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--rows": rows = long.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--dim": dim = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--format": format = RowFormats.Parse(Next()); break;
                    case "--rows-per-record": k = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--workers": workers = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--reps": reps = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--memory-rows": marks = Next().Split(',').Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                    case "--no-throughput": throughput = false; break;
                    case "--no-memory": memory = false; break;
                    case "--no-warmup": warmup = false; break;
                    case "--late": late = true; break;
                    case "--late-rate": lateRate = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--late-backlog": lateBacklog = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--late-hold": lateHold = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--hold": hold = true; break;
                    case "--hold-rate": holdRate = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--hold-seconds": holdSeconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    default: throw new ArgumentException($"unknown option '{args[i]}'");
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"stream: {e.Message}; {usage}");
            return 2;
        }
        if (k == 0) k = format == RowFormat.Csv ? 1 : 64;
        string? problem = format == RowFormat.Json ? "--format json is not supported here: use csv or f64"
            : format == RowFormat.Csv && k != 1 ? "a csv record holds one row: --rows-per-record 1"
            : dim <= 0 || rows <= dim ? "need --rows > --dim > 0"
            : workers <= 0 || reps <= 0 || k <= 0 ? "--workers, --reps and --rows-per-record must be positive"
            : marks.Length == 0 || marks.Any(m => m <= dim) || !marks.SequenceEqual(marks.Order()) ? "--memory-rows must be increasing and above d"
            : null;
        if (problem is not null)
        {
            Console.Error.WriteLine($"stream: {problem}; {usage}");
            return 2;
        }
        return RunAsync(new Options(rows, dim, format, k, workers, reps, marks, throughput && !late && !hold, memory && !late && !hold, warmup, 20251125,
                late, lateRate, lateBacklog, lateHold, hold, holdRate, holdSeconds))
            .GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(Options o)
    {
        var dir = Path.Combine(Path.GetTempPath(), "mvnstream-streambench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        Line(Inv($"Streaming end to end: development broker + coordinator + {o.Workers} worker ActorSystems on 127.0.0.1 (real TCP), d = {o.Dim}, ") +
             Inv($"{o.Format.ToName()}{(o.RowsPerRecord > 1 ? $" ({o.RowsPerRecord} rows per record)" : "")}, {Environment.ProcessorCount} logical cores, .NET {Environment.Version}, ") +
             Inv($"{(Debugger.IsAttached ? "DEBUGGER ATTACHED" : "Release")}, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC"));
        Line($"broker: {DevelopmentBroker.Description}");
        int code = 0;
        try
        {
            using var broker = DevelopmentBroker.Start(1);
            Line($"broker at {broker.Bootstrap}; starting the cluster ...");
            await using var cluster = await EmbeddedCluster.StartAsync(o.Workers);
            foreach (var w in cluster.Workers) StreamingNode.Attach(w);
            var node = StreamingNode.Attach(cluster.Coordinator);
            if (o.Throughput) code |= await ThroughputAsync(o, broker.Bootstrap, node, dir);
            if (o.Memory) code |= await MemoryAsync(o, broker.Bootstrap, node, dir);
            if (o.Late) code |= await LateStartAsync(o, broker.Bootstrap, node, dir);
            if (o.Hold) code |= await HoldAsync(o, broker.Bootstrap, node, dir);
        }
        finally
        {
            try { Directory.Delete(dir, true); }
            catch (IOException) { }
        }
        return code;
    }

    // ------------------------------------------------------------------ throughput

    private static async Task<int> ThroughputAsync(Options o, string bootstrap, StreamingNode node, string dir)
    {
        Line("");
        double bytesPerRow = BytesPerRow(o);
        int unit = o.RowsPerRecord * DevelopmentBroker.PartitionsPerTopic;
        long fit = (long)(TopicBudgetPerPartition * DevelopmentBroker.PartitionsPerTopic / bytesPerRow);
        fit -= fit % unit;
        int topics = (int)Math.Max(1, (o.Rows + fit - 1) / fit);
        long perTopic = (o.Rows + topics - 1) / topics;
        perTopic += (unit - perTopic % unit) % unit;
        long total = perTopic * topics;
        Line(Inv($"Throughput: {o.Rows:N0} rows requested; about {bytesPerRow:F1} broker bytes per row (value + {RecordOverheadBytes} bytes of record overhead), so at most {fit:N0} rows fit ") +
             Inv($"{TopicBudgetPerPartition / 1048576.0:F1} MB per partition x {DevelopmentBroker.PartitionsPerTopic} partitions (window 5 MB): {topics} topic(s) of the same {perTopic:N0} rows = {total:N0} rows"));

        string run = Guid.NewGuid().ToString("N")[..6];
        var names = Enumerable.Range(0, topics).Select(t => $"bench-{run}-t{t}").ToArray();
        var settings = KafkaClientSettings.Create(bootstrap);
        long records = 0;
        foreach (var topic in names)
        {
            using var producer = new RowProducer(settings, new RowProducerOptions { Topic = topic, Format = o.Format, RowsPerRecord = o.RowsPerRecord });
            var s = producer.Run(new SyntheticRowSource(new SyntheticSource(o.Dim, o.Seed), perTopic));
            if (!s.AllDelivered) throw new InvalidOperationException($"filling {topic}: {s.Delivered} of {s.Records} delivered ({string.Join("; ", s.Errors)})");
            if (s.Partitions != DevelopmentBroker.PartitionsPerTopic) throw new InvalidOperationException($"{topic}: {s.Partitions} partitions, expected {DevelopmentBroker.PartitionsPerTopic}");
            records = s.Records;
            Line(Inv($"  filled {topic}: {s.Rows:N0} rows in {s.Records:N0} records, {s.Bytes / 1048576.0:F2} MB of values, largest partition {s.MaxPartitionBytes / 1048576.0:F2} MB of values"));
        }
        CheckWatermarks(bootstrap, names, records, "after filling");

        if (o.Warmup)
        {
            Line("  warm-up (not counted): bare drains and one product job on the first topic ...");
            Bare(bootstrap, names[0], o, 1);
            Bare(bootstrap, names[0], o, o.Workers);
            await ProductAsync(node, bootstrap, names[0], records, perTopic, o, dir, "warmup");
        }

        var bare1 = new List<double>();
        var bareW = new List<double>();
        var bare1First = new List<double>();
        var product = new List<double>();
        var productFirst = new List<double>();
        var joins = new List<double>();
        int stragglers = 0;
        int[] consumerCounts = o.Workers == 1 ? [1] : [1, o.Workers];
        for (int rep = 1; rep <= o.Reps; rep++)
        {
            foreach (int consumers in consumerCounts)
            {
                var runs = names.Select(topic => Bare(bootstrap, topic, o, consumers)).ToList();
                if (runs.Any(r => r.Rows != perTopic)) throw new InvalidOperationException($"bare consumer(s) read {string.Join(", ", runs.Select(r => r.Rows))} rows, expected {perTopic} per topic");
                double rate = total / runs.Sum(r => r.Seconds);
                double first = runs.Sum(r => r.FirstRows) / runs.Sum(r => r.FirstSeconds);
                (consumers == 1 ? bare1 : bareW).Add(rate);
                if (consumers == 1) bare1First.Add(first);
                string label = consumers == 1 ? "(a)  1 bare consumer  " : Inv($"(a') {consumers} bare consumers ");
                Line(Inv($"  rep {rep} {label}: {rate,10:N0} rows/s  ({total:N0} rows in {runs.Sum(r => r.Seconds):F3} s, Assign to last EOF, over {topics} topic(s); from the first record {first:N0} rows/s)"));
            }
            if (o.Workers == 1) bareW.Add(bare1[^1]);

            var jobs = new List<ProductRun>();
            foreach (var topic in names) jobs.Add(await ProductAsync(node, bootstrap, topic, records, perTopic, o, dir, $"r{rep}"));
            double rateB = jobs.Sum(r => r.Rows) / jobs.Sum(r => r.Seconds);
            double firstB = jobs.Sum(r => r.FirstRows) / jobs.Sum(r => r.FirstSeconds);
            product.Add(rateB);
            productFirst.Add(firstB);
            joins.Add(jobs.Average(r => r.SubmitToPositioned));
            stragglers += jobs.Count(r => r.Straggler > 0);
            Line(Inv($"  rep {rep} (b)  product            : {rateB,10:N0} rows/s  ({jobs.Sum(r => r.Rows):N0} rows in {jobs.Sum(r => r.Seconds):F3} s, partitions positioned to all merged; from the first merged row {firstB:N0} rows/s); ") +
                 Inv($"group join (submit to positioned) {joins[^1]:F2} s per job, not counted; (b)/(a) {rateB / bare1[^1]:F3}"));
            foreach (var r in jobs)
                Line(Inv($"        {r.Topic}: {r.Rows / r.Seconds,10:N0} rows/s ({r.Rows:N0} rows in {r.Seconds:F3} s; from the first merged row {r.FirstRows / r.FirstSeconds:N0} rows/s), longest pause between merges {r.LongestGap:F3} s; ") +
                     (r.Straggler > 0 ? Inv($"JOIN STRAGGLER: the last partition was positioned {r.Straggler:F1} s after the first (another rebalance round), clock started there; ") : "") +
                     Inv($"1 s status ticks: {r.StatusText}; {r.Finished.Rows:N0} rows, lost {r.Finished.LostRecords}, dup {r.Duplicates}, refused {r.Refused}"));
        }
        CheckWatermarks(bootstrap, names, records, "after the runs");

        double a = Median(bare1), aw = Median(bareW), b = Median(product);
        Line("");
        Line(Inv($"Throughput summary (medians of {o.Reps} alternating repetitions over {topics} topic(s) x {perTopic:N0} rows, d = {o.Dim}, {o.Format.ToName()}, {o.Workers} workers):"));
        Line(Inv($"  (a)  1 bare Confluent.Kafka consumer : {a,10:N0} rows/s   (reps: {Join(bare1)}; from the first record: {Join(bare1First)})"));
        if (o.Workers > 1) Line(Inv($"  (a') {o.Workers} bare consumers in parallel    : {aw,10:N0} rows/s   (reps: {Join(bareW)})"));
        Line(Inv($"  (b)  product (ledger)                : {b,10:N0} rows/s   (reps: {Join(product)}; from the first merged row: {Join(productFirst)})"));
        Line(Inv($"       consumer-group join, not counted: {Median(joins),10:F2} s per job (submit to partitions positioned); {stragglers} of {o.Reps * topics} jobs had a member assigned only {StragglerSeconds} s or more after the others"));
        Line(Inv($"  ratio (b)/(a)  = {b / a:F3}; target >= {ThroughputTarget:F1}: {(b / a >= ThroughputTarget ? "MET" : "NOT MET")}   (from first record / first merged row: {Median(productFirst) / Median(bare1First):F3})"));
        if (o.Workers > 1) Line(Inv($"  ratio (b)/(a') = {b / aw:F3} (against {o.Workers} bare consumers: as many broker connections as the product)"));
        return 0;
    }

    /// <summary>Mean broker bytes per row: encoded values plus <see cref="RecordOverheadBytes"/> per record, over a sample.</summary>
    private static double BytesPerRow(Options o)
    {
        var source = new SyntheticSource(o.Dim, o.Seed);
        var encoder = new RecordEncoder(o.Format, o.Dim, o.RowsPerRecord);
        int sample = Math.Max(4096, o.RowsPerRecord * 64);
        var rows = source.NextRows(sample);
        long bytes = 0;
        for (int first = 0; first < sample; first += o.RowsPerRecord)
            bytes += encoder.Encode(rows.AsSpan(first * o.Dim, Math.Min(o.RowsPerRecord, sample - first) * o.Dim)).Length + RecordOverheadBytes;
        return (double)bytes / sample;
    }

    private static void CheckWatermarks(string bootstrap, string[] topics, long records, string when)
    {
        using var c = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "bench-watermarks" })
            .SetLogHandler((_, _) => { }).Build();
        foreach (var topic in topics)
        {
            long high = 0;
            for (int p = 0; p < DevelopmentBroker.PartitionsPerTopic; p++)
            {
                var wm = c.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10));
                if (wm.Low.Value != 0)
                    throw new InvalidOperationException($"{topic}/{p}: low watermark {wm.Low.Value} {when}: the broker deleted the head of the partition (window exceeded)");
                high += wm.High.Value;
            }
            if (high != records) throw new InvalidOperationException($"{topic}: {high} records {when}, expected {records}");
        }
        Line($"  low watermarks of all {topics.Length} topic(s) x {DevelopmentBroker.PartitionsPerTopic} partitions are 0 {when} (nothing deleted), {records:N0} records each");
    }

    /// <summary>
    /// (a) Bare consumers: <paramref name="consumers"/> threads, each connected first (watermark query), then assigning its
    /// share of the partitions (split like the range assignor) at offset 0 and draining them to partition EOF, touching
    /// every value byte. Timed from the first Assign to the last EOF.
    /// </summary>
    private static BareRun Bare(string bootstrap, string topic, Options o, int consumers)
    {
        int parts = DevelopmentBroker.PartitionsPerTopic;
        consumers = Math.Min(consumers, parts);
        var clock = Stopwatch.StartNew();
        var results = new (long Rows, long FirstRows, double Assigned, double First, double Last, long Checksum)[consumers];
        Exception? failure = null;
        using var ready = new Barrier(consumers);
        var threads = Enumerable.Range(0, consumers).Select(c => new Thread(() =>
        {
            int from = c * (parts / consumers) + Math.Min(c, parts % consumers);
            int count = parts / consumers + (c < parts % consumers ? 1 : 0);
            try { results[c] = Drain(bootstrap, topic, o, Enumerable.Range(from, count).ToArray(), clock, ready); }
            catch (Exception e) when (e is KafkaException or TimeoutException)
            {
                failure = e;
                ready.RemoveParticipant();
            }
        }) { IsBackground = true, Name = "bench-bare-" + c }).ToList();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        if (failure is not null) throw new InvalidOperationException("bare consumer failed: " + failure.Message, failure);
        var firstRecord = results.MinBy(r => r.First);
        long rows = results.Sum(r => r.Rows);
        double end = results.Max(r => r.Last);
        return new BareRun(rows, end - results.Min(r => r.Assigned), rows - firstRecord.FirstRows, end - firstRecord.First, results.Sum(r => r.Checksum));
    }

    private static (long Rows, long FirstRows, double Assigned, double First, double Last, long Checksum) Drain(string bootstrap, string topic, Options o,
        int[] partitions, Stopwatch clock, Barrier ready)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "bench-bare-" + Guid.NewGuid().ToString("N")[..8],
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            FetchWaitMaxMs = 50, // as the product's consumers (KafkaIntake)
        };
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).SetLogHandler((_, _) => { }).Build();
        foreach (int p in partitions) consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)); // connected, leaders known
        ready.SignalAndWait();
        double assigned = clock.Elapsed.TotalSeconds;
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(topic, p, 0)));
        var eof = new HashSet<int>();
        long rows = 0, firstRows = 0, checksum = 0;
        double first = -1, last = 0;
        int rowBytes = 8 * o.Dim;
        while (eof.Count < partitions.Length)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is null)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(120)) throw new TimeoutException($"bare consumer: {topic} not drained within 120 s");
                continue;
            }
            if (r.IsPartitionEOF)
            {
                eof.Add(r.Partition.Value);
                last = clock.Elapsed.TotalSeconds;
                continue;
            }
            var v = r.Message.Value;
            long sum = 0;
            foreach (byte b in v) sum += b;
            checksum += sum;
            long n = o.Format == RowFormat.F64 ? v.Length / rowBytes : 1;
            if (first < 0)
            {
                first = clock.Elapsed.TotalSeconds;
                firstRows = n;
            }
            rows += n;
        }
        consumer.Close();
        return (rows, firstRows, assigned, first, last, checksum);
    }

    /// <summary>
    /// (b) The product: one stream job over the topic, timed through the coordinator's offset ledger (next[p] of every
    /// partition, polled every few ms) and, coarsely, through its 1 s statuses.
    /// </summary>
    private static async Task<ProductRun> ProductAsync(StreamingNode node, string bootstrap, string topic, long records, long rows, Options o, string dir, string tag)
    {
        var settings = Settings(bootstrap, topic, $"bench-{tag}-{Guid.NewGuid().ToString("N")[..6]}", o, Path.Combine(dir, topic + "-" + tag + ".json"), untilIdle: 0.5);
        var job = new StartStreamJob(Guid.NewGuid().ToString("N")[..12], settings);
        var clock = Stopwatch.StartNew();
        var started = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        double statusFirst = -1, statusAll = -1;
        long statusFirstRows = 0, duplicates = 0, refused = 0;
        var outcomeTask = StreamJobRunner.RunAsync(node, job, m =>
        {
            double now = clock.Elapsed.TotalSeconds;
            switch (m)
            {
                case StreamJobStarted s:
                    started.TrySetResult(s.Epoch);
                    break;
                case StreamJobStatus x:
                    if (x.Rows > 0 && statusFirst < 0) { statusFirst = now; statusFirstRows = x.Rows; }
                    if (x.Rows >= rows && statusAll < 0) statusAll = now;
                    Interlocked.Exchange(ref duplicates, x.Duplicates);
                    Interlocked.Exchange(ref refused, x.Refused);
                    break;
                case StreamJobNotice n:
                    if (!n.Message.StartsWith("stopping: idle", StringComparison.Ordinal)) Line($"        [{tag} {topic}] note: {n.Message}");
                    break;
            }
        }, TimeSpan.FromSeconds(60));

        if (await Task.WhenAny(started.Task, outcomeTask) != started.Task)
            throw new InvalidOperationException($"stream job on {topic} did not start: {(await outcomeTask).Failed?.Message}");
        long epoch = await started.Task;
        double positioned = -1, allPositioned = -1, first = -1, all = -1, lastChange = -1, longestGap = 0;
        long firstRecords = 0, allPositionedRecords = 0, previous = 0;
        bool trace = Environment.GetEnvironmentVariable("STREAMBENCH_TRACE") == "1";
        while (!outcomeTask.IsCompleted && all < 0)
        {
            var next = await LedgerAsync(node, job.JobId, epoch, topic);
            double now = clock.Elapsed.TotalSeconds;
            long merged = next.Sum(n => Math.Max(0, n));
            if (positioned < 0 && next.Any(n => n >= 0)) positioned = now;
            if (allPositioned < 0 && next.All(n => n >= 0)) { allPositioned = now; allPositionedRecords = merged; }
            if (merged != previous)
            {
                if (trace) Line(Inv($"        trace {tag} {topic} t={now:F3} next=[{string.Join(",", next)}]"));
                if (lastChange >= 0) longestGap = Math.Max(longestGap, now - lastChange);
                lastChange = now;
                previous = merged;
            }
            if (merged > 0 && first < 0) { first = now; firstRecords = merged; }
            if (merged >= records) all = now;
            else await Task.Delay(ProbeInterval);
        }
        var outcome = await outcomeTask;
        if (outcome.Failed is { } f) throw new InvalidOperationException($"stream job on {topic} failed ({f.Kind}): {f.Message}");
        var fin = outcome.Finished!;
        if (fin.Rows != rows || fin.LostRecords != 0 || fin.RejectedRecords != 0)
            throw new InvalidOperationException($"stream job on {topic}: {fin.Rows} rows ({fin.LostRecords} lost, {fin.RejectedRecords} rejected), expected {rows}");
        if (all < 0 || allPositioned < 0) throw new InvalidOperationException($"stream job on {topic} finished before the ledger probe saw every record merged");
        string status = statusFirst < 0 ? "none with rows > 0"
            : statusAll > statusFirst ? Inv($"{(rows - statusFirstRows) / (statusAll - statusFirst):N0} rows/s ({rows - statusFirstRows:N0} rows between ticks {statusAll - statusFirst:F1} s apart)")
            : Inv($"n/a, the first with rows > 0 had all {statusFirstRows:N0}");
        // Records -> rows (an f64 record holds RowsPerRecord rows).
        long ToRows(long recs) => (long)Math.Round((double)recs * rows / records);
        // The group join is over when every partition is positioned, normally within milliseconds of the first. When a
        // member's assignment lags (another rebalance round), the clock starts at the last one and counts the rows after it.
        bool straggler = allPositioned - positioned > StragglerSeconds;
        double start = straggler ? allPositioned : positioned;
        long counted = straggler ? ToRows(records - allPositionedRecords) : rows;
        return new ProductRun(topic, start, counted, Math.Max(all - start, 1e-9), ToRows(records - firstRecords), Math.Max(all - first, 1e-9),
            straggler ? allPositioned - positioned : 0, longestGap, status, fin, Interlocked.Read(ref duplicates), Interlocked.Read(ref refused));
    }

    /// <summary>
    /// The coordinator's next[p] of every partition (records merged), -1 for a partition no worker has positioned yet.
    /// Asked as a <see cref="RecordsLost"/> report with low watermark -1: the coordinator records no loss for a watermark
    /// at or below next[p] and answers with next[p] (or the watermark when the partition is unknown), so nothing changes.
    /// </summary>
    private static async Task<long[]> LedgerAsync(StreamingNode node, string jobId, long epoch, string topic)
    {
        var asks = Enumerable.Range(0, DevelopmentBroker.PartitionsPerTopic)
            .Select(p => node.Coordinator.Ask<LedgerPosition>(new RecordsLost(jobId, epoch, topic, p, 0, -1), TimeSpan.FromSeconds(5)));
        var answers = await Task.WhenAll(asks);
        return answers.Select(a => a.Next).ToArray();
    }

    /// <summary>What 'mvnstream stream' builds from its defaults (lbfgs, tril, 5 steps per update, batch 4096, linger 200 ms, snapshot 1 s, kafka checkpoint, model and dlq topics).</summary>
    private static StreamJobSettings Settings(string bootstrap, string topic, string group, Options o, string modelFile, double untilIdle) =>
        new(bootstrap, topic, group, o.Format, o.Dim, 1.0, topic + ".model", "", topic + ".dlq", 0.001, $"kafka:{topic}.checkpoints", modelFile,
            1.0, untilIdle, 0, 5, SolverKind.Lbfgs, Parameterization.LowerTriangular, 5000, 1e-10, 0.05, 0, ShrinkageMode.None, 0, 4096, 200, []);

    // ------------------------------------------------------------------ late start

    /// <summary>
    /// A stream started late (issue 10, defect 3): a producer sends <c>--late-rate</c> rows/s; <c>--late-backlog</c> seconds
    /// later the reader starts at offset 0. Measured in one run, alternately: (a) a bare consumer assigned every partition
    /// at 0, (b) the product (a stream job; its clock starts when the first partition is positioned, the group join not
    /// counted). Catch-up rate = rows read (merged) until the lag is under one second of input, over that time; then, for
    /// <c>--late-hold</c> seconds, the largest lag of the product in seconds of input. Target: (b)/(a) >= 0.8, hold lag &lt; 1 s.
    /// The development broker keeps 5 MB per partition: keep rate x backlog well inside it. <c>STREAMBENCH_TRACE=1</c> prints
    /// the product's ledger and lag every 0.25 s and when it caught up, how many records it merged in how long.
    /// </summary>
    private static async Task<int> LateStartAsync(Options o, string bootstrap, StreamingNode node, string dir)
    {
        Line("");
        Line(Inv($"Late start: producer at {o.LateRate:N0} rows/s, readers start {o.LateBacklog:F1} s after it, hold {o.LateHold:F0} s; d = {o.Dim}, {o.Format.ToName()}, {o.Workers} workers"));
        var ratios = new List<double>();
        for (int rep = 1; rep <= o.Reps; rep++)
        {
            double bare = await WithProducerAsync(o, bootstrap, $"late-bare-{rep}", (topic, highs) => Task.Run(() => LateBare(bootstrap, topic, o, highs)));
            double product = 0, hold = 0;
            long lost = 0;
            await WithProducerAsync(o, bootstrap, $"late-product-{rep}", async (topic, highs) =>
            {
                (product, hold, lost) = await LateProductAsync(node, bootstrap, topic, o, dir, highs);
                return product;
            });
            if (lost > 0)
            {
                // The ledger's offsets then include deleted records: no valid rate (lower --late-rate or --late-backlog).
                Line(Inv($"  rep {rep}: INVALID, the product lost {lost:N0} records to the broker's window before it read them (group join + backlog too long for this rate)"));
                continue;
            }
            ratios.Add(product / bare);
            Line(Inv($"  rep {rep}: catch-up (a) bare consumer {bare,10:N0} rows/s   (b) product {product,10:N0} rows/s   ratio {product / bare:F3}; then the product's largest lag over {o.LateHold:F0} s: {hold:F2} s of input"));
        }
        Line(ratios.Count == 0 ? "Late start summary: no valid repetition"
            : Inv($"Late start summary: median catch-up ratio (b)/(a) over {ratios.Count} valid repetition(s) = {Median(ratios):F3}; target >= 0.8: {(Median(ratios) >= 0.8 ? "MET" : "NOT MET")}"));
        return 0;
    }

    private static IConsumer<Ignore, Ignore> WatermarkClient(string bootstrap) =>
        new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "bench-wm" }).SetLogHandler((_, _) => { }).Build();

    /// <summary>The records in the broker: the sum of the topic's high watermarks (a partition not there yet counts 0).</summary>
    private static long SumOfHighWatermarks(IConsumer<Ignore, Ignore> watermarks, string topic)
    {
        long sum = 0;
        for (int p = 0; p < DevelopmentBroker.PartitionsPerTopic; p++)
        {
            try { sum += Math.Max(0, watermarks.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(5)).High.Value); }
            catch (KafkaException) { }
        }
        return sum;
    }

    /// <summary>Runs a producer at the late-start rate into a new topic while <paramref name="reader"/> reads it (started after the backlog).</summary>
    private static async Task<double> WithProducerAsync(Options o, string bootstrap, string tag, Func<string, Func<long>, Task<double>> reader)
    {
        string topic = $"bench-{tag}-{Guid.NewGuid().ToString("N")[..6]}";
        using var cts = new CancellationTokenSource();
        using var producer = new RowProducer(KafkaClientSettings.Create(bootstrap), new RowProducerOptions { Topic = topic, Format = o.Format, RowsPerRecord = o.RowsPerRecord, RowsPerSecond = o.LateRate });
        var produced = producer.RunAsync(new SyntheticRowSource(new SyntheticSource(o.Dim, o.Seed), 0), null, cts.Token);
        using var watermarks = WatermarkClient(bootstrap);
        long Highs() => SumOfHighWatermarks(watermarks, topic);
        await Task.Delay(TimeSpan.FromSeconds(o.LateBacklog));
        try { return await reader(topic, Highs); }
        finally
        {
            await cts.CancelAsync();
            try { await produced; }
            catch (OperationCanceledException) { }
        }
    }

    /// <summary>(a) One bare consumer from offset 0: rows read until the lag is under one second of input, over that time.</summary>
    private static double LateBare(string bootstrap, string topic, Options o, Func<long> highs)
    {
        var config = new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "bench-late-" + Guid.NewGuid().ToString("N")[..8], EnableAutoCommit = false, FetchWaitMaxMs = 50 };
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).SetLogHandler((_, _) => { }).Build();
        var clock = Stopwatch.StartNew();
        consumer.Assign(Enumerable.Range(0, DevelopmentBroker.PartitionsPerTopic).Select(p => new TopicPartitionOffset(topic, p, 0)));
        long read = 0, sum = 0;
        var check = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(120))
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(20));
            if (r is not null) { read++; foreach (byte b in r.Message.Value) sum += b; }
            if (check.ElapsedMilliseconds < 50) continue;
            check.Restart();
            if (highs() - read < o.LateRate / o.RowsPerRecord) return read * (double)o.RowsPerRecord / clock.Elapsed.TotalSeconds;
        }
        throw new TimeoutException($"bare consumer did not catch up with {topic} within 120 s");
    }

    /// <summary>Submits a stream job and waits until it has started (its epoch); <paramref name="stop"/> ends it.</summary>
    private static async Task<(StartStreamJob Job, Task<StreamJobOutcome> Outcome, long Epoch)> StartJobAsync(StreamingNode node, StreamJobSettings settings,
        string kind, CancellationToken stop)
    {
        var job = new StartStreamJob(Guid.NewGuid().ToString("N")[..12], settings);
        var started = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var outcome = StreamJobRunner.RunAsync(node, job, m => { if (m is StreamJobStarted s) started.TrySetResult(s.Epoch); }, TimeSpan.FromSeconds(60), stop);
        if (await Task.WhenAny(started.Task, outcome) != started.Task) throw new InvalidOperationException($"{kind} job on {settings.Topic} did not start: {(await outcome).Failed?.Message}");
        return (job, outcome, await started.Task);
    }

    /// <summary>(b) A stream job: catch-up rate (from the first partition positioned) and the largest lag afterwards, in seconds of input.</summary>
    private static async Task<(double Rate, double HoldLag, long Lost)> LateProductAsync(StreamingNode node, string bootstrap, string topic, Options o, string dir, Func<long> highs)
    {
        var settings = Settings(bootstrap, topic, "bench-late-" + Guid.NewGuid().ToString("N")[..6], o, Path.Combine(dir, topic + ".json"), untilIdle: 0);
        using var stop = new CancellationTokenSource();
        var (job, outcome, epoch) = await StartJobAsync(node, settings, "late-start", stop.Token);
        var clock = Stopwatch.StartNew();
        double positioned = -1, caughtUp = -1, holdLag = 0, rate = 0, traced = -1;
        long recordsPerSecond = (long)(o.LateRate / o.RowsPerRecord);
        bool trace = Environment.GetEnvironmentVariable("STREAMBENCH_TRACE") == "1";
        while (clock.Elapsed < TimeSpan.FromSeconds(180))
        {
            var next = await LedgerAsync(node, job.JobId, epoch, topic);
            double now = clock.Elapsed.TotalSeconds;
            long merged = next.Sum(n => Math.Max(0, n));
            if (positioned < 0 && next.Any(n => n >= 0)) positioned = now;
            long lag = highs() - merged;
            if (trace && now - traced >= 0.25)
            {
                traced = now;
                Line(Inv($"    t {now,6:F2} s: merged {merged,9:N0}, lag {lag,9:N0} records, ledger [{string.Join(", ", next)}]"));
            }
            if (positioned >= 0 && caughtUp < 0 && lag < recordsPerSecond)
            {
                caughtUp = now;
                rate = merged * (double)o.RowsPerRecord / Math.Max(now - positioned, 1e-9);
                if (trace) Line(Inv($"    caught up: {merged:N0} records merged in {now - positioned:F2} s from the first partition positioned ({positioned:F2} s after the start)"));
            }
            else if (caughtUp >= 0)
            {
                holdLag = Math.Max(holdLag, lag / (double)recordsPerSecond);
                if (now - caughtUp >= o.LateHold) break;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(50));
        }
        await stop.CancelAsync();
        var end = await outcome;
        if (caughtUp < 0) throw new InvalidOperationException($"late-start job on {topic} did not catch up within 180 s");
        return (rate, holdLag, end.Finished?.LostRecords ?? 0);
    }

    // ------------------------------------------------------------------ hold

    /// <summary>
    /// Holding lag under load (issue 10, defect 3's second target): a stream job runs on a new topic, with and without
    /// <c>--dim</c> (d inferred from the first records), online updates on (<see cref="Settings"/>); a producer sends a
    /// trickle until every partition is positioned (the group join is not part of this target; the late-start mode
    /// measures the catch-up after it), then <c>--hold-rate</c> rows/s (0 = as fast as the producer can) for
    /// <c>--hold-seconds</c>. Every 50 ms the lag (records in the broker, high watermarks, minus records merged, the
    /// coordinator's ledger) is sampled; it is reported in seconds of input at the rate the producer reached.
    /// Target: the largest lag under 1 s with nothing lost; every record is accounted for at the end (accepted + rejected +
    /// lost = produced, lost no more than the broker deleted).
    /// </summary>
    private const int HoldStepsPerUpdate = 25;

    private static async Task<int> HoldAsync(Options o, string bootstrap, StreamingNode node, string dir)
    {
        Line("");
        Line(Inv($"Hold: producer at {(o.HoldRate > 0 ? o.HoldRate.ToString("N0", CultureInfo.InvariantCulture) + " rows/s" : "its maximum rate")} for {o.HoldSeconds:F0} s once every partition is positioned; d = {o.Dim}, {o.Format.ToName()}, {o.Workers} workers, online updates after every merge (up to {HoldStepsPerUpdate} solver steps, the stream command's default)"));
        int code = 0;
        for (int rep = 1; rep <= o.Reps; rep++)
        {
            // f64 records carry no width: d is learned only from csv records (the stream command requires --dim for f64).
            foreach (bool withDim in o.Format == RowFormat.F64 ? new[] { true } : new[] { true, false })
            {
                var (reached, maxLag, medianLag, lost, ok) = await HoldOnceAsync(o, bootstrap, node, dir, withDim, rep);
                bool met = ok && maxLag < 1.0 && lost == 0; // a lost record moves the ledger past it: the lag is then no measure
                if (!met) code = 1;
                Line(Inv($"  rep {rep}, {(withDim ? "--dim " + o.Dim : "d inferred")}: producer reached {reached,9:N0} rows/s; lag largest {maxLag:F2} s, median {medianLag:F2} s of input; lost {lost}; target largest < 1 s: {(met ? "MET" : "NOT MET")}"));
            }
        }
        return code;
    }

    private static async Task<(double Reached, double MaxLag, double MedianLag, long Lost, bool Ok)> HoldOnceAsync(
        Options o, string bootstrap, StreamingNode node, string dir, bool withDim, int rep)
    {
        string topic = $"bench-hold-{rep}-{(withDim ? "dim" : "nodim")}-{Guid.NewGuid().ToString("N")[..6]}";
        // The producer starts first, at a trickle: without --dim the client learns d from the first records, as the stream command does.
        var source = new PacedSource(new SyntheticRowSource(new SyntheticSource(o.Dim, o.Seed), 0), trickle: 200, granule: o.RowsPerRecord);
        using var cts = new CancellationTokenSource();
        using var producer = new RowProducer(KafkaClientSettings.Create(bootstrap), new RowProducerOptions { Topic = topic, Format = o.Format, RowsPerRecord = o.RowsPerRecord, RowsPerSecond = 0 });
        var produced = producer.RunAsync(source, null, cts.Token);
        var settings = Settings(bootstrap, topic, "bench-hold-" + Guid.NewGuid().ToString("N")[..6], o, Path.Combine(dir, topic + ".json"), untilIdle: 0)
            with { StepsPerUpdate = HoldStepsPerUpdate };
        if (!withDim)
        {
            int learned = await TopicProbe.LearnDimensionAsync(bootstrap, topic, o.Format, settings.KafkaProperties, null, CancellationToken.None);
            if (learned != o.Dim) throw new InvalidOperationException($"hold job on {topic}: learned d = {learned}, produced {o.Dim}");
            settings = settings with { Dimension = learned, KafkaProperties = [.. settings.KafkaProperties, TopicProbe.InferredKey + "=true"] };
        }
        using var stop = new CancellationTokenSource();
        var (job, outcome, epoch) = await StartJobAsync(node, settings, "hold", stop.Token);

        using var watermarks = WatermarkClient(bootstrap);
        long Highs() => SumOfHighWatermarks(watermarks, topic);
        try
        {
            var wait = Stopwatch.StartNew();
            while (!(await LedgerAsync(node, job.JobId, epoch, topic)).All(n => n >= 0))
            {
                if (wait.Elapsed > TimeSpan.FromSeconds(90)) throw new TimeoutException($"hold job on {topic}: not every partition positioned within 90 s");
                await Task.Delay(TimeSpan.FromMilliseconds(50));
            }
            source.Go(o.HoldRate);
            long highs0 = Highs();
            var clock = Stopwatch.StartNew();
            var lags = new List<long>();
            while (clock.Elapsed.TotalSeconds < o.HoldSeconds)
            {
                long merged = (await LedgerAsync(node, job.JobId, epoch, topic)).Sum(n => Math.Max(0, n));
                lags.Add(Highs() - merged);
                await Task.Delay(TimeSpan.FromMilliseconds(50));
            }
            double seconds = clock.Elapsed.TotalSeconds;
            double recordsPerSecond = Math.Max(1, (Highs() - highs0) / seconds);
            await cts.CancelAsync();
            try { await produced; }
            catch (OperationCanceledException) { }
            // Accounting: once everything produced is read, every record is accepted, rejected or lost, and no more
            // are lost than the broker deleted (the sum of the low watermarks).
            long total = Highs();
            var drain = Stopwatch.StartNew();
            while ((await LedgerAsync(node, job.JobId, epoch, topic)).Sum(n => Math.Max(0, n)) < total && drain.Elapsed < TimeSpan.FromSeconds(120))
                await Task.Delay(TimeSpan.FromMilliseconds(100));
            long lows = 0;
            for (int p = 0; p < DevelopmentBroker.PartitionsPerTopic; p++)
                lows += Math.Max(0, watermarks.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(5)).Low.Value);
            await stop.CancelAsync();
            var end = await outcome;
            var inSeconds = lags.Select(l => l / recordsPerSecond).ToList();
            var f = end.Finished;
            bool accounted = f is not null && f.AcceptedRecords + f.RejectedRecords + f.LostRecords == total && f.LostRecords <= lows;
            Line(f is null ? $"    job failed: {end.Failed?.Message}"
                : Inv($"    accounting: produced {total:N0} records; accepted {f.AcceptedRecords:N0} + rejected {f.RejectedRecords:N0} + lost {f.LostRecords:N0} = {f.AcceptedRecords + f.RejectedRecords + f.LostRecords:N0}; broker deleted {lows:N0}; {(accounted ? "every record accounted" : "NOT ACCOUNTED")}"));
            return (recordsPerSecond * o.RowsPerRecord, inSeconds.Max(), Median(inSeconds), f?.LostRecords ?? -1, accounted);
        }
        finally
        {
            await cts.CancelAsync();
            await stop.CancelAsync();
        }
    }

    /// <summary>
    /// Synthetic rows at a trickle until <see cref="Go"/>, then at a given rate (0 = as fast as they are asked for), handed
    /// out in whole records of <paramref name="granule"/> rows (the producer makes a record of what one read returns).
    /// </summary>
    private sealed class PacedSource(SyntheticRowSource inner, double trickle, int granule) : IRowSource
    {
        private readonly object _gate = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private double _rate = trickle;
        private double _since;
        private long _rowsSince;

        public int Dimension => inner.Dimension;
        public string Description => inner.Description + " (paced)";

        public void Go(double rate)
        {
            lock (_gate) { _rate = rate; _since = _clock.Elapsed.TotalSeconds; _rowsSince = 0; }
        }

        public int ReadRows(Span<double> destination, int maxRows)
        {
            while (true)
            {
                long allowed;
                lock (_gate)
                {
                    allowed = _rate <= 0 ? maxRows : (long)((_clock.Elapsed.TotalSeconds - _since) * _rate) - _rowsSince;
                    allowed = Math.Min(allowed, maxRows) / granule * granule;
                    if (allowed > 0)
                    {
                        int n = inner.ReadRows(destination, (int)Math.Min(maxRows, allowed));
                        _rowsSince += n;
                        return n;
                    }
                }
                Thread.Sleep(1);
            }
        }
    }

    // ------------------------------------------------------------------ memory

    /// <summary>Synthetic rows handed to the producer no further than a bound ahead of the rows merged, stopping at a mark.</summary>
    private sealed class GatedSource(SyntheticRowSource inner, long aheadRows) : IRowSource
    {
        private long _read;
        private long _merged;
        private long _pauseAt;

        public int Dimension => inner.Dimension;
        public string Description => inner.Description + " (gated)";
        public long Read => Interlocked.Read(ref _read);

        public void Merged(long rows)
        {
            long seen;
            while (rows > (seen = Interlocked.Read(ref _merged)) && Interlocked.CompareExchange(ref _merged, rows, seen) != seen) { }
        }

        public void PauseAt(long rows) => Interlocked.Exchange(ref _pauseAt, rows);

        public int ReadRows(Span<double> destination, int maxRows)
        {
            while (true)
            {
                long read = Interlocked.Read(ref _read);
                if (read >= inner.Rows) return 0; // the end of the stream
                long allowed = Math.Min(Interlocked.Read(ref _merged) + aheadRows, Interlocked.Read(ref _pauseAt)) - read;
                if (allowed > 0)
                {
                    int n = inner.ReadRows(destination, (int)Math.Min(maxRows, allowed));
                    Interlocked.Add(ref _read, n);
                    return n;
                }
                Thread.Sleep(1);
            }
        }
    }

    private static async Task<int> MemoryAsync(Options o, string bootstrap, StreamingNode node, string dir)
    {
        Line("");
        long last = o.MemoryMarks[^1];
        double bytesPerRow = BytesPerRow(o);
        long ahead = (long)(AheadPerPartition * DevelopmentBroker.PartitionsPerTopic / bytesPerRow);
        ahead -= ahead % o.RowsPerRecord;
        string topic = $"bench-memory-{Guid.NewGuid().ToString("N")[..6]}";
        Line(Inv($"Memory: one job streams {last:N0} rows of {topic} (d = {o.Dim}, {o.Format.ToName()}); the producer stays at most {ahead:N0} rows ") +
             Inv($"({AheadPerPartition / 1048576.0:F0} MB per partition) ahead of the rows merged (ledger every {ProbeInterval.TotalMilliseconds:F0} ms, and the statuses) ") +
             Inv($"and pauses at {string.Join(", ", o.MemoryMarks.Select(m => m.ToString("N0", CultureInfo.InvariantCulture)))} rows until they are merged; samples after forced full GCs"));

        var source = new GatedSource(new SyntheticRowSource(new SyntheticSource(o.Dim, o.Seed + 1), last), ahead);
        source.PauseAt(Math.Min(o.MemoryMarks[0], ahead));
        using var producer = new RowProducer(KafkaClientSettings.Create(bootstrap), new RowProducerOptions { Topic = topic, Format = o.Format, RowsPerRecord = o.RowsPerRecord });
        var produced = producer.RunAsync(source);
        // The producer's first records create the topic before the job's consumers subscribe.
        var wait = Stopwatch.StartNew();
        while (source.Read == 0 && wait.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(10);

        var settings = Settings(bootstrap, topic, "bench-memory-" + Guid.NewGuid().ToString("N")[..6], o, Path.Combine(dir, "memory.json"), untilIdle: 0);
        var job = new StartStreamJob(Guid.NewGuid().ToString("N")[..12], settings);
        var started = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        long statusRows = 0, lost = 0, duplicates = 0, refused = 0;
        using var stop = new CancellationTokenSource();
        var outcomeTask = StreamJobRunner.RunAsync(node, job, m =>
        {
            switch (m)
            {
                case StreamJobStarted s:
                    started.TrySetResult(s.Epoch);
                    break;
                case StreamJobStatus x:
                    Interlocked.Exchange(ref statusRows, x.Rows);
                    Interlocked.Exchange(ref lost, x.LostRecords);
                    Interlocked.Exchange(ref duplicates, x.Duplicates);
                    Interlocked.Exchange(ref refused, x.Refused);
                    source.Merged(x.Rows);
                    break;
                case StreamJobNotice n:
                    Line($"    [memory] note: {n.Message}");
                    break;
            }
        }, TimeSpan.FromSeconds(60), stop.Token);
        if (await Task.WhenAny(started.Task, outcomeTask) != started.Task)
            throw new InvalidOperationException($"memory job did not start: {(await outcomeTask).Failed?.Message}");
        long epoch = await started.Task;

        var samples = new List<(long Rows, long Heap, long WorkingSet, long Private, double Seconds)>();
        var clock = Stopwatch.StartNew();
        double paused = 0;
        foreach (long mark in o.MemoryMarks)
        {
            source.PauseAt(mark);
            long merged = 0;
            while (merged < mark)
            {
                if (outcomeTask.IsCompleted) throw new InvalidOperationException($"memory job ended early: {(await outcomeTask).Failed?.Message}");
                merged = Math.Min((await LedgerAsync(node, job.JobId, epoch, topic)).Sum(n => Math.Max(0, n)) * o.RowsPerRecord, source.Read);
                source.Merged(merged);
                if (Interlocked.Read(ref lost) > 0) throw new InvalidOperationException($"memory job LOST {Interlocked.Read(ref lost)} records: the producer ran past the broker's window");
                if (merged < mark) await Task.Delay(ProbeInterval);
            }
            double seconds = clock.Elapsed.TotalSeconds - paused;
            var pause = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(1.5)); // the snapshot, checkpoint and status of this mark settle
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            long heap = GC.GetTotalMemory(forceFullCollection: true);
            long ws = Environment.WorkingSet;
            long priv;
            using (var self = Process.GetCurrentProcess()) priv = self.PrivateMemorySize64;
            samples.Add((mark, heap, ws, priv, seconds));
            Line(Inv($"  {mark,11:N0} rows merged after {seconds,6:F1} s of streaming: GC heap {heap / 1048576.0,7:F1} MB   working set {ws / 1048576.0,7:F1} MB   private {priv / 1048576.0,7:F1} MB   ") +
                 Inv($"(status rows {Interlocked.Read(ref statusRows):N0}, lost {Interlocked.Read(ref lost)}, dup {Interlocked.Read(ref duplicates)}, refused {Interlocked.Read(ref refused)})"));
            paused += pause.Elapsed.TotalSeconds;
        }

        stop.Cancel();
        var outcome = await outcomeTask;
        var summary = await produced;
        if (outcome.Failed is { } f) throw new InvalidOperationException($"memory job failed ({f.Kind}): {f.Message}");
        var fin = outcome.Finished!;
        Line(Inv($"  job finished ({fin.StopReason}): {fin.Rows:N0} rows, {fin.LostRecords} lost, {fin.RejectedRecords} rejected; producer delivered {summary.Delivered:N0} of {summary.Records:N0} records"));
        var a = samples[0];
        var b = samples[^1];
        double heapRatio = (double)b.Heap / a.Heap, wsRatio = (double)b.WorkingSet / a.WorkingSet;
        double rate = (b.Rows - a.Rows) / (b.Seconds - a.Seconds);
        Line("");
        Line(Inv($"Memory summary ({a.Rows:N0} -> {b.Rows:N0} rows through one job; {rate:N0} rows/s between those marks with the producer gated on the ledger):"));
        Line(Inv($"  GC heap after full collections : {a.Heap / 1048576.0,7:F1} MB -> {b.Heap / 1048576.0,7:F1} MB, ratio {heapRatio:F3}: {(Math.Abs(heapRatio - 1) <= MemoryTolerance ? "within" : "NOT within")} {MemoryTolerance:P0}"));
        Line(Inv($"  working set                    : {a.WorkingSet / 1048576.0,7:F1} MB -> {b.WorkingSet / 1048576.0,7:F1} MB, ratio {wsRatio:F3}: {(Math.Abs(wsRatio - 1) <= MemoryTolerance ? "within" : "NOT within")} {MemoryTolerance:P0}"));
        return fin.LostRecords == 0 && fin.Rows == last ? 0 : 1;
    }

    // ------------------------------------------------------------------ helpers

    private static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static string Join(IEnumerable<double> rates) => string.Join(", ", rates.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)));

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static void Line(string s)
    {
        Console.Out.WriteLine(s);
        Console.Out.Flush();
    }
}
