using System.Diagnostics;
using MvnStream.Core.Formats;
using MvnStream.Core.Statistics;

namespace MvnStream.Core.Ingest;

/// <summary>Rows read so far while accumulating statistics, for progress lines (rows/s, MB/s).</summary>
public readonly record struct IngestProgress(long Rows, long Rejected, long Bytes, TimeSpan Elapsed)
{
    public double RowsPerSecond => Elapsed.TotalSeconds > 0 ? Rows / Elapsed.TotalSeconds : 0;
    public double MegabytesPerSecond => Elapsed.TotalSeconds > 0 ? Bytes / 1e6 / Elapsed.TotalSeconds : 0;
}

/// <summary>Statistics of a file or shard with what was rejected on the way.</summary>
public sealed record IngestResult(SufficientStatistics Statistics, long RowsRejected, IReadOnlyList<RejectedRow> Rejections, long Bytes, TimeSpan Elapsed);

/// <summary>
/// Reads a file (or several shards of it in parallel) block by block and accumulates sufficient
/// statistics: memory is one block per thread whatever the file size. With several threads each
/// shard has its own statistics, merged exactly at the end (docs/ARCHITECTURE.md, "The math").
/// </summary>
public static class ShardAccumulator
{
    /// <summary>Learns d from the file (first data row for csv/json; the option for f64).</summary>
    /// <exception cref="InvalidDataException">The file has no valid data row (empty, a header line only, or only bad rows).</exception>
    public static int ProbeDimension(string path, RowReaderOptions options)
    {
        if (options.Dimension is { } d) return d;
        using var reader = RowReader.Open(path, options);
        try { return reader.Dimension; }
        catch (InvalidOperationException e)
        {
            // No valid row to learn d from. Read on so that every row is judged on its own: under fail the
            // first bad row throws BadRowException with its line and reason; under skip all are counted.
            reader.ReadBlock(Span<double>.Empty);
            throw new InvalidDataException(NoDataRowsMessage(path, reader.RowsRejected, reader.Rejections.FirstOrDefault()), e);
        }
    }

    /// <summary>The message for a file in which no row was accepted: what, where, and the likely why.</summary>
    public static string NoDataRowsMessage(string path, long rejected, RejectedRow? first = null) => rejected > 0
        ? $"{path} has no valid data rows: all {rejected} rows were rejected" + (first is null ? "" : $" (the first: {first})")
        : $"{path} has no valid data rows (the file is empty, or holds only a header line or blank lines)";

