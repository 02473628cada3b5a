using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary>
/// <c>mvnstream stream</c> on the embedded cluster against the development broker process: exponential forgetting
/// tracks a shifted mean; records deleted by retention before they were read are counted exactly and reported (exit 5);
/// Ctrl-C is a clean stop whose checkpoint a restarted stream resumes, every record counted once over both runs.
/// </summary>
[Collection(StreamLifecycleCollection.Name)]
public sealed partial class StreamLifecycleTests(StreamingBrokerFixture broker, ITestOutputHelper output) : IClassFixture<StreamingBrokerFixture>, IDisposable
{
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(150);
    private readonly TestScope _scope = new(output, "stream-lifecycle");

    public void Dispose() => _scope.Dispose();

    /// <summary>
    /// d = 3: 20,000 rows of N(0, I) then 20,000 rows of N(5*1, I), sent in this order to partition 0 (kcat -p 0), so the
    /// arrival order is the file's. Two streams (two consumer groups) read the topic at the same time: with
    /// --forgetting 0.999 the mean is within 0.1 of 5 in every coordinate (and equals the mean weighted 0.999^(rows after),
    /// computed here); without forgetting it is within 0.2 of 2.5 and equals the fit of the file.
    /// </summary>
    [Fact]
    public async Task Forgetting_tracks_a_shifted_mean_and_no_forgetting_averages_both_halves()
    {
        const int seed = 5401, d = 3, half = 20_000;
        const double f = 0.999;
        var rng = new Random(seed);
        var rows = new double[2 * half * d];
        for (int r = 0; r < 2 * half; r++)
            for (int i = 0; i < d; i++)
            {
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
                double z = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
                rows[r * d + i] = Math.Round((r < half ? 0.0 : 5.0) + z, 6);
            }
        var csv = _scope.PathOf("shift.csv");
        MvnSample.WriteLines(csv, Enumerable.Range(0, 2 * half).Select(r => string.Join(',', rows.AsSpan(r * d, d).ToArray().Select(MvnSample.Format))));
        var topic = StreamingBrokerFixture.NewTopic("forget");
        string ctx = $"seed {seed}, d = {d}, {half} rows N(0, I) then {half} rows N(5*1, I) on partition 0 of {topic}";
        await Kcat.ProduceFileAsync(broker.Bootstrap, topic, csv, 0);

        string[] Args(string group, string outFile, params string[] more) =>
            ["stream", "-b", broker.Bootstrap, "-t", topic, "--group", group, "--dim", "3", "--until-idle", "3s", "--checkpoint", "none",
                "--model-topic", "none", "--json", "--tolerance", "1e-12", "--out", _scope.PathOf(outFile), .. more];
        var forgetting = _scope.RunAsync(Args(topic + "-forgetting", "forgetting.json", "--forgetting", f.ToString(CultureInfo.InvariantCulture)), StreamTimeout, "stream-forgetting");
        var plain = _scope.RunAsync(Args(topic + "-plain", "plain.json"), StreamTimeout, "stream-plain");
        var fit = _scope.RunAsync(["fit", csv, "--tolerance", "1e-12", "--out", _scope.PathOf("fit.json")]);
        foreach (var r in await Task.WhenAll(forgetting, plain, fit)) r.ExpectExit(0);

        var mf = ModelFile.Load(_scope.PathOf("forgetting.json"));
        var mp = ModelFile.Load(_scope.PathOf("plain.json"));
        var mfit = ModelFile.Load(_scope.PathOf("fit.json"));
        output.WriteLine($"forgetting {f}: mu {Check.Show(mf.Mu)}; none: mu {Check.Show(mp.Mu)}");
        Assert.True(mf.N == 2 * half && mp.N == 2 * half, $"n = {mf.N} (forgetting), {mp.N} (none), expected {2 * half} rows counted ({ctx})");
        for (int i = 0; i < d; i++)
        {
            Assert.True(Math.Abs(mf.Mu[i] - 5) <= 0.1, $"with --forgetting {f}: mu[{i}] = {mf.Mu[i]}, expected within 0.1 of 5 ({ctx})\n{mf.Text}");
            Assert.True(Math.Abs(mp.Mu[i] - 2.5) <= 0.2, $"without forgetting: mu[{i}] = {mp.Mu[i]}, expected within 0.2 of 2.5 ({ctx})\n{mp.Text}");
        }
        Check.Relative(mp.Mu, mfit.Mu, 1e-9, "mu without forgetting vs fit of the file", ctx);
        Check.Relative(mp.Covariance, mfit.Covariance, 1e-9, "covariance without forgetting vs fit of the file", ctx);
        // One partition, read in order: the weights are exactly 0.999^(rows after), whatever the batching.
        var (wMean, wCov) = Reference.WeightedMoments(rows, d, f);
        Check.Relative(mf.Mu, wMean, 1e-9, $"mu with --forgetting {f} vs the mean weighted {f}^(rows after)", ctx);
        Check.Relative(mf.Covariance, wCov, 1e-9, $"covariance with --forgetting {f} vs the weighted covariance", ctx);
    }

