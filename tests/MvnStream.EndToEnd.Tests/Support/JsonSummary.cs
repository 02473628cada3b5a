using System.Text.Json;
using System.Text.Json.Nodes;

namespace MvnStream.EndToEnd.Tests.Support;

/// <summary>The --json contract: stdout is exactly one line holding one JSON object, and nothing else (progress and logs go to stderr).</summary>
public static class JsonSummary
{
    public static JsonObject Parse(IReadOnlyList<string> stdoutLines, string context, string description)
    {
        var nonEmpty = stdoutLines.Where(l => l.Length > 0).ToList();
        if (nonEmpty.Count != 1)
            throw new Xunit.Sdk.XunitException(
                $"--json: expected exactly one line (a JSON object) on stdout, got {nonEmpty.Count} ({context}):\n{string.Join('\n', nonEmpty)}\n{description}");
        try
        {
            return JsonNode.Parse(nonEmpty[0]) as JsonObject ?? throw new JsonException("not a JSON object");
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"--json: stdout is not one JSON object ({e.Message}) ({context}):\n{nonEmpty[0]}\n{description}");
        }
    }

    public static JsonObject Parse(CliResult run, string context) => Parse(run.StdoutLines, context, run.Description);

    public static JsonObject Parse(CliProcess p, string context) => Parse(p.StdoutLines, context, p.Describe());
}
