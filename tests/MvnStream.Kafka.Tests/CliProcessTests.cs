using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MvnStream.Core.Formats;
using MvnStream.Kafka.Producing;
using MvnStream.Kafka.Tests.Support;

namespace MvnStream.Kafka.Tests;

/// <summary>The real executable: <c>mvnstream broker</c> and <c>mvnstream produce</c> as processes.</summary>
[Collection("broker")]
public sealed class CliProcessTests(BrokerFixture fixture)
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Broker_prints_its_bootstrap_first_serves_produce_and_stops_when_stdin_closes_if_asked_to()
    {
        var psi = Processes.Mvnstream("broker", "--exit-on-stdin-close");
        psi.UseShellExecute = false;
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.StandardOutputEncoding = new UTF8Encoding(false);
        psi.StandardErrorEncoding = new UTF8Encoding(false);
        using var broker = Process.Start(psi)!;
        var stderr = new StringBuilder();
        broker.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        broker.BeginErrorReadLine();
        try
        {
            string? first = await broker.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotNull(first);
            Assert.StartsWith("bootstrap=", first);
            string bootstrap = first["bootstrap=".Length..];
            Assert.Matches(@"^127\.0\.0\.1:\d+$", bootstrap);

            string topic = Topics.New("cli");
            var produce = Processes.Run(Processes.Mvnstream("produce", "--bootstrap", bootstrap, "--topic", topic, "--synthetic", "--dim", "3",
                "--rows", "200", "--seed", "4", "--encoding", "json", "--rows-per-record", "3", "--json"), ProcessTimeout);
            Assert.True(produce.ExitCode == 0, produce.ToString());
            using (var json = JsonDocument.Parse(produce.Stdout))
            {
                var root = json.RootElement;
                Assert.Equal(200, root.GetProperty("rows").GetInt64());
                Assert.Equal(67, root.GetProperty("records").GetInt64());
                Assert.Equal(67, root.GetProperty("delivered").GetInt64());
                Assert.Equal(0, root.GetProperty("failed").GetInt64());
                Assert.Equal(4, root.GetProperty("partitions").GetInt32());
            }
            var back = TopicReader.ReadAll(bootstrap, topic, 67, TimeSpan.FromSeconds(30));
            Rows.AssertBitIdentical(new SyntheticSource(3, 4).NextRows(200), Rows.Decode(back.Select(r => r.Value), RowFormat.Json, 3), 3);

            broker.StandardInput.Close();
            await broker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, broker.ExitCode);
            string err;
            lock (stderr) err = stderr.ToString();
            Assert.Contains("development broker (librdkafka mock cluster): in memory, not durable, keeps only the last 5 MB / 100,000 message sets per partition", err);
            Assert.Contains("stdin closed", err);
            Assert.Equal("", (await broker.StandardOutput.ReadToEndAsync()).Trim());
        }
        finally
        {
            if (!broker.HasExited) broker.Kill(entireProcessTree: true);
        }
    }

    /// <summary>
    /// 'mvnstream broker &amp;' in a script gets /dev/null as stdin: the broker must keep serving (it used to stop at once
    /// on the end of stdin), answer a Confluent client's metadata request 3 s later, and end with exit 0 on SIGTERM.
    /// </summary>
    [Fact]
    public async Task Broker_with_stdin_from_dev_null_keeps_serving_until_SIGTERM_and_exits_0()
    {
        // exec: the shell becomes the broker, so the pid signalled below is the broker's.
        var psi = Processes.Command("/bin/sh", "-c", "exec \"$0\" \"$1\" broker < /dev/null", Processes.DotnetHost, Processes.MvnstreamDll);
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var broker = Process.Start(psi)!;
        var stderr = new StringBuilder();
        broker.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        broker.BeginErrorReadLine();
        string Err() { lock (stderr) return stderr.ToString(); }
        try
        {
            string? first = await broker.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(first is not null && first.StartsWith("bootstrap=", StringComparison.Ordinal), $"first stdout line '{first}'\n{Err()}");
            string bootstrap = first["bootstrap=".Length..];

            // What is asserted is that it is still up after a while, so this wait is the test, not a guess at a condition.
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.False(broker.HasExited, $"the broker exited ({(broker.HasExited ? broker.ExitCode : 0)}) with stdin from /dev/null:\n{Err()}");
            using (var admin = new Confluent.Kafka.AdminClientBuilder(new Confluent.Kafka.AdminClientConfig { BootstrapServers = bootstrap }).Build())
            {
                var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
                Assert.NotEmpty(metadata.Brokers);
            }

            using (var kill = Process.Start("kill", ["-TERM", broker.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
            await broker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(broker.ExitCode == 0, $"exit {broker.ExitCode} after SIGTERM:\n{Err()}");
            Assert.DoesNotContain("stdin closed", Err());
        }
        finally
        {
            if (!broker.HasExited) broker.Kill(entireProcessTree: true);
        }
    }

    [Theory]
    [InlineData("missing --rows", "--synthetic --dim 3", "--synthetic needs the number of rows")]
    [InlineData("csv blocks", "--synthetic --dim 3 --rows 5 --rows-per-record 2", "a csv record holds exactly one row")]
    [InlineData("malformed property", "--synthetic --dim 3 --rows 5 -X linger", "--kafka-property #1: expected key=value, got 'linger'")]
    [InlineData("file and synthetic", "data.csv --synthetic --dim 3 --rows 5", "either a data file")]
    [InlineData("nothing to send", "", "nothing to send")]
    public void Produce_usage_errors_exit_2_with_a_message(string what, string args, string message)
    {
        var argv = new List<string> { "produce", "--bootstrap", fixture.Bootstrap, "--topic", "usage" };
        argv.AddRange(args.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var r = Processes.Run(Processes.Mvnstream([.. argv]), ProcessTimeout);
        Assert.True(r.ExitCode == 2, what + ": " + r);
        Assert.Contains(message, r.Stderr);
    }

    [Fact]
    public void Produce_to_an_unreachable_broker_exits_1_within_the_connect_timeout()
    {
        var r = Processes.Run(Processes.Mvnstream("produce", "--bootstrap", "127.0.0.1:9", "--topic", "t", "--synthetic", "--dim", "2", "--rows", "5",
            "--connect-timeout", "2", "-X", "sasl.password=hunter2"), ProcessTimeout);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("cannot reach Kafka at 127.0.0.1:9", r.Stderr);
        Assert.Contains("sasl.password=****", r.Stderr);
        Assert.DoesNotContain("hunter2", r.Stderr + r.Stdout);
    }

    [Fact]
    public async Task Produce_stops_on_sigint_after_flushing_and_exits_130()
    {
        string topic = Topics.New("sigint");
        var psi = Processes.Mvnstream("produce", "--bootstrap", fixture.Bootstrap, "--topic", topic, "--synthetic", "--dim", "2", "--rows", "0",
            "--rate", "1000", "--json");
        psi.UseShellExecute = false;
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var p = Process.Start(psi)!;
        try
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var firstProgress = Task.Run(() =>
            {
                string? line;
                while ((line = p.StandardError.ReadLine()) is not null)
                    if (line.StartsWith("produce:", StringComparison.Ordinal)) return true;
                return false;
            });
            Assert.True(await firstProgress.WaitAsync(TimeSpan.FromSeconds(30)), "stderr closed before a progress line");
            using (var kill = Process.Start("kill", ["-INT", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(40));
            Assert.Equal(130, p.ExitCode);
            using var json = JsonDocument.Parse(await stdout);
            long records = json.RootElement.GetProperty("records").GetInt64();
            Assert.True(json.RootElement.GetProperty("cancelled").GetBoolean());
            Assert.True(records > 0);
            Assert.Equal(records, json.RootElement.GetProperty("delivered").GetInt64());
            Assert.Equal(records, TopicReader.ReadAll(fixture.Bootstrap, topic, (int)records, TimeSpan.FromSeconds(30)).Count);
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
    }
}