    /// <summary>
    /// ~8 MB sent to partition 0 before the stream starts: the development broker keeps only the last 5 MB, so the head
    /// is gone. The stream must exit 5, say LOST, and count the loss exactly: lost = the low watermark (as kcat sees it),
    /// n = the records still held, n + lost = rows produced.
    /// </summary>
    [Fact]
    public async Task Records_deleted_by_retention_before_they_were_read_are_counted_exactly_and_reported()
    {
        const int seed = 5501, d = 4, n = 200_000;
        var sample = MvnSample.Random(seed, d, n);
        var csv = sample.WriteCsv(_scope.PathOf("big.csv"), header: false);
        long bytes = new FileInfo(csv).Length;
        var topic = StreamingBrokerFixture.NewTopic("retention");
        string ctx = $"{sample.Describe}, {bytes / 1e6:F1} MB to partition 0 of {topic}";
        await Kcat.ProduceFileAsync(broker.Bootstrap, topic, csv, 0);
        var extents = await Kcat.PartitionExtentsAsync(broker.Bootstrap, topic);
        var (low, end, held) = extents[0];
        output.WriteLine($"partition 0 after producing: [{low}, {end}), {held} records held ({ctx})");
        Assert.True(end == n, $"partition 0 ends at {end}, expected {n} records produced ({ctx})");
        Assert.True(low > 0 && held == end - low, $"precondition: the broker should have deleted the head of partition 0 (5 MB retention), but it holds [{low}, {end}) ({ctx})");

        var run = await _scope.RunAsync(["stream", "-b", broker.Bootstrap, "-t", topic, "--until-idle", "3s", "--checkpoint", "none", "--json",
            "--out", _scope.PathOf("model.json")], StreamTimeout, "stream-" + topic);
        run.ExpectExit(5);
        Check.Contains("LOST", run.Stderr, "stderr of a stream that lost records");
        var summary = StreamOutput.JsonSummary(run);
        long rows = StreamOutput.Long(summary, "n"), lost = StreamOutput.Long(summary, "lostRecords");
        Assert.True(lost == low, $"lostRecords = {lost}, but the broker deleted offsets [0, {low}) ({ctx})\n{run.Description}");
        Assert.True(rows == held && rows + lost == n, $"n = {rows}, lost = {lost}: n + lost = {rows + lost}, expected {n} rows produced, {held} still held ({ctx})\n{run.Description}");
        Assert.True(StreamOutput.Long(summary, "acceptedRecords") == held && StreamOutput.Long(summary, "rejectedRecords") == 0,
            $"accepted + rejected should be the {held} records held ({ctx}):\n{summary.ToJsonString()}");
        var lostLines = run.StderrLines.Where(l => l.Contains("LOST", StringComparison.Ordinal)).ToList();
        Check.Contains($"{lost:N0}", string.Join('\n', lostLines), "the LOST line names the count");
        // One partition lost records: one LOST line (it used to come twice, as a note and as the coordinator's Akka error log).
        Assert.True(lostLines.Count == 1, $"expected the LOST notice once, got {lostLines.Count} lines:\n{string.Join('\n', lostLines)}");
        var m = ModelFile.Load(_scope.PathOf("model.json"));
        var offsets = StreamModel.Offsets(m);
        Assert.True(m.N == held && offsets.TryGetValue($"{topic}/0", out var o) && o.Next == end,
            $"model n = {m.N}, offsets {StreamModel.Show(offsets)}; expected n = {held} and partition 0 read to {end} ({ctx})");
    }

