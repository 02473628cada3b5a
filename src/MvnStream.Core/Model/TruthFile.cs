using System.Text.Json;
using System.Text.Json.Nodes;

namespace MvnStream.Core.Model;

/// <summary>
/// The true distribution N(mu*, S*) of seeded synthetic rows, written by <c>generate --truth-out</c> and
/// <c>produce --truth-out</c> to compare a fit against: <c>{"kind": "truth", "dimension", "seed", "rows", "mu", "covariance"}</c>.
/// It is deliberately not shaped like a model file (no n, lambda, parameterization or solver), and
/// <see cref="MvnModel.Parse"/> refuses it by its kind, so it cannot be mistaken for a fitted model.
/// </summary>
public static class TruthFile
{
    /// <summary>The value of the "kind" key of a truth file.</summary>
    public const string Kind = "truth";

    public static string ToJson(MvnParameters truth, long seed, long rows)
    {
        int d = truth.Dimension;
        var cov = truth.Covariance();
        var covariance = new JsonArray();
        for (int i = 0; i < d; i++) covariance.Add(new JsonArray(cov.AsSpan(i * d, d).ToArray().Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()));
        var o = new JsonObject
        {
            ["kind"] = Kind,
            ["description"] = "the true mu* and S* of the synthetic rows (not a fitted model)",
            ["dimension"] = d,
            ["seed"] = seed,
            ["rows"] = rows,
            ["mu"] = new JsonArray(truth.Mu.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()),
            ["covariance"] = covariance,
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Writes the file atomically and durably, as the model file is written.</summary>
    public static void Save(string path, MvnParameters truth, long seed, long rows)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        IO.Durability.ReplaceFile(full, f =>
        {
            f.Write(System.Text.Encoding.UTF8.GetBytes(ToJson(truth, seed, rows) + "\n"));
            return true;
        });
    }
}
