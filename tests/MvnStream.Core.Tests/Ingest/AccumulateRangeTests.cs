using System.Collections.Concurrent;
using System.Globalization;
using MvnStream.Core.Formats;
using MvnStream.Core.Ingest;

namespace MvnStream.Core.Tests.Ingest;

/// <summary>
/// <see cref="ShardAccumulator.AccumulateRange"/>, the multi-threaded read of a cluster worker's shard: the statistics
/// of a byte range are the same to the bit for every thread count (its chunks depend on the range alone), shards tiling
/// the file count every row once, and the first bad row in file order is the one reported. The read runs on threads of its
/// own, never on the thread pool's, which a cluster node's actors (remoting, the failure detector's heartbeats) share.
/// </summary>
public sealed class AccumulateRangeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvnstream-range-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteCsv(int rows, int d, int seed, int badLine = -1)
    {
        var r = new Random(seed);
        var path = Path.Combine(_dir, $"data-{seed}.csv");
        using var w = new StreamWriter(path);
        w.WriteLine(string.Join(',', Enumerable.Range(0, d).Select(j => $"x{j}")));
        for (int i = 0; i < rows; i++)
        {
            // Line numbers count the header as line 1.
            if (i + 2 == badLine) { w.WriteLine("1,oops"); continue; }
            w.WriteLine(string.Join(',', Enumerable.Range(0, d).Select(j => (1000 * j + r.NextDouble() * (j + 1)).ToString("R", CultureInfo.InvariantCulture))));
        }
        return path;
    }

    private static readonly RowReaderOptions Csv = new() { Format = RowFormat.Csv, Dimension = 5 };

    [Fact]
    public void A_ranges_statistics_do_not_depend_on_the_threads_reading_it()
    {
        var path = WriteCsv(40_000, 5, 1);
        long length = new FileInfo(path).Length;
        var range = new FileShard(path, length / 3, long.MaxValue, 0);
        var one = ShardAccumulator.AccumulateRange(range, Csv, threads: 1, chunkBytes: 64 * 1024);
        Assert.True(length - length / 3 > 8 * 64 * 1024, "the range must span many chunks");
        foreach (int threads in new[] { 2, 3, 8 })
        {
            var many = ShardAccumulator.AccumulateRange(range, Csv, threads, chunkBytes: 64 * 1024);
            Assert.Equal(one.Statistics.Count, many.Statistics.Count);
            Assert.True(one.Statistics.Mean.SequenceEqual(many.Statistics.Mean), $"mean differs with {threads} threads");
            Assert.True(one.Statistics.Scatter.SequenceEqual(many.Statistics.Scatter), $"scatter differs with {threads} threads");
            Assert.Equal(one.Bytes, many.Bytes);
        }
    }

    [Fact]
    public void Ranges_tiling_the_file_count_every_row_once_and_merge_to_the_whole_file()
    {
        var path = WriteCsv(30_000, 5, 2);
        long length = new FileInfo(path).Length;
        var whole = ShardAccumulator.AccumulateFile(path, Csv, threads: 1);
        var total = new MvnStream.Core.Statistics.SufficientStatistics(5);
        long bytes = 0;
        for (int i = 0; i < 3; i++)
        {
            var part = ShardAccumulator.AccumulateRange(new FileShard(path, length * i / 3, i == 2 ? long.MaxValue : length * (i + 1) / 3, i), Csv, threads: 2, chunkBytes: 32 * 1024);
            total.Merge(part.Statistics);
            bytes += part.Bytes;
        }
        Assert.Equal(30_000, total.Count);
        Assert.Equal(whole.Bytes, bytes);
        for (int j = 0; j < 5; j++)
            Assert.Equal(whole.Statistics.Mean[j], total.Mean[j], 1e-12 * Math.Max(1, Math.Abs(whole.Statistics.Mean[j])));
    }

    [Fact]
    public void The_first_bad_row_in_file_order_is_reported_whichever_thread_meets_it_first()
    {
        var path = WriteCsv(30_000, 5, 3, badLine: 20_000);
        var e = Assert.Throws<BadRowException>(() =>
            ShardAccumulator.AccumulateRange(new FileShard(path, 0, long.MaxValue, 0), Csv with { OnBadRow = BadRowPolicy.Fail }, threads: 4, chunkBytes: 16 * 1024));
        Assert.Equal(20_000, e.Row.Line);
    }

    /// <summary>
    /// A read on every core that held the pool's threads left the node's messages queued: a pool queue of 2-4 items through
    /// a whole 13 s read of 'fit --workers 1 --threads-per-worker 2' on 2 cores, heartbeats sent 7.5 s late, and once a
    /// worker declared unreachable in the middle of its read and the job lost.
    /// </summary>
    [Fact]
    public void A_range_read_on_several_threads_runs_on_none_of_the_thread_pools_threads()
    {
        var path = WriteCsv(30_000, 5, 7);
        var seen = new ConcurrentDictionary<int, bool>();
        var result = ShardAccumulator.AccumulateRange(new FileShard(path, 0, long.MaxValue, 0), Csv with { BlockRows = 256 }, threads: 3,
            onBlock: (_, _, _) => seen[Environment.CurrentManagedThreadId] = Thread.CurrentThread.IsThreadPoolThread,
            chunkBytes: 32 * 1024);

        Assert.Equal(30_000, result.Statistics.Count);
        Assert.NotEmpty(seen);
        Assert.True(seen.Count <= 3, $"{seen.Count} threads read, 3 asked for");
        Assert.DoesNotContain(seen, t => t.Value);
    }
}