    [GeneratedRegex(@"^stream finished \(([^)]*)\): n = ([\d,]+) rows")]
    private static partial Regex FinishedLine();

    /// <summary>
    /// Ctrl-C (SIGINT) of a stream fed by a slow producer: exit 0, the final summary, a model with version and offsets that
    /// cover exactly its n rows. The same command again resumes from the file checkpoint ("resumed from the checkpoint
    /// with n rows") and ends with every row counted once: n = N, offsets [0, end) everywhere, model = fit of the file.
    /// Ctrl-C is a stop, not a crash: the clean stop ("stopping: stopped by the client") begins within 5 s and no worker
    /// of the embedded cluster leaves before it (checked last, so the resume is checked either way).
    /// </summary>
    [Fact]
    public async Task Ctrl_C_is_a_clean_stop_and_the_same_command_resumes_from_the_checkpoint()
    {
        const int seed = 5601, d = 3, n = 60_000;
        var sample = MvnSample.Random(seed, d, n);
        var csv = sample.WriteCsv(_scope.PathOf("data.csv"), header: false);
        var topic = StreamingBrokerFixture.NewTopic("sigint");
        string ctx = $"{sample.Describe}, topic {topic}";

        // 3,000 rows/s: 20 s of production; the stream is stopped while the producer still runs.
        var producer = _scope.Start("produce", "produce", csv, "-b", broker.Bootstrap, "-t", topic, "--rate", "3000");
        await producer.WaitForLineAsync(OutputStream.Stderr, l => Regex.IsMatch(l, @"^produce:.*delivered [1-9]"), TimeSpan.FromSeconds(60),
            "the producer's first progress line with deliveries (the topic exists)");
        string[] args = ["stream", "-b", broker.Bootstrap, "-t", topic, "--dim", "3", "--until-idle", "3s", "--checkpoint", "file:" + _scope.PathOf("ck.bin"),
            "--tolerance", "1e-12", "--out", _scope.PathOf("model.json")];

        var first = _scope.Start("stream-1", args);
        var status = await first.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.RowsOf(l) >= 6000, StreamTimeout, "a status line with rows >= 6,000");
        Assert.False(producer.HasExited, $"the producer finished before the stream was interrupted ({ctx})");
        using (var kill = Process.Start("/bin/kill", ["-INT", first.Id.ToString(CultureInfo.InvariantCulture)])!)
        {
            await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(kill.ExitCode == 0, $"kill -INT {first.Id} failed");
        }
        var sinceSigint = Stopwatch.StartNew();
        output.WriteLine($"SIGINT after '{status}'");
        await first.WaitForLineAsync(OutputStream.Stderr, l => l.Contains("stopping: stopped by the client", StringComparison.Ordinal), TimeSpan.FromSeconds(60),
            "the note 'stopping: stopped by the client' after SIGINT");
        var stopNoticeAfter = sinceSigint.Elapsed;
        int code = await first.WaitForExitAsync(TimeSpan.FromSeconds(60));
        if (code != 0) throw first.Failure($"Ctrl-C must be a clean stop with exit code 0, got {code} ({ctx})");
        var finished = first.StdoutLines.Select(l => FinishedLine().Match(l)).FirstOrDefault(m => m.Success)
            ?? throw first.Failure($"no final summary 'stream finished (...): n = N rows' on stdout ({ctx})");
        long n1 = long.Parse(finished.Groups[2].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        var m1 = ModelFile.Load(_scope.PathOf("model.json"));
        var o1 = StreamModel.Offsets(m1);
        long v1 = StreamModel.Version(m1);
        output.WriteLine($"first run: {finished.Value}; model n = {m1.N}, version {v1}, offsets {StreamModel.Show(o1)}");
        Assert.True(m1.N == n1 && n1 >= 6000 && n1 < n, $"after Ctrl-C: summary n = {n1}, model n = {m1.N}; expected the same, >= 6,000 and < {n} ({ctx})\n{first.Describe()}");
        Assert.True(v1 > 0 && o1.Count > 0, $"the model written at Ctrl-C must have a version and offsets ({ctx}):\n{m1.Text}");
        Assert.True(o1.Values.Sum(o => o.Next - o.Start) == n1 && o1.Values.All(o => o.Start == 0),
            $"offsets {StreamModel.Show(o1)} must cover exactly the {n1} rows counted, from offset 0 ({ctx})");

        var second = _scope.Start("stream-2", args);
        var resumed = await second.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.ResumedRowsOf(l) >= 0, StreamTimeout,
            "'resumed from the checkpoint with N rows'");
        Assert.True(StreamOutput.ResumedRowsOf(resumed) == n1, $"the second run resumed with {StreamOutput.ResumedRowsOf(resumed)} rows, the first stopped at {n1} ({ctx})\n{second.Describe()}");
        int pcode = await producer.WaitForExitAsync(TimeSpan.FromSeconds(60));
        if (pcode != 0) throw producer.Failure($"the producer failed ({ctx})");
        code = await second.WaitForExitAsync(StreamTimeout);
        if (code != 0) throw second.Failure($"the resumed stream exited with {code}, expected 0 ({ctx})");

