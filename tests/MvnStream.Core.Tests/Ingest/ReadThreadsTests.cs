using System.Collections.Concurrent;
using System.Globalization;
using MvnStream.Core.Formats;
using MvnStream.Core.Ingest;

namespace MvnStream.Core.Tests.Ingest;

/// <summary>
/// A multi-threaded read runs on threads of its own, never on the thread pool's: a cluster worker reading its shard on
/// every core shares its process with the node's actors, whose dispatchers (remoting, the failure detector's heartbeats)
/// run on the pool. A read that held the pool's threads left their messages queued (a pool queue of 2-4 items through a
/// whole 13 s read of 'fit --workers 1 --threads-per-worker 2' on 2 cores, and once a worker declared unreachable in the
/// middle of its read and the job lost).
/// </summary>
public sealed class ReadThreadsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvnstream-read-threads-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteCsv(int rows, int d)
    {
        var r = new Random(7);
        var path = Path.Combine(_dir, "data.csv");
        using var w = new StreamWriter(path);
        for (int i = 0; i < rows; i++)
            w.WriteLine(string.Join(',', Enumerable.Range(0, d).Select(j => (j + r.NextDouble()).ToString("R", CultureInfo.InvariantCulture))));
        return path;
    }

    [Fact]
    public void A_range_read_on_several_threads_runs_on_none_of_the_thread_pools_threads()
    {
        var path = WriteCsv(30_000, 4);
        var options = new RowReaderOptions { Format = RowFormat.Csv, Dimension = 4, BlockRows = 256 };
        var seen = new ConcurrentDictionary<int, bool>();
        var result = ShardAccumulator.AccumulateRange(new FileShard(path, 0, long.MaxValue, 0), options, threads: 3,
            onBlock: (_, _, _) => seen[Environment.CurrentManagedThreadId] = Thread.CurrentThread.IsThreadPoolThread,
            chunkBytes: 32 * 1024);

        Assert.Equal(30_000, result.Statistics.Count);
        Assert.NotEmpty(seen);
        Assert.True(seen.Count <= 3, $"{seen.Count} threads read, 3 asked for");
        Assert.DoesNotContain(seen, t => t.Value);
    }
}
