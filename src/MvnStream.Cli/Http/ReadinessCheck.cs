using System.Text.Json.Nodes;
using Akka.Actor;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MvnStream.Core.Diagnostics;

namespace MvnStream.Cli.Http;

/// <summary>
/// GET /health/ready (docs/ARCHITECTURE.md, "HTTP, metrics and dashboard"). A coordinator is ready when at least one stream
/// worker is registered and live and, for 'stream' and 'demo' (and for 'node' while a job runs), the stream job is running and
/// not stopping; a worker node when it is an Up member of the cluster. The body always carries the cluster's members and
/// roles, the workers with their partitions and lag, the consumer lag, the age of the last checkpoint and whether the
/// model converged, so a 503 says why.
/// </summary>
internal sealed class ReadinessCheck(HttpRole role, ActorSystem system) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>();
        var members = new JsonArray();
        string? selfStatus = null;
        try
        {
            var cluster = Akka.Cluster.Cluster.Get(system);
            selfStatus = cluster.SelfMember.Status.ToString();
            foreach (var m in cluster.State.Members)
                members.Add(new JsonObject { ["address"] = m.Address.ToString(), ["roles"] = new JsonArray([.. m.Roles.Select(r => JsonValue.Create(r))]), ["status"] = m.Status.ToString() });
            foreach (var m in cluster.State.Unreachable)
                members.Add(new JsonObject { ["address"] = m.Address.ToString(), ["roles"] = new JsonArray([.. m.Roles.Select(r => JsonValue.Create(r))]), ["status"] = m.Status.ToString(), ["unreachable"] = true });
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("the cluster node is shutting down", data: data));
        }
        data["role"] = role == HttpRole.Worker ? "worker" : "coordinator";
        data["self"] = selfStatus ?? "";
        data["members"] = members;
        if (role == HttpRole.Worker)
        {
            return Task.FromResult(selfStatus == "Up"
                ? HealthCheckResult.Healthy("this worker node is an Up member of the cluster", data)
                : HealthCheckResult.Unhealthy($"this worker node is {selfStatus}, not Up", data: data));
        }

        var board = StreamBoard.Current;
        if (board is null)
            return Task.FromResult(HealthCheckResult.Unhealthy("the stream coordinator does not run in this process (yet)", data: data));
        int live = board.Workers.Count(w => w.Live);
        data["workers"] = new JsonArray([.. board.Workers.Select(w => (JsonNode)new JsonObject
        {
            ["id"] = w.Id,
            ["live"] = w.Live,
            ["partitions"] = new JsonArray([.. w.Partitions.Select(p => JsonValue.Create(p))]),
            ["lag"] = new JsonArray([.. w.Lag.Select(l => JsonValue.Create(l))]),
            ["unreadSeconds"] = new JsonArray([.. (w.UnreadMilliseconds ?? []).Select(u => JsonValue.Create(u / 1000.0))]),
            ["atEnd"] = w.AtEnd,
            ["error"] = w.Error,
        })]);
        data["consumerLag"] = board.Workers.Where(w => w.Live).Sum(w => w.Lag.Sum());
        data["maxUnreadSeconds"] = board.Workers.Where(w => w.Live).Select(w => w.UnreadMilliseconds is { Length: > 0 } u ? u.Max() : 0).DefaultIfEmpty(0).Max() / 1000.0;
        data["job"] = board.JobId is null ? "" : board.JobId;
        data["running"] = board.Active && board.Running;
        data["stopping"] = board.Active && board.Stopping;
        data["checkpointAgeSeconds"] = board.LastCheckpointUtc is { } t ? Math.Round((DateTime.UtcNow - t).TotalSeconds, 3) : -1;
        data["modelVersion"] = board.Model is null ? 0 : board.ModelVersion;
        data["n"] = board.Rows;
        data["converged"] = board.Model is not null && board.Converged;

        string? problem = live == 0
            ? (board.Workers.Count == 0 ? "no stream worker is registered" : "every registered stream worker is unreachable")
            : role == HttpRole.StreamCoordinator && !board.Active ? "the stream job is not running"
            : board.Active && !board.Running ? "the stream job is starting (restoring its checkpoint)"
            : board.Active && board.Stopping ? "the stream job is stopping"
            : null;
        return Task.FromResult(problem is null
            ? HealthCheckResult.Healthy($"{live} live worker(s){(board.Active ? ", stream job running" : ", no stream job")}", data)
            : HealthCheckResult.Unhealthy(problem, data: data));
    }
}
