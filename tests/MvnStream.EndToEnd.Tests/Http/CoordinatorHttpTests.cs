using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Streaming;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Http;

/// <summary>
/// The HTTP endpoint of a running <c>stream</c> (embedded cluster, development broker; real OS processes): /model against the
/// model file, /metrics as strictly parsed Prometheus text against the rows produced, ETag/304, readiness, no secrets, and
/// the dashboard in Debian's headless chromium.
/// </summary>
[Collection(StreamInteropCollection.Name)]
public sealed partial class CoordinatorHttpTests(StreamingBrokerFixture broker, ITestOutputHelper output) : IClassFixture<StreamingBrokerFixture>, IDisposable
{
    private const string Secret = "Pa55-http-endpoint-secret";
    private readonly TestScope _scope = new(output, "coordinator-http");

    public void Dispose() => _scope.Dispose();

    /// <summary>Starts <c>stream</c> with --http on a free port and a SASL password that must never be shown; returns it and its address.</summary>
    private async Task<(CliProcess Stream, Uri Url, string Model)> StartStreamAsync(string topic)
    {
        var model = _scope.PathOf(topic + "-model.json");
        var stream = _scope.Start("stream-" + topic, "stream", "-b", broker.Bootstrap, "-t", topic, "--dim", "3", "--workers", "2", "--out", model,
            "--checkpoint", "none", "--snapshot-interval", "500ms", "--http", "127.0.0.1:0", "-X", "sasl.password=" + Secret);
        var url = await HttpSupport.WaitForUrlAsync(stream, OutputStream.Stderr);
        await stream.WaitForLineAsync(OutputStream.Stderr, l => l.StartsWith("job running", StringComparison.Ordinal), HttpSupport.Patience, "'job running'");
        return (stream, url, model);
    }

    private async Task ProduceAsync(string topic, int rows)
    {
        (await _scope.RunAsync(["produce", "-b", broker.Bootstrap, "-t", topic, "--synthetic", "--dim", "3", "--rows", rows.ToString(CultureInfo.InvariantCulture),
            "--rate", "0", "--seed", "7"], HttpSupport.Patience, "produce-" + topic)).ExpectExit(0);
    }

    private static long N(string modelJson) => JsonNode.Parse(modelJson)!["n"]!.GetValue<long>();

    private static long Version(string modelJson) => JsonNode.Parse(modelJson)!["version"]!.GetValue<long>();

