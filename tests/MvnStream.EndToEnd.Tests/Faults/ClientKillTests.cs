using MvnStream.EndToEnd.Tests.Streaming;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Faults;

/// <summary>
/// The <c>stream --cluster</c> client SIGKILLed: the coordinator notices (remote death watch), stops the job cleanly
/// (drain, final solve, final checkpoint), and the same command run again resumes from the checkpoint.
/// </summary>
[Collection(FaultSuiteCollection.Name)]
public sealed class ClientKillTests(FaultSuiteFixture suite, ITestOutputHelper output) : IDisposable
{
    private const int N = FaultSuiteFixture.N;
    private readonly TestScope _scope = new(output, "faults-client-kill");

    public void Dispose() => _scope.Dispose();

    /// <summary>
    /// Scenario 4: the client is SIGKILLed at ~30 % of the input while rows still arrive (2,000 rows/s); once the coordinator
    /// has ended that job, the same command is run again: it resumes from the file checkpoint ("resumed from the checkpoint
    /// with R rows", R at least what the first run had counted) and reads on. That second client is SIGKILLed as soon as it says the job is stopping
    /// (all N rows counted: the drain, the final solve and the final checkpoint are under way). A third run resumes with every row and
    /// finishes: exit 0, n = N exactly, the model of the fault-free run.
    /// </summary>
    [Fact]
    public async Task A_client_SIGKILLed_mid_run_and_again_during_the_final_stop_is_rerun_and_every_row_counts_once()
    {
        await suite.PrepareAsync(3);
        var topic = StreamingBrokerFixture.NewTopic("client");
        var model = _scope.PathOf("model.json");
        var checkpoint = _scope.PathOf("ck.bin");
        var first = await suite.StartPrimedStreamAsync(_scope, topic, model, checkpoint, "stream1");
        // 2,000 rows/s: the rest takes 27 s, so rows still arrive after the coordinator has noticed the kill (its remote
        // death watch takes ~10 s) and the second run has rows of its own to read.
        var producer = suite.StartRest(_scope, topic, 2000);
        var status = await FaultSuiteFixture.WaitForRowsAsync(first, N * 3 / 10, "the client's kill");
        first.KillAndWait(TimeSpan.FromSeconds(10));
        output.WriteLine($"SIGKILLed the first client at '{status.Trim()}'");
        await suite.WaitForCoordinatorIdleAsync();

        var second = _scope.Start("stream2", suite.StreamArgs(topic, model, checkpoint, FaultSuiteFixture.AllRows));
        var resumed = await second.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.ResumedRowsOf(l) >= 0, FaultSuiteFixture.NodeTimeout,
            "'resumed from the checkpoint with R rows'");
        long r2 = StreamOutput.ResumedRowsOf(resumed);
        Assert.True(r2 >= StreamOutput.RowsOf(status) && r2 <= N,
            $"the second run resumed with {r2:N0} rows; expected at least the {StreamOutput.RowsOf(status):N0} counted before the kill, at most {N:N0}\n{second.Describe()}");
        var stopping = await second.WaitForLineAsync(OutputStream.Stderr, l => l.Contains("note: stopping:", StringComparison.Ordinal), FaultSuiteFixture.FinishTimeout,
            "the note 'stopping: ...' (the final drain, solve and checkpoint begin)");
        second.KillAndWait(TimeSpan.FromSeconds(10));
        // The stop takes a few hundred milliseconds; the kill follows the note within milliseconds. Should the job have
        // finished first anyway (a summary on stdout), the third run still must count every row once: it is said, not failed.
        bool finishedFirst = second.StdoutLines.Any(l => l.TrimStart().StartsWith('{'));
        output.WriteLine($"second run: '{resumed.Trim()}'; SIGKILLed at '{stopping.Trim()}'"
            + (finishedFirst ? " (NOTE: the job had finished before the kill landed)" : " (before the job finished: no summary was printed)"));
        Assert.True(await producer.WaitForExitAsync(TimeSpan.FromSeconds(120)) == 0, producer.Describe());
        await suite.WaitForCoordinatorIdleAsync();

        var third = _scope.Start("stream3", suite.StreamArgs(topic, model, checkpoint));
        await suite.ExpectEveryRowOnceAsync(third, topic, model, $"client SIGKILLed at {StreamOutput.RowsOf(status):N0} rows and again during the final stop", output);
        var resumed3 = third.StderrLines.FirstOrDefault(l => StreamOutput.ResumedRowsOf(l) >= 0);
        Assert.True(resumed3 is not null && StreamOutput.ResumedRowsOf(resumed3) >= r2,
            $"the third run should resume from the checkpoint with at least the second run's {r2:N0} rows: '{resumed3}'\n{third.Describe()}");
        output.WriteLine($"third run: '{resumed3!.Trim()}'");
    }
}
