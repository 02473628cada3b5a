using MvnStream.Cluster.Protocol;
using MvnStream.Core.Formats;
using MvnStream.Core.Solvers;
using Xunit.Abstractions;

namespace MvnStream.Cluster.Tests.Fitting;

/// <summary>Bad input read by a worker reaches the client as a clear failure of the right kind, never as a hang or a NaN.</summary>
[Collection(FittingClusterCollection.Name)]
public sealed class BadDataTests(FittingClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private const int Seed = 5150, D = 4, N = 8000;

    /// <summary>1-based file line of the bad row: the header is line 1, data row a is line a + 2; past the middle of the file, so not in the first shard.</summary>
    private const int BadLine = 6001;

    private string WriteWithBadRow(string name) =>
        TestData.WriteCsv(fixture.Directory, name, D, N, 0.3, Seed, header: true, edit: a => a + 2 == BadLine ? "0.5,not-a-number,1,2" : null);

    [Theory]
    [InlineData(SummingMode.Statistics)]
    [InlineData(SummingMode.Gradients)]
    public async Task A_bad_row_in_a_later_shard_fails_the_job_as_bad_input_naming_file_and_line(SummingMode summing)
    {
        output.WriteLine($"seed {Seed}, d {D}, n {N}, bad line {BadLine}, {summing}");
        var path = WriteWithBadRow($"bad-row-{summing}.csv");
        var job = Jobs.Submit(path, Jobs.Settings(SolverKind.Lbfgs, summing, FittingClusterFixture.WorkerCount));
        var (outcome, _) = await Jobs.RunAsync(fixture.Cluster.Coordinator, job, Limit);
        var f = Jobs.Failed(outcome, $"seed {Seed}, {summing}");
        output.WriteLine(f.Message);
        Assert.Equal(JobErrorKind.BadInput, f.Kind);
        Assert.Contains($"{path}:{BadLine}:", f.Message, StringComparison.Ordinal);
        Assert.Contains("not-a-number", f.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_skip_the_bad_row_is_counted_as_rejected_and_every_other_row_is_fitted()
    {
        output.WriteLine($"seed {Seed}, d {D}, n {N}, bad line {BadLine}");
        var path = WriteWithBadRow("bad-row-skip.csv");
        var job = Jobs.Submit(path, Jobs.Settings(SolverKind.ClosedForm, SummingMode.Statistics, FittingClusterFixture.WorkerCount),
            Jobs.Csv with { OnBadRow = BadRowPolicy.Skip });
        var (outcome, _) = await Jobs.RunAsync(fixture.Cluster.Coordinator, job, Limit);
        var c = Jobs.Completed(outcome, $"seed {Seed}, skip");
        Assert.Equal(N - 1, c.N);
        Assert.Equal(1, c.RejectedRows);
        var rejection = Assert.Single(c.Rejections);
        Assert.Contains($"{path}:{BadLine}:", rejection, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(SummingMode.Statistics)]
    [InlineData(SummingMode.Gradients)]
    public async Task A_constant_column_fails_the_job_as_degenerate_naming_the_column(SummingMode summing)
    {
        output.WriteLine($"seed {Seed}, d {D}, n {N}, column 3 constant, {summing}");
        var path = TestData.WriteCsv(fixture.Directory, $"constant-{summing}.csv", D, N, 0.3, Seed, column: (_, j, x) => j == 2 ? 2.5 : x);
        var job = Jobs.Submit(path, Jobs.Settings(SolverKind.Lbfgs, summing, FittingClusterFixture.WorkerCount));
        var (outcome, events) = await Jobs.RunAsync(fixture.Cluster.Coordinator, job, Limit);
        var f = Jobs.Failed(outcome, $"seed {Seed}, {summing}");
        output.WriteLine(f.Message);
        Assert.Equal(JobErrorKind.Degenerate, f.Kind);
        Assert.Contains("column 3 is constant", f.Message, StringComparison.Ordinal);
        Assert.Empty(events.OfType<FitJobRoundProgress>()); // refused before the solver took a step
    }

    [Theory]
    [InlineData("")]
    [InlineData("x1,x2,x3\n")]
    public async Task A_file_without_data_rows_fails_the_job_naming_it_instead_of_hanging(string content)
    {
        // Probing d throws an exception the worker did not catch: it went back as a Status.Failure the coordinator
        // did not handle, and the job waited forever.
        var path = Path.Combine(fixture.Directory, $"no-rows-{content.Length}.csv");
        await File.WriteAllTextAsync(path, content);
        var (outcome, _) = await Jobs.RunAsync(fixture.Cluster.Coordinator, Jobs.Submit(path,
            Jobs.Settings(SolverKind.Lbfgs, SummingMode.Statistics, FittingClusterFixture.WorkerCount)), Limit);
        var f = Jobs.Failed(outcome, $"file with {content.Length} bytes and no data rows");
        output.WriteLine($"{f.Kind}: {f.Message}");
        Assert.Equal(JobErrorKind.BadInput, f.Kind);
        Assert.Contains(Path.GetFileName(path), f.Message, StringComparison.Ordinal);
        Assert.Contains("no valid data rows", f.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", 3, BadRowPolicy.Fail, 0)]
    [InlineData("x1,x2,x3\n", 3, BadRowPolicy.Fail, 0)]
    [InlineData("x1,x2,x3\n1,x,3\n4,5,y\n", 3, BadRowPolicy.Skip, 2)]
    [InlineData("x1,x2,x3\n1,x,3\n4,5,y\n", 0, BadRowPolicy.Skip, 2)]
    public async Task A_file_without_valid_rows_fails_as_bad_input_with_the_single_process_message(string content, int dimension, BadRowPolicy policy, int rejected)
    {
        // With d given, no worker probes the file: every shard counted nothing and the coordinator called it degenerate
        // data ("no rows were counted"); without d under skip the message had the worker's "cannot read" before it.
        var path = Path.Combine(fixture.Directory, $"no-valid-rows-{content.Length}-{dimension}-{policy}.csv");
        await File.WriteAllTextAsync(path, content);
        var (outcome, _) = await Jobs.RunAsync(fixture.Cluster.Coordinator, Jobs.Submit(path,
            Jobs.Settings(SolverKind.Lbfgs, SummingMode.Gradients, FittingClusterFixture.WorkerCount),
            new ReaderSettings(RowFormat.Csv, dimension, policy)), Limit);
        var f = Jobs.Failed(outcome, $"{content.Length} bytes, d = {dimension}, {policy}");
        output.WriteLine($"{f.Kind}: {f.Message}");
        Assert.Equal(JobErrorKind.BadInput, f.Kind);
        Assert.StartsWith(MvnStream.Core.Ingest.ShardAccumulator.NoDataRowsMessage(path, rejected), f.Message, StringComparison.Ordinal);
    }
}