    /// <summary>
    /// Before any row /model is 503 with a JSON error; after N rows it is the model file's content (both parsed, equal as JSON,
    /// same version) with ETag "version", 304 for If-None-Match of that tag and 200 for another; /metrics parses strictly and
    /// counts exactly N accepted rows and records; /health/ready is 200 naming both workers; no endpoint shows the SASL password.
    /// </summary>
    [Fact]
    public async Task Model_equals_the_model_file_metrics_count_the_rows_produced_and_the_ETag_gives_304()
    {
        const int rows = 3000;
        var topic = StreamingBrokerFixture.NewTopic("http-model");
        var (stream, url, modelPath) = await StartStreamAsync(topic);

        var (early, earlyBody, r0) = await HttpSupport.GetAsync(url, "model");
        r0.Dispose();
        Assert.True(early == HttpStatusCode.ServiceUnavailable, $"/model before the first row: {(int)early} {earlyBody}");
        Assert.False(string.IsNullOrEmpty(JsonNode.Parse(earlyBody)?["error"]?.GetValue<string>()), "/model before the first model must say why in JSON: " + earlyBody);

        await ProduceAsync(topic, rows);
        await HttpSupport.PollAsync(url, "model", (s, b) => s == HttpStatusCode.OK && N(b) == rows, $"/model with n = {rows}", stream);

        // The file and the endpoint hold the same snapshot once their versions agree (the file is written first).
        string body = "", file = "";
        await HttpSupport.PollAsync(url, "model", (s, b) =>
        {
            body = b;
            file = File.Exists(modelPath) ? File.ReadAllText(modelPath) : "";
            return s == HttpStatusCode.OK && file.Length > 0 && Version(b) == Version(file);
        }, "/model and the model file at the same version", stream);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(body), JsonNode.Parse(file)), $"/model differs from the model file at version {Version(body)}:\n{body}\n---\n{file}");
        Assert.Equal(rows, N(body));

        var (ok, okBody, response) = await HttpSupport.GetAsync(url, "model");
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, ok);
            Assert.StartsWith("application/json", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
            string etag = response.Headers.ETag?.ToString() ?? throw stream.Failure("/model has no ETag header");
            Assert.Equal($"\"{Version(okBody)}\"", etag);
            var (notModified, nmBody, r304) = await HttpSupport.GetAsync(url, "model", etag);
            r304.Dispose();
            Assert.True(notModified == HttpStatusCode.NotModified && nmBody.Length == 0, $"If-None-Match {etag}: {(int)notModified} '{nmBody}'");
            var (other, _, r200) = await HttpSupport.GetAsync(url, "model", $"\"{Version(okBody) + 1000}\"");
            r200.Dispose();
            Assert.Equal(HttpStatusCode.OK, other);
        }

        // Lag per partition comes from the workers' status messages (one a second): wait for the first to have arrived.
        await HttpSupport.PollAsync(url, "metrics", (s, b) => s == HttpStatusCode.OK && b.Contains("mvnstream_consumer_lag{", StringComparison.Ordinal),
            "/metrics with a lag per partition", stream);
        var (ms, metricsText, mr) = await HttpSupport.GetAsync(url, "metrics");
        mr.Dispose();
        Assert.Equal(HttpStatusCode.OK, ms);
        Dictionary<string, PrometheusFamily> metrics;
        try { metrics = PrometheusText.Parse(metricsText); }
        catch (FormatException e) { throw stream.Failure($"/metrics is not valid Prometheus text: {e.Message}\n{metricsText}"); }
        Assert.Equal("counter", metrics["mvnstream_rows_accepted_total"].Type);
        Assert.Equal(rows, PrometheusText.Single(metrics, "mvnstream_rows_accepted_total"));
        Assert.Equal(rows, PrometheusText.Single(metrics, "mvnstream_records_accepted_total"));
        Assert.Equal(0, PrometheusText.Single(metrics, "mvnstream_records_rejected_total"));
        Assert.Equal(rows, PrometheusText.Single(metrics, "mvnstream_model_rows"));
        Assert.Equal(2, PrometheusText.Single(metrics, "mvnstream_cluster_workers"));
        Assert.True(PrometheusText.Single(metrics, "mvnstream_model_min_eigenvalue") > 0, "the smallest eigenvalue of a fitted S is positive");
        Assert.True(PrometheusText.Single(metrics, "mvnstream_model_condition_number") >= 1, "a condition number is at least 1");
        Assert.True(metrics["mvnstream_consumer_lag"].Samples.Select(s => s.Labels["partition"]).Distinct().Count() >= 1, "lag per partition\n" + metricsText);
        // Unread time per partition: the same partitions as the lag, each a finite non-negative number of seconds.
        var unread = metrics["mvnstream_consumer_unread_seconds"].Samples;
        Assert.Equal(metrics["mvnstream_consumer_lag"].Samples.Select(s => s.Labels["partition"]).Order(), unread.Select(s => s.Labels["partition"]).Order());
        Assert.All(unread, s => Assert.True(s.Value >= 0 && double.IsFinite(s.Value), $"unread seconds {s.Value}"));
        string[] documented = ["mvnstream_rows_per_second", "mvnstream_model_version", "mvnstream_model_nll_per_row", "mvnstream_model_gap",
            "mvnstream_model_gradient_norm", "mvnstream_model_converged", "mvnstream_checkpoint_age_seconds", "mvnstream_checkpoint_duration_seconds"];
        // --checkpoint none saves nothing: no checkpoint age or duration is the truth here.
        var missing = documented.Where(n => !metrics.ContainsKey(n) && !n.StartsWith("mvnstream_checkpoint", StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, $"missing metrics {string.Join(", ", missing)}\n{metricsText}");

        var (rs, ready) = await HttpSupport.PollAsync(url, "health/ready", (s, _) => s == HttpStatusCode.OK, "/health/ready 200", stream);
        var readyJson = JsonNode.Parse(ready)!;
        Assert.Equal(2, readyJson["ready"]!["workers"]!.AsArray().Count(w => w!["live"]!.GetValue<bool>()));
        Assert.Equal(3, readyJson["ready"]!["members"]!.AsArray().Count);
        Assert.True(readyJson["ready"]!["converged"]!.GetValue<bool>(), ready);
        var (ls, _, lr) = await HttpSupport.GetAsync(url, "health/live");
        lr.Dispose();
        Assert.Equal(HttpStatusCode.OK, ls);

        foreach (var path in new[] { "", "model", "metrics", "health/live", "health/ready", "api/state", "api/rows?x=0&y=1" })
        {
            var (_, text, rx) = await HttpSupport.GetAsync(url, path);
            rx.Dispose();
            Assert.False(text.Contains(Secret, StringComparison.Ordinal), $"GET /{path} shows the SASL password");
        }
        Assert.Equal(HttpStatusCode.OK, rs);
    }

    [GeneratedRegex("id=\"model-version\">(\\d+)<")]
    private static partial Regex DomVersion();

    [GeneratedRegex("id=\"model-n\">(\\d+)<")]
    private static partial Regex DomN();

    /// <summary>
    /// Debian's chromium loads the dashboard of a running stream: the rendered DOM (its script ran, --virtual-time-budget) shows
    /// the model version and n that /model has; a 1200x900 screenshot is a PNG of that size. Fails when chromium is missing.
    /// </summary>
    [Fact]
    public async Task Dashboard_in_headless_chromium_shows_the_version_and_n_of_the_model_endpoint()
    {
        const int rows = 2000;
        var topic = StreamingBrokerFixture.NewTopic("http-dash");
        var (stream, url, _) = await StartStreamAsync(topic);
        await ProduceAsync(topic, rows);
        await HttpSupport.PollAsync(url, "model", (s, b) => s == HttpStatusCode.OK && N(b) == rows, $"/model with n = {rows}", stream);

        var (page, html, pr) = await HttpSupport.GetAsync(url, "");
        pr.Dispose();
        Assert.Equal(HttpStatusCode.OK, page);
        Assert.False(Regex.IsMatch(html, @"<script[^>]+src=|<link[^>]+href=""?https?:|https?://(?!www\.w3\.org/2000/svg)", RegexOptions.IgnoreCase),
            "the dashboard must be self-contained (no external script, style or address)");

        string profile = _scope.PathOf("chromium-profile");
        // The page shows what it last polled; the model may still move on right after the last merge, so compare the DOM
        // with /model read just after it, and dump again if a new version came in between.
        string? mismatch = null;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            string dom = await Chromium.RunAsync(profile, url, "--dump-dom", "--virtual-time-budget=5000");
            var (_, modelBody, mr) = await HttpSupport.GetAsync(url, "model");
            mr.Dispose();
            var v = DomVersion().Match(dom);
            var n = DomN().Match(dom);
            if (!v.Success || !n.Success) throw stream.Failure($"the rendered dashboard has no model version or n (element ids model-version, model-n):\n{dom}");
            if (long.Parse(v.Groups[1].Value, CultureInfo.InvariantCulture) == Version(modelBody))
            {
                Assert.Equal(N(modelBody), long.Parse(n.Groups[1].Value, CultureInfo.InvariantCulture));
                mismatch = null;
                break;
            }
            mismatch = $"the page shows version {v.Groups[1].Value}, /model has {Version(modelBody)}";
        }
        Assert.True(mismatch is null, mismatch);

        string shot = _scope.PathOf("dashboard.png");
        await Chromium.RunAsync(profile, url, $"--screenshot={shot}", "--window-size=1200,900", "--virtual-time-budget=5000", "--hide-scrollbars");
        var png = File.ReadAllBytes(shot);
        byte[] signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        Assert.True(png.Length > 33 && png.AsSpan(0, 8).SequenceEqual(signature) && png.AsSpan(12, 4).SequenceEqual("IHDR"u8), "not a PNG file");
        int width = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4));
        int height = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20, 4));
        Assert.True(width == 1200 && height == 900, $"screenshot is {width}x{height}, asked for 1200x900");
        output.WriteLine($"screenshot {png.Length} bytes, {width}x{height}");
    }
}
