using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Actor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MvnStream.Core.Diagnostics;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace MvnStream.Cli.Http;

/// <summary>What a process serves: the coordinator's full set, or a worker node's metrics and health.</summary>
internal enum HttpRole
{
    /// <summary>'stream' and 'demo': ready needs a running stream job.</summary>
    StreamCoordinator,

    /// <summary>'node' with the coordinator role: ready needs a live worker (and a running job, if there is one).</summary>
    NodeCoordinator,

    /// <summary>A worker-only node: /metrics, /health/live, /health/ready (this node is an Up cluster member).</summary>
    Worker,
}

/// <summary>
/// Kestrel on one address, read-only endpoints (docs/ARCHITECTURE.md, "HTTP, metrics and dashboard"): the dashboard at /,
/// GET /model (the snapshot the model file holds, ETag = its version), /health/live and /health/ready (ASP.NET Core health
/// checks), /metrics (Prometheus text of the "MvnStream" meter, OpenTelemetry's exporter), and the dashboard's JSON
/// (/api/state, /api/rows). Nothing here changes the job, and nothing shows Kafka settings (they may hold secrets).
/// </summary>
internal sealed class HttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HttpServer(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>The bound address, e.g. http://127.0.0.1:9464/.</summary>
    public string Url { get; }

    /// <summary>Starts serving; a default address in use falls back to any free port (<paramref name="note"/> says so).</summary>
    /// <exception cref="UsageException">An address given with --http cannot be bound.</exception>
    public static async Task<HttpServer> StartAsync(HttpEndpointSpec spec, HttpRole role, ActorSystem system, Action<string> note)
    {
        MvnMetrics.EnsureCreated();
        try
        {
            return await StartAtAsync(spec, role, system);
        }
        catch (IOException e) when (!spec.Explicit && spec.Port != 0)
        {
            note($"HTTP port {spec.Port} is not available ({e.Message}); serving on a free port instead (choose one with --http)");
            return await StartAtAsync(spec with { Port = 0 }, role, system);
        }
        catch (IOException e)
        {
            throw new UsageException($"--http {Show(spec)}: cannot listen there: {e.Message}");
        }
    }

    private static string Show(HttpEndpointSpec spec) => spec.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
        ? $"[{spec.Address}]:{spec.Port}" : $"{spec.Address}:{spec.Port}";

    private static async Task<HttpServer> StartAtAsync(HttpEndpointSpec spec, HttpRole role, ActorSystem system)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.Sources.Clear(); // no appsettings.json or ASPNETCORE_* variables: --http alone decides
        // stdout belongs to the command's own lines: ASP.NET Core's errors (a failing request) go through the process's logging
        // on stderr (docs/ARCHITECTURE.md, "Logging"); its information and warnings (start-up, slow heartbeats under load) do not.
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new MvnStream.Cluster.Logging.ForwardingLoggerProvider());
        builder.Logging.SetMinimumLevel(LogLevel.Error);
        // A port in use is the command's to report (it falls back to a free port when --http was not given), not the host's.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        builder.Services.AddSingleton<IHostLifetime, CommandLifetime>(); // Ctrl-C and SIGTERM are the command's
        builder.WebHost.ConfigureKestrel(k => k.Listen(spec.Address, spec.Port));
        builder.Services.AddSingleton(system);
        builder.Services.AddSingleton(new ReadinessCheck(role, system));
        builder.Services.AddHealthChecks().AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
        // The "MvnStream" meter in Prometheus text (OpenTelemetry's exporter: counters as counters with _total, every scrape fresh).
        builder.Services.AddOpenTelemetry().ConfigureResource(r => r.AddService("mvnstream")).WithMetrics(m => m.AddMeter(MvnMetrics.MeterName)
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        var app = builder.Build();

        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteHealth });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = r => r.Tags.Contains("ready"), ResponseWriter = WriteHealth });
        app.MapPrometheusScrapingEndpoint("/metrics");
        if (role != HttpRole.Worker)
        {
            app.MapGet("/", () => Results.Content(Dashboard.Html, "text/html; charset=utf-8"));
            app.MapGet("/model", ServeModel);
            app.MapGet("/api/state", () => Results.Content(Dashboard.State().ToJsonString(), "application/json"));
            app.MapGet("/api/rows", (int? x, int? y) => Results.Content(Dashboard.Rows(x ?? 0, y ?? 1).ToJsonString(), "application/json"));
        }
        else
        {
            app.MapGet("/", () => Results.Text("mvnstream worker node: GET /metrics, /health/live, /health/ready\n"));
        }

        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? $"http://{Show(spec)}";
        return new HttpServer(app, bound.TrimEnd('/') + "/");
    }

    /// <summary>GET /model: the last snapshot, byte for byte the model file's text; 304 when If-None-Match names its version.</summary>
    private static IResult ServeModel(HttpContext http)
    {
        var board = StreamBoard.Current;
        if (board?.Model is not { } json)
        {
            string why = board is null ? "the stream coordinator does not run in this process (yet)"
                : board.JobId is null ? "no stream job has run on this coordinator"
                : "no model yet: the rows merged so far are too few for d, or the first solve has not finished";
            return Results.Json(new { error = why }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
        string etag = "\"" + board.ModelVersion.ToString(CultureInfo.InvariantCulture) + "\"";
        http.Response.Headers.ETag = etag;
        http.Response.Headers.CacheControl = "no-cache";
        foreach (var tag in http.Request.Headers.IfNoneMatch.SelectMany(v => (v ?? "").Split(',')))
        {
            var t = tag.Trim();
            if (t.StartsWith("W/", StringComparison.Ordinal)) t = t[2..];
            if (t == etag || t == "*") return Results.StatusCode(StatusCodes.Status304NotModified);
        }
        return Results.Text(json + "\n", "application/json", System.Text.Encoding.UTF8);
    }

    private static Task WriteHealth(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json; charset=utf-8";
        var o = new JsonObject { ["status"] = report.Status.ToString() };
        foreach (var (name, entry) in report.Entries)
        {
            o["description"] = entry.Description;
            var data = new JsonObject();
            foreach (var (k, v) in entry.Data) data[k] = v as JsonNode ?? JsonSerializer.SerializeToNode(v);
            o[name] = data;
        }
        return http.Response.WriteAsync(o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try { await _app.StopAsync(timeout.Token); }
        catch (OperationCanceledException) { }
        await _app.DisposeAsync();
    }

    /// <summary>The host's lifetime without signal handling: the command owns Ctrl-C and SIGTERM and stops the server itself.</summary>
    private sealed class CommandLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