        var extents = await Kcat.PartitionExtentsAsync(broker.Bootstrap, topic);
        Assert.True(extents.Values.Sum(e => e.Count) == n, $"the topic holds {extents.Values.Sum(e => e.Count)} records, expected {n} ({ctx})");
        var m2 = ModelFile.Load(_scope.PathOf("model.json"));
        var o2 = StreamModel.Offsets(m2);
        Assert.True(m2.N == n, $"after the resumed run n = {m2.N}, expected {n}: every row once over both runs ({ctx})\n{second.Describe()}");
        foreach (var (p, e) in extents)
            Assert.True(o2.TryGetValue($"{topic}/{p}", out var o) && o.Start == 0 && o.Next == e.End,
                $"partition {p} holds [0, {e.End}), the final model covers {StreamModel.Show(o2)} ({ctx})");
        Assert.True(StreamModel.Version(m2) > v1, $"the resumed model's version {StreamModel.Version(m2)} should continue after {v1} ({ctx})");
        (await _scope.RunAsync(["fit", csv, "--tolerance", "1e-12", "--out", _scope.PathOf("fit.json")])).ExpectExit(0);
        var fit = ModelFile.Load(_scope.PathOf("fit.json"));
        Check.Relative(m2.Mu, fit.Mu, 1e-9, "mu (stopped and resumed stream vs fit)", ctx);
        Check.Relative(m2.Covariance, fit.Covariance, 1e-9, "covariance (stopped and resumed stream vs fit)", ctx);

        // Ctrl-C must stop the job promptly, not take the embedded workers down one by one first.
        var workersLeft = first.StderrLines.Where(l => l.Contains("note: worker", StringComparison.Ordinal) && l.Contains(" left", StringComparison.Ordinal)).ToList();
        output.WriteLine($"first run: 'stopping: stopped by the client' {stopNoticeAfter.TotalSeconds:F1} s after SIGINT; {workersLeft.Count} worker(s) left before the stop");
        if (stopNoticeAfter > TimeSpan.FromSeconds(5) || workersLeft.Count > 0)
            throw first.Failure($"Ctrl-C was not a prompt clean stop: 'stopping: stopped by the client' came {stopNoticeAfter.TotalSeconds:F1} s after SIGINT "
                + $"(expected <= 5 s), and {workersLeft.Count} worker(s) of the embedded cluster left before it:\n  {string.Join("\n  ", workersLeft)}\n"
                + $"the first run counted {n1:N0} rows; the status line at SIGINT was '{status}' ({ctx})");
    }
}
