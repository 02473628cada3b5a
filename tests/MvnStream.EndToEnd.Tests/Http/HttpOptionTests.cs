using System.Net;
using System.Net.Sockets;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Http;

/// <summary><c>--http</c>: a malformed value or an address that cannot be bound is a usage error (exit 2) naming the flag.</summary>
public sealed class HttpOptionTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "http-option");

    public void Dispose() => _scope.Dispose();

    [Theory]
    [InlineData("banana")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("example.org:80")]
    public async Task A_malformed_http_address_is_exit_2_naming_the_flag(string value)
    {
        var run = (await _scope.RunAsync("stream", "-t", "rows", "--http", value)).ExpectExit(2);
        Assert.Contains($"--http '{value}'", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
    }

    /// <summary>A port taken by another listener, given explicitly, is refused (exit 2) instead of silently moving elsewhere.</summary>
    [Fact]
    public async Task An_explicit_http_port_in_use_is_exit_2_naming_the_flag()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var run = (await _scope.RunAsync("node", "--role", "coordinator", "--port", "0", "--http", $"127.0.0.1:{port}")).ExpectExit(2);
        Assert.Contains($"--http 127.0.0.1:{port}: cannot listen there", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
    }
}
