using System.Globalization;
using System.Net;
using System.Net.Sockets;
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
using MvnStream.Cluster.Hosting;
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
/// Kestrel runs in the node's own host (docs/ARCHITECTURE.md, "Hosting"): <see cref="Hosting"/> builds that host as an
/// ASP.NET Core <see cref="WebApplication"/> with the node's ActorSystem in it, so one lifetime starts and stops both.
/// </summary>
internal static class HttpServer
{
    /// <summary>
    /// A <see cref="NodeHostFactory"/> for a node that serves HTTP: <paramref name="choose"/> gives, from the node's roles, where
    /// and as what it serves (null: no HTTP, the plain node host). A default address in use falls back to any free port
    /// (<paramref name="note"/> says so).
    /// </summary>
    /// <exception cref="UsageException">An address given with --http cannot be bound (thrown when the node starts).</exception>
    public static NodeHostFactory Hosting(Func<IReadOnlyList<string>, (HttpEndpointSpec Spec, HttpRole Role)?> choose, Action<string> note) =>
        (ownsProcess, roles, addNode) =>
        {
            if (choose(roles) is not { } chosen) return NodeHost.Build(ownsProcess, roles, addNode);
            MvnMetrics.EnsureCreated();
            // The listening socket is ours, bound here and handed to Kestrel: no other process can take the port between a check
            // and Kestrel's bind (two commands starting at once on the default port). Closed when the host has stopped.
            var listen = Listen(chosen.Spec, note);
            var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
            NodeHost.ApplyDefaults(builder, ownsProcess);
            addNode(builder);
            // stdout belongs to the command's own lines: ASP.NET Core's errors (a failing request) go through the process's logging
            // on stderr (docs/ARCHITECTURE.md, "Logging"); its information and warnings (start-up, slow heartbeats under load) do not.
            builder.Services.AddSingleton(HttpLogging.Value);
            builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.ListenHandle((ulong)listen.Handle.ToInt64()));
            builder.Services.AddSingleton(new HttpListenSocket(listen));
            builder.Services.AddRoutingCore();
            builder.Services.AddSingleton(sp => new ReadinessCheck(chosen.Role, sp.GetRequiredService<ActorSystem>()));
            builder.Services.AddHealthChecks().AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
            // The "MvnStream" meter in Prometheus text (OpenTelemetry's exporter: counters as counters with _total, every scrape fresh).
            builder.Services.AddOpenTelemetry().ConfigureResource(r => r.AddService("mvnstream")).WithMetrics(m => m.AddMeter(MvnMetrics.MeterName)
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
            var app = builder.Build();
            app.Lifetime.ApplicationStopped.Register(listen.Dispose);
            Map(app, chosen.Role);
            return app;
        };

    /// <summary>The address <paramref name="host"/> serves HTTP at, e.g. http://127.0.0.1:9464/; null when it serves none.</summary>
    public static string? Url(IHost? host) =>
        host?.Services.GetService<HttpListenSocket>()?.EndPoint is { } bound ? $"http://{Show(bound.Address, bound.Port)}/" : null;

    /// <summary>The socket Kestrel listens on (see <see cref="Hosting"/>), and where it is bound.</summary>
    private sealed class HttpListenSocket(Socket socket) : IDisposable
    {
        public IPEndPoint EndPoint { get; } = (IPEndPoint)socket.LocalEndPoint!;

        public void Dispose() => socket.Dispose();
    }

    /// <summary>
    /// ASP.NET Core's own log: errors only, and nothing from Microsoft.Extensions.Hosting or the host's lifetime (a port in use is
    /// the command's to report; the address is printed once, by the command, as "http: serving at ..."),
    /// written by the process's logging (<see cref="MvnStream.Cluster.Logging.ForwardingLoggerProvider"/>).
    /// </summary>
    private static readonly Lazy<ILoggerFactory> HttpLogging = new(() => LoggerFactory.Create(b => b
        .AddProvider(new MvnStream.Cluster.Logging.ForwardingLoggerProvider())
        .SetMinimumLevel(LogLevel.Trace)
        .AddFilter("Microsoft.AspNetCore", LogLevel.Error)
        .AddFilter("Microsoft.Extensions.Hosting", LogLevel.None)
        .AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning)));

    /// <summary>
    /// A socket listening at <paramref name="spec"/>; a default address in use: at any free port of it, with a note.
    /// Bound before the node's host is built, so that a refused --http stops nothing but this command.
    /// </summary>
    /// <exception cref="UsageException">An address given with --http cannot be bound.</exception>
    private static Socket Listen(HttpEndpointSpec spec, Action<string> note)
    {
        try
        {
            return Bound(spec.Address, spec.Port);
        }
        catch (SocketException e) when (!spec.Explicit && spec.Port != 0)
        {
            note($"HTTP port {spec.Port} is not available ({e.Message}); serving on a free port instead (choose one with --http)");
            try { return Bound(spec.Address, 0); }
            catch (SocketException again) { throw new UsageException($"HTTP at {Show(spec)}: cannot listen there: {again.Message} (choose an address with --http, or --http off)"); }
        }
        catch (SocketException e)
        {
            throw new UsageException($"--http {Show(spec)}: cannot listen there: {e.Message}");
        }
    }

    private static Socket Bound(IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(512);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static string Show(HttpEndpointSpec spec) => Show(spec.Address, spec.Port);

    private static string Show(IPAddress address, int port) => address.AddressFamily == AddressFamily.InterNetworkV6
        ? $"[{address}]:{port}" : $"{address}:{port}";

    private static void Map(WebApplication app, HttpRole role)
    {
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
}
