using System.CommandLine;
using System.Globalization;
using System.Net;

namespace MvnStream.Cli.Http;

/// <summary>
/// Where a node serves HTTP (<c>--http ADDRESS:PORT</c> or <c>off</c>; docs/ARCHITECTURE.md, "HTTP, metrics and dashboard").
/// </summary>
/// <param name="Explicit">Given by the user: a port in use is then an error (exit 2); a default one falls back to any free port.</param>
internal sealed record HttpEndpointSpec(IPAddress Address, int Port, bool Explicit)
{
    /// <summary>The default of processes that run the coordinator ('stream', 'demo', 'node --role coordinator').</summary>
    public const string CoordinatorDefault = "127.0.0.1:9464";

    /// <summary>The default of worker-only nodes: any free port on loopback (the address is printed).</summary>
    public const string WorkerDefault = "127.0.0.1:0";

    public static Option<string?> Option() => new("--http")
    {
        Description = $"HTTP endpoint of this process (dashboard /, /model, /metrics, /health/live, /health/ready): ADDRESS:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:9464 (port 0: any free port), or off. Default {CoordinatorDefault} where the coordinator runs (any free port when that one is taken), {WorkerDefault} on worker-only nodes.",
        HelpName = "ADDRESS:PORT|off",
    };

    /// <summary>Null for "off"; a usage error naming --http for anything malformed.</summary>
    /// <exception cref="UsageException"></exception>
    public static HttpEndpointSpec? Parse(string? given, string fallback)
    {
        string text = (given ?? fallback).Trim();
        if (text.Equals("off", StringComparison.OrdinalIgnoreCase)) return null;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
            throw new UsageException($"--http '{text}': expected ADDRESS:PORT (e.g. 127.0.0.1:9464, 0.0.0.0:9464) or off");
        string host = text[..colon].Trim('[', ']');
        if (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            throw new UsageException($"--http '{text}': the port must be a number from 0 to 65535");
        IPAddress? address = host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
            : host == "*" ? IPAddress.Any
            : IPAddress.TryParse(host, out var a) ? a : null;
        if (address is null)
            throw new UsageException($"--http '{text}': '{host}' is not an IP address (use 127.0.0.1 for this machine only, 0.0.0.0 for every interface)");
        return new HttpEndpointSpec(address, port, given is not null);
    }
}
