using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MvnStream.Core.Fitting;
using MvnStream.Core.Numerics;
using MvnStream.Core.Solvers;

namespace MvnStream.Core.Model;

/// <summary>
/// The model file (README "Model file"): a JSON object with keys dimension, n, mu, lambda (row-major
/// array of arrays), covariance, parameterization (tril|full), solver, iterations, nllPerRow, gap
/// (J - J* per row), converged, stopReason, rejectedRows, createdUtc; streaming snapshots add offsets and version.
/// converged/stopReason say whether the solve that produced theta met its tolerance (Fitting.StopReasons).
/// numpy reads it with json.load and np.array.
/// </summary>
public sealed record MvnModel
{
    public required MvnParameters Theta { get; init; }
    public required long N { get; init; }
    public required string Solver { get; init; }
    public int Iterations { get; init; }
    public double NllPerRow { get; init; }
    public double Gap { get; init; }
    public long RejectedRows { get; init; }

    /// <summary>Why the solve that produced theta stopped; null when unknown (written as "stopReason": null, "converged": false).</summary>
    public StopReason? StopReason { get; init; }

    /// <summary>True when <see cref="StopReason"/> is a tolerance or the closed form (<see cref="StopReasons.IsConverged"/>).</summary>
    public bool Converged => StopReason is { } r && StopReasons.IsConverged(r);

    public DateTime CreatedUtc { get; init; } = DateTime.UtcNow;

    /// <summary>Streaming only: offsets covered per "topic/partition" as [start, next).</summary>
    public IReadOnlyDictionary<string, OffsetRange>? Offsets { get; init; }

    /// <summary>Streaming only: model version, increasing with every published snapshot.</summary>
    public long? Version { get; init; }

    public int Dimension => Theta.Dimension;

    public string ToJson(bool indented = true)
    {
        int d = Dimension;
        var cov = Theta.Covariance();
        var o = new JsonObject
        {
            ["dimension"] = d,
            ["n"] = N,
            ["mu"] = Vector(Theta.Mu),
            ["lambda"] = Matrix(Theta.Lambda, d),
            ["covariance"] = Matrix(cov, d),
            ["parameterization"] = Theta.Parameterization.ToName(),
            ["solver"] = Solver,
            ["iterations"] = Iterations,
            ["nllPerRow"] = Finite(NllPerRow),
            ["gap"] = Finite(Gap),
            ["converged"] = Converged,
            ["stopReason"] = StopReason is { } reason ? StopReasons.ToName(reason) : null,
            ["rejectedRows"] = RejectedRows,
            ["createdUtc"] = CreatedUtc.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
        };
        if (Offsets is not null)
        {
            var off = new JsonObject();
            foreach (var (k, v) in Offsets.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                off[k] = new JsonObject { ["start"] = v.Start, ["next"] = v.Next };
            o["offsets"] = off;
        }
        if (Version is { } ver) o["version"] = ver;
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = indented });
    }

    /// <summary>Writes the file atomically and durably (temporary file in the same directory, flushed to disk, renamed, directory synced).</summary>
    public void Save(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        IO.Durability.ReplaceFile(full, f =>
        {
            f.Write(System.Text.Encoding.UTF8.GetBytes(ToJson() + "\n"));
            return true;
        });
    }

    public static MvnModel Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"cannot read model file '{path}': {e.Message}", e);
        }
        return Parse(text, path);
    }

    public static MvnModel Parse(string json, string source = "model")
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not valid JSON ({e.Message})", e); }
        if (root is not JsonObject o) throw new InvalidDataException($"{source}: expected a JSON object");
        if (o["kind"] is JsonValue kindValue && kindValue.TryGetValue<string>(out var kind) && kind != "model")
            throw new InvalidDataException(kind == TruthFile.Kind
                ? $"{source} is a truth file (the true mu* and S* that 'generate --truth-out' or 'produce --truth-out' wrote), not a fitted model: fit one first, e.g. 'mvnstream fit DATA --out model.json'"
                : $"{source}: a file of kind '{kind}', not a model file");
        try
        {
            int d = Req(o, "dimension", source).GetValue<int>();
            if (d <= 0) throw new InvalidDataException($"{source}: dimension {d} must be positive");
            var mu = ReadVector(Req(o, "mu", source), d, "mu", source);
            var lambda = ReadMatrix(Req(o, "lambda", source), d, "lambda", source);
            var p = ParameterizationNames.Parse(Req(o, "parameterization", source).GetValue<string>());
            var theta = new MvnParameters(mu, lambda, p);
            var s = theta.Covariance();
            if (!Dense.TryCholesky(s, d, new double[d * d]))
                throw new InvalidDataException($"{source}: the covariance lambda lambda^T is not positive definite");
            Dictionary<string, OffsetRange>? offsets = null;
            if (o["offsets"] is JsonObject off)
            {
                offsets = [];
                foreach (var (k, v) in off)
                    offsets[k] = new OffsetRange(v!["start"]!.GetValue<long>(), v["next"]!.GetValue<long>());
            }
            return new MvnModel
            {
                Theta = theta,
                N = Req(o, "n", source).GetValue<long>(),
                Solver = o["solver"]?.GetValue<string>() ?? "unknown",
                Iterations = o["iterations"]?.GetValue<int>() ?? 0,
                NllPerRow = o["nllPerRow"]?.GetValue<double?>() ?? double.NaN,
                Gap = o["gap"]?.GetValue<double?>() ?? double.NaN,
                RejectedRows = o["rejectedRows"]?.GetValue<long>() ?? 0,
                StopReason = StopReasons.Parse(o["stopReason"]?.GetValue<string>()),
                CreatedUtc = o["createdUtc"] is { } c ? DateTime.Parse(c.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal) : default,
                Offsets = offsets,
                Version = o["version"]?.GetValue<long>(),
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }

    private static JsonNode Req(JsonObject o, string key, string source) =>
        o[key] ?? throw new InvalidDataException($"{source}: missing key '{key}'");

    private static JsonNode? Finite(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    private static JsonArray Vector(ReadOnlySpan<double> v)
    {
        var a = new JsonArray();
        foreach (var x in v) a.Add(x);
        return a;
    }

    private static JsonArray Matrix(double[] m, int d)
    {
        var a = new JsonArray();
        for (int i = 0; i < d; i++) a.Add(Vector(m.AsSpan(i * d, d)));
        return a;
    }

    private static double[] ReadVector(JsonNode node, int d, string name, string source)
    {
        if (node is not JsonArray a || a.Count != d) throw new InvalidDataException($"{source}: '{name}' must be an array of {d} numbers");
        var v = new double[d];
        for (int i = 0; i < d; i++)
        {
            v[i] = a[i]?.GetValue<double>() ?? throw new InvalidDataException($"{source}: {name}[{i}] is null");
            if (!double.IsFinite(v[i])) throw new InvalidDataException($"{source}: {name}[{i}] is not finite");
        }
        return v;
    }

    private static double[] ReadMatrix(JsonNode node, int d, string name, string source)
    {
        if (node is not JsonArray a || a.Count != d) throw new InvalidDataException($"{source}: '{name}' must be {d} rows of {d} numbers");
        var m = new double[d * d];
        for (int i = 0; i < d; i++) ReadVector(a[i]!, d, $"{name}[{i}]", source).CopyTo(m, i * d);
        return m;
    }
}

/// <summary>Offsets [Start, Next) of one partition covered by a model.</summary>
public readonly record struct OffsetRange(long Start, long Next);
