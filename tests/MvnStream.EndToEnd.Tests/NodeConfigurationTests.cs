using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>Test 8: invalid node configurations exit 2 with a clear message.</summary>
public sealed class NodeConfigurationTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "node-config");

    public void Dispose() => _scope.Dispose();

    [Fact]
    public async Task A_worker_without_a_seed_exits_2_and_says_it_needs_one()
    {
        var run = (await _scope.RunAsync("node", "--role", "worker")).ExpectExit(2);
        Check.Contains("needs a seed node", run.Stderr, "stderr");
        Check.Contains("--seed-node", run.Stderr, "stderr names the option");
        Assert.DoesNotContain("node up", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_role_exits_2_and_names_it()
    {
        var run = (await _scope.RunAsync("node", "--role", "master")).ExpectExit(2);
        Check.Contains("unknown role 'master'", run.Stderr, "stderr");
        Check.Contains("coordinator", run.Stderr, "stderr lists the known roles");
    }

    [Fact]
    public async Task A_seed_that_is_not_an_address_exits_2()
    {
        var run = (await _scope.RunAsync("node", "--role", "worker", "--seed-node", "localhost:4053")).ExpectExit(2);
        Check.Contains("seed 'localhost:4053' is not an address", run.Stderr, "stderr");
    }

    [Fact]
    public async Task A_second_coordinator_on_a_port_in_use_exits_2_and_says_already_in_use()
    {
        var first = _scope.Start("coordinator-1", "node", "--role", "coordinator", "--port", "0");
        var address = await NodeCluster.WaitForNodeUpAsync(first, "coordinator");
        int port = NodeCluster.PortOf(address);

        var run = (await _scope.RunAsync(["node", "--role", "coordinator", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            name: "coordinator-2")).ExpectExit(2);
        Check.Contains("already in use", run.Stderr, "stderr of the second coordinator");
        Check.Contains($"{port}", run.Stderr, "stderr names the port");
        Assert.False(first.HasExited, "the first coordinator must keep running\n" + first.Describe());
    }
}
