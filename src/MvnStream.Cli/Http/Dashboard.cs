using System.Text.Json.Nodes;
using MvnStream.Core.Diagnostics;

namespace MvnStream.Cli.Http;

/// <summary>
/// The live dashboard (GET /): one self-contained page, an embedded resource (Http/dashboard.html: inline script and SVG,
/// nothing fetched from elsewhere), that polls /api/state and /api/rows every second.
/// docs/ARCHITECTURE.md, "HTTP, metrics and dashboard".
/// </summary>
internal static class Dashboard
{
    private static readonly Lazy<string> Page = new(() =>
    {
        using var s = typeof(Dashboard).Assembly.GetManifestResourceStream("MvnStream.Cli.Http.dashboard.html")
            ?? throw new InvalidOperationException("the dashboard page is missing from the executable's resources");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    });

    public static string Html => Page.Value;

    private static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    /// <summary>GET /api/state: the board (no Kafka settings), the history of rows/s and the gap, and the model's mu and S.</summary>
    public static JsonObject State()
    {
        var b = StreamBoard.Current;
        if (b is null) return new JsonObject { ["coordinator"] = false };
        var lag = new JsonArray();
        foreach (var w in b.Workers.Where(w => w.Live))
            for (int i = 0; i < w.Partitions.Length; i++)
                lag.Add(new JsonObject
                {
                    ["partition"] = w.Partitions[i], ["lag"] = i < w.Lag.Length ? w.Lag[i] : 0, ["worker"] = w.Id,
                    ["unreadSeconds"] = w.UnreadMilliseconds is { } u && i < u.Length ? u[i] / 1000.0 : 0.0,
                });
        var history = new JsonArray();
        foreach (var h in StreamBoard.History)
            history.Add(new JsonObject { ["t"] = h.Seconds, ["rows"] = h.Rows, ["rate"] = h.RowsPerSecond, ["gap"] = Number(h.GapPerRow), ["version"] = h.Version });
        return new JsonObject
        {
            ["coordinator"] = true,
            ["job"] = b.JobId,
            ["topic"] = b.Topic,
            ["running"] = b.Active && b.Running,
            ["stopping"] = b.Active && b.Stopping,
            ["dimension"] = b.Dimension,
            ["rows"] = b.Rows,
            ["rowsPerSecond"] = Number(b.RowsPerSecond),
            ["acceptedRecords"] = b.AcceptedRecords,
            ["rejectedRecords"] = b.RejectedRecords,
            ["lostRecords"] = b.LostRecords,
            ["workers"] = b.Workers.Count(w => w.Live),
            ["lag"] = lag,
            ["history"] = history,
            ["model"] = b.Model is null ? null : new JsonObject
            {
                ["version"] = b.ModelVersion,
                ["n"] = ModelN(b.Model),
                ["mu"] = new JsonArray([.. b.Mu!.Select(v => JsonValue.Create(v))]),
                ["covariance"] = new JsonArray([.. b.Covariance!.Select(v => JsonValue.Create(v))]),
                ["gap"] = Number(b.GapPerRow),
                ["nllPerRow"] = Number(b.NllPerRow),
                ["converged"] = b.Converged,
            },
        };
    }

    /// <summary>n as the snapshot says it (the board's Rows moves on between snapshots).</summary>
    private static long ModelN(string json) => JsonNode.Parse(json)?["n"]?.GetValue<long>() ?? 0;

    /// <summary>GET /api/rows?x=I&amp;y=J: columns I and J of the recent rows sampled in this process.</summary>
    public static JsonObject Rows(int x, int y)
    {
        var points = RecentRows.Columns(x, y);
        return new JsonObject
        {
            ["dimension"] = RecentRows.Dimension,
            ["x"] = new JsonArray([.. points.Select(p => JsonValue.Create(p.X))]),
            ["y"] = new JsonArray([.. points.Select(p => JsonValue.Create(p.Y))]),
        };
    }
}
