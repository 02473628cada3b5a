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
    public async Task Broker_prints_its_bootstrap_first_serves_produce_and_stops_when_stdin_closes()
    {
        var psi = Processes.Mvnstream("broker");
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
                "--rows", "200", "--seed", "4", "--format", "json", "--rows-per-record", "3", "--json"), ProcessTimeout);
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
