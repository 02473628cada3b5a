using System.Text.Json.Nodes;

namespace MvnStream.EndToEnd.Tests.Support;

/// <summary>The model file written by <c>mvnstream fit</c>, read with System.Text.Json only (not with the product's reader).</summary>
public sealed class ModelFile
{
    public required string Path { get; init; }
    public required string Text { get; init; }
    public required JsonObject Json { get; init; }
    public required int Dimension { get; init; }
    public required long N { get; init; }
    public required double[] Mu { get; init; }
    public required double[] Lambda { get; init; }
    public required double[] Covariance { get; init; }
    public required string Parameterization { get; init; }
    public required string Solver { get; init; }
    public double? Gap { get; init; }
    public double? NllPerRow { get; init; }
    public long RejectedRows { get; init; }

    public IReadOnlyList<string> Keys => Json.Select(kv => kv.Key).ToList();

    public static ModelFile Load(string path)
    {
        if (!File.Exists(path)) throw new CliProcessException($"model file {path} was not written");
        var text = File.ReadAllText(path);
        var o = JsonNode.Parse(text) as JsonObject ?? throw new CliProcessException($"{path} is not a JSON object:\n{text}");
        int d = o["dimension"]!.GetValue<int>();
        return new ModelFile
        {
            Path = path,
            Text = text,
            Json = o,
            Dimension = d,
            N = o["n"]!.GetValue<long>(),
            Mu = Vector(o["mu"], d, "mu", path),
            Lambda = Matrix(o["lambda"], d, "lambda", path),
            Covariance = Matrix(o["covariance"], d, "covariance", path),
            Parameterization = o["parameterization"]!.GetValue<string>(),
            Solver = o["solver"]!.GetValue<string>(),
            Gap = o["gap"]?.GetValue<double>(),
            NllPerRow = o["nllPerRow"]?.GetValue<double>(),
            RejectedRows = o["rejectedRows"]?.GetValue<long>() ?? -1,
        };
    }

    private static double[] Vector(JsonNode? node, int d, string name, string path)
    {
        if (node is not JsonArray a || a.Count != d) throw new CliProcessException($"{path}: '{name}' is not an array of {d} numbers");
        return a.Select(x => x!.GetValue<double>()).ToArray();
    }

    private static double[] Matrix(JsonNode? node, int d, string name, string path)
    {
        if (node is not JsonArray a || a.Count != d) throw new CliProcessException($"{path}: '{name}' is not an array of {d} rows");
        return a.SelectMany(r => Vector(r, d, name, path)).ToArray();
    }
}