    /// <summary>Accumulates one shard on the calling thread.</summary>
    public static IngestResult AccumulateShard(FileShard shard, RowReaderOptions options, Action<long, long, long>? onBlock = null,
        CancellationToken cancellationToken = default)
    {
        var sw = Stopwatch.StartNew();
        using var reader = RowReader.Open(shard.Path, options, shard.Start, shard.End);
        int d = reader.Dimension;
        var stats = new SufficientStatistics(d);
        var block = new double[options.BlockRows * d];
        long lastBytes = 0, lastRows = 0, lastRejected = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int rows = reader.ReadBlock(block);
            if (rows == 0) break;
            stats.AddBatch(block.AsSpan(0, rows * d), rows);
            onBlock?.Invoke(reader.RowsRead - lastRows, reader.RowsRejected - lastRejected, reader.BytesRead - lastBytes);
            lastRows = reader.RowsRead;
            lastRejected = reader.RowsRejected;
            lastBytes = reader.BytesRead;
        }
        onBlock?.Invoke(reader.RowsRead - lastRows, reader.RowsRejected - lastRejected, reader.BytesRead - lastBytes);
        return new IngestResult(stats, reader.RowsRejected, reader.Rejections, reader.BytesRead, sw.Elapsed);
    }

    /// <summary>
    /// Accumulates a whole file with <paramref name="threads"/> shards in parallel and merges them in file
    /// order. With <see cref="BadRowPolicy.Fail"/> the first bad row in file order is reported.
    /// </summary>
    public static IngestResult AccumulateFile(string path, RowReaderOptions options, int threads,
        Action<IngestProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (Directory.Exists(path)) throw new FileNotFoundException($"data file '{path}' is a directory, not a file", path);
        if (!File.Exists(path)) throw new FileNotFoundException($"data file '{path}' does not exist", path);
        int d = ProbeDimension(path, options);
        var shardOptions = options with { Dimension = d };
        var shards = !CanShard(path, shardOptions)
            ? [new FileShard(path, 0, long.MaxValue, 0)]
            : FileShard.Split(path, Math.Max(1, threads));
        var sw = Stopwatch.StartNew();
        long rows = 0, rejected = 0, bytes = 0;
        long lastReport = 0;
        object gate = new();
        void OnBlock(long r, long rej, long b)
        {
            Interlocked.Add(ref rows, r);
            Interlocked.Add(ref rejected, rej);
            Interlocked.Add(ref bytes, b);
            if (progress is null) return;
            long now = sw.ElapsedMilliseconds;
            if (now - Interlocked.Read(ref lastReport) < 500) return;
            lock (gate)
            {
                if (now - lastReport < 500) return;
                lastReport = now;
                progress(new IngestProgress(Interlocked.Read(ref rows), Interlocked.Read(ref rejected), Interlocked.Read(ref bytes), sw.Elapsed));
            }
        }

        var result = AccumulateInOrder(shards, shardOptions, threads, OnBlock, cancellationToken);
        progress?.Invoke(new IngestProgress(result.Statistics.Count, result.RowsRejected, result.Bytes, sw.Elapsed));
        return result;
    }

    /// <summary>Bytes of a file a reading thread takes at a time in <see cref="AccumulateRange"/>, unless told otherwise.</summary>
    public const long RangeChunkBytes = 32L << 20;

    /// <summary>
    /// Accumulates the byte range <paramref name="range"/> of a file (a cluster worker's shard) on up to
    /// <paramref name="threads"/> threads: the range is cut into chunks of <see cref="RangeChunkBytes"/> that the threads
    /// take in turn (or of <paramref name="chunkBytes"/>), and their statistics are merged in file order as they complete (memory: a block and a chunk's
    /// statistics per thread, plus those finished ahead of an earlier one). The chunks depend on the range alone, not on
    /// <paramref name="threads"/>, so a shard's statistics are the same to the bit whichever worker reads it with how many
    /// threads (docs/ARCHITECTURE.md, "Fitting a file"). <paramref name="onBlock"/> (rows, rejected, bytes) may be called
    /// from several threads at once. With <see cref="BadRowPolicy.Fail"/> the first bad row in file order is reported.
    /// </summary>
    public static IngestResult AccumulateRange(FileShard range, RowReaderOptions options, int threads, Action<long, long, long>? onBlock = null,
        CancellationToken cancellationToken = default, long chunkBytes = RangeChunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 1);
        int d = ProbeDimension(range.Path, options);
        var rangeOptions = options with { Dimension = d };
        long length = new FileInfo(range.Path).Length;
        long start = Math.Min(range.Start, length), end = Math.Min(range.End, length);
        IReadOnlyList<FileShard> chunks;
        if (end - start <= chunkBytes || !CanShard(range.Path, rangeOptions)) chunks = [range];
        else
        {
            int k = (int)Math.Min(int.MaxValue, (end - start + chunkBytes - 1) / chunkBytes);
            var list = new List<FileShard>(k);
            for (int i = 0; i < k; i++)
            {
                long a = start + (end - start) * i / k, b = start + (end - start) * (i + 1) / k;
                // The last chunk keeps the range's own end (long.MaxValue: to the end of the file, whatever it holds then).
                list.Add(new FileShard(range.Path, a, i == k - 1 ? range.End : b, i));
            }
            chunks = list;
        }
        var sw = Stopwatch.StartNew();
        var result = AccumulateInOrder(chunks, rangeOptions, threads, onBlock, cancellationToken);
        return result with { Elapsed = sw.Elapsed };
    }

    /// <summary>
    /// Reads <paramref name="shards"/> (contiguous, in file order) on up to <paramref name="threads"/> threads and merges
    /// their statistics in order, each as soon as those before it are merged. The threads are the read's own, taking the
    /// shards in file order, never the thread pool's: the pool runs the cluster node's actors (remoting, the failure
    /// detector's heartbeats), which a read on every core must not starve (docs/ARCHITECTURE.md, "Fitting a file"). The
    /// calling thread only waits.
    /// </summary>
    private static IngestResult AccumulateInOrder(IReadOnlyList<FileShard> shards, RowReaderOptions options, int threads,
        Action<long, long, long>? onBlock, CancellationToken cancellationToken)
    {
        var sw = Stopwatch.StartNew();
        int d = options.Dimension ?? throw new ArgumentException("the dimension must be known", nameof(options));
        var results = new IngestResult?[shards.Count];
        var done = new bool[shards.Count];
        var errors = new Exception?[shards.Count];
        var total = new SufficientStatistics(d);
        var rejections = new List<RejectedRow>();
        long rejectedTotal = 0, bytesTotal = 0;
        int merged = 0;
        object mergeGate = new();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        int nextShard = -1;
        void Read()
        {
            int i;
            while (!cts.IsCancellationRequested && (i = Interlocked.Increment(ref nextShard)) < shards.Count)
                ReadShard(i);
        }
        void ReadShard(int i)
        {
            try
            {
                var r = AccumulateShard(shards[i], options, onBlock, cts.Token);
                lock (mergeGate)
                {
                    results[i] = r;
                    done[i] = true;
                    // In file order, whichever finished first: the same sums as merging all at the end.
                    while (merged < results.Length && results[merged] is { } next)
                    {
                        total.Merge(next.Statistics);
                        rejectedTotal += next.RowsRejected;
                        bytesTotal += next.Bytes;
                        // Merged in file order, each shard's in order: the first ones kept are the first in the file.
                        foreach (var x in next.Rejections)
                            if (rejections.Count < options.MaxRejectionsKept) rejections.Add(x);
                        results[merged++] = null;
                    }
                }
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested) { }
            catch (Exception e)
            {
                errors[i] = e;
                cts.Cancel();
            }
        }
        var readers = new Thread[Math.Clamp(threads, 1, Math.Max(1, shards.Count))];
        for (int t = 0; t < readers.Length; t++)
        {
            readers[t] = new Thread(Read) { IsBackground = true, Name = "mvnstream-read" };
            readers[t].Start();
        }
        foreach (var reader in readers) reader.Join();
        cancellationToken.ThrowIfCancellationRequested();
        var firstError = errors.Where(e => e is not null).OrderBy(e => e is BadRowException b ? b.Row.Line : long.MaxValue).FirstOrDefault();
        if (firstError is not null)
        {
            // The earliest bad row in file order: a shard before it may have been cancelled, so make sure it was clean.
            if (firstError is BadRowException bad)
                for (int i = 0; i < shards.Count; i++)
                    if (errors[i] is null && !done[i] && shards[i].Start < bad.Row.ByteOffset)
                        AccumulateShard(shards[i], options, null, cancellationToken);
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(firstError).Throw();
        }

        var kept = rejections.OrderBy(x => x.ByteOffset).Take(options.MaxRejectionsKept).ToList();
        return new IngestResult(total, rejectedTotal, kept, bytesTotal, sw.Elapsed);
    }

    /// <summary>False for a single-document JSON file, which the reader cannot split into byte ranges.</summary>
    public static bool CanShard(string path, RowReaderOptions options)
    {
        if (options.Format != RowFormat.Json) return true;
        try
        {
            using var probe = RowReader.Open(path, options, 0, 1);
            return true;
        }
        catch (NotSupportedException)
        {
            return false;
        }
    }
}
