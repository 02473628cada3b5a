using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace MvnStream.EndToEnd.Tests.Http;

/// <summary>One sample line of a Prometheus text exposition: name, labels, value.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>A metric family: its TYPE, HELP and samples.</summary>
public sealed record PrometheusFamily(string Name, string Type, string? Help, List<PrometheusSample> Samples);

/// <summary>
/// A strict parser of the Prometheus text format 0.0.4 (written for the tests, independent of any exporter): every line is a
/// HELP, a TYPE, a comment or a sample; names and label names are valid; label values are quoted with only \\, \" and \n
/// escapes; values are floats, NaN or +-Inf; a family's TYPE comes once and before its samples; every sample belongs to the
/// family declared last (histograms: _bucket with le, _sum, _count; buckets cumulative and +Inf equal to _count). Any
/// violation throws <see cref="FormatException"/> naming the line.
/// </summary>
public static partial class PrometheusText
{
    [GeneratedRegex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();

    private static readonly HashSet<string> Types = ["counter", "gauge", "histogram", "summary", "untyped"];

    public static Dictionary<string, PrometheusFamily> Parse(string text)
    {
        var families = new Dictionary<string, PrometheusFamily>(StringComparer.Ordinal);
        var help = new Dictionary<string, string>(StringComparer.Ordinal);
        PrometheusFamily? current = null;
        var lines = text.Split('\n');
        if (text.Length > 0 && !text.EndsWith('\n')) throw new FormatException("the exposition does not end with a line feed");
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n];
            string where = $"line {n + 1} '{line}'";
            if (line.Length == 0) continue;
            if (line.Contains('\r', StringComparison.Ordinal)) throw new FormatException($"{where}: carriage return");
            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4);
                if (parts.Length >= 3 && parts[1] == "HELP")
                {
                    if (!MetricName().IsMatch(parts[2])) throw new FormatException($"{where}: invalid metric name in HELP");
                    if (!help.TryAdd(parts[2], parts.Length == 4 ? parts[3] : "")) throw new FormatException($"{where}: second HELP for {parts[2]}");
                    if (families.TryGetValue(parts[2], out var f)) families[parts[2]] = f with { Help = help[parts[2]] };
                }
                else if (parts.Length >= 3 && parts[1] == "TYPE")
                {
                    if (parts.Length != 4 || !Types.Contains(parts[3])) throw new FormatException($"{where}: TYPE needs a name and one of {string.Join(", ", Types)}");
                    if (!MetricName().IsMatch(parts[2])) throw new FormatException($"{where}: invalid metric name in TYPE");
                    if (families.ContainsKey(parts[2])) throw new FormatException($"{where}: second TYPE for {parts[2]}");
                    current = new PrometheusFamily(parts[2], parts[3], help.GetValueOrDefault(parts[2]), []);
                    families[parts[2]] = current;
                }
                continue; // any other comment
            }
            var sample = ParseSample(line, where);
            if (current is null || !Belongs(sample.Name, current)) throw new FormatException($"{where}: sample of no declared family (last TYPE: {current?.Name ?? "none"})");
            current.Samples.Add(sample);
        }
        foreach (var f in families.Values.Where(f => f.Type == "histogram")) CheckHistogram(f);
        return families;
    }

    private static bool Belongs(string name, PrometheusFamily f) => f.Type switch
    {
        "histogram" => name == f.Name + "_bucket" || name == f.Name + "_sum" || name == f.Name + "_count",
        "summary" => name == f.Name || name == f.Name + "_sum" || name == f.Name + "_count",
        _ => name == f.Name,
    };

    private static void CheckHistogram(PrometheusFamily f)
    {
        foreach (var series in f.Samples.GroupBy(s => string.Join(",", s.Labels.Where(kv => kv.Key != "le").OrderBy(kv => kv.Key).Select(kv => kv.Key + "=" + kv.Value))))
        {
            var buckets = series.Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal)).ToList();
            if (buckets.Any(b => !b.Labels.ContainsKey("le"))) throw new FormatException($"{f.Name}: a bucket without le");
            double previousBound = double.NegativeInfinity, previousCount = 0;
            foreach (var b in buckets)
            {
                double bound = ParseValue(b.Labels["le"], $"{f.Name} le");
                if (bound <= previousBound) throw new FormatException($"{f.Name}: bucket bounds not increasing at le={b.Labels["le"]}");
                if (b.Value < previousCount) throw new FormatException($"{f.Name}: bucket counts not cumulative at le={b.Labels["le"]}");
                previousBound = bound;
                previousCount = b.Value;
            }
            var count = series.SingleOrDefault(s => s.Name == f.Name + "_count") ?? throw new FormatException($"{f.Name}: no _count");
            if (series.All(s => s.Name != f.Name + "_sum")) throw new FormatException($"{f.Name}: no _sum");
            if (buckets.Count == 0 || !double.IsPositiveInfinity(previousBound) || previousCount != count.Value)
                throw new FormatException($"{f.Name}: the +Inf bucket must be last and equal _count ({count.Value})");
        }
    }

    private static PrometheusSample ParseSample(string line, string where)
    {
        int i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ') i++;
        string name = line[..i];
        if (!MetricName().IsMatch(name)) throw new FormatException($"{where}: invalid metric name '{name}'");
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i >= line.Length) throw new FormatException($"{where}: unterminated label set");
                if (line[i] == '}') { i++; break; }
                int eq = line.IndexOf('=', i);
                if (eq < 0) throw new FormatException($"{where}: label without '='");
                string label = line[i..eq];
                if (!LabelName().IsMatch(label)) throw new FormatException($"{where}: invalid label name '{label}'");
                i = eq + 1;
                if (i >= line.Length || line[i] != '"') throw new FormatException($"{where}: label value of {label} is not quoted");
                i++;
                var value = new StringBuilder();
                while (true)
                {
                    if (i >= line.Length) throw new FormatException($"{where}: unterminated label value of {label}");
                    char c = line[i++];
                    if (c == '"') break;
                    if (c == '\\')
                    {
                        if (i >= line.Length) throw new FormatException($"{where}: dangling escape");
                        char e = line[i++];
                        value.Append(e switch { '\\' => '\\', '"' => '"', 'n' => '\n', _ => throw new FormatException($"{where}: invalid escape \\{e}") });
                    }
                    else value.Append(c);
                }
                if (!labels.TryAdd(label, value.ToString())) throw new FormatException($"{where}: label {label} twice");
                if (i < line.Length && line[i] == ',') i++;
                else if (i >= line.Length || line[i] != '}') throw new FormatException($"{where}: expected ',' or '}}' after label {label}");
            }
        }
        if (i >= line.Length || line[i] != ' ') throw new FormatException($"{where}: expected one space before the value");
        var rest = line[(i + 1)..].Split(' ');
        if (rest.Length is < 1 or > 2 || rest[0].Length == 0) throw new FormatException($"{where}: expected 'VALUE [TIMESTAMP]'");
        double v = ParseValue(rest[0], where);
        if (rest.Length == 2 && !long.TryParse(rest[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            throw new FormatException($"{where}: invalid timestamp '{rest[1]}'");
        return new PrometheusSample(name, labels, v);
    }

    private static double ParseValue(string s, string where) => s switch
    {
        "NaN" => double.NaN,
        "+Inf" or "Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        _ => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw new FormatException($"{where}: '{s}' is not a number"),
    };

    /// <summary>The one sample of a family without extra labels beyond the exporter's scope labels; fails when absent.</summary>
    public static double Single(Dictionary<string, PrometheusFamily> families, string name)
    {
        if (!families.TryGetValue(name, out var f)) throw new FormatException($"no metric family {name}; families: {string.Join(", ", families.Keys.Order())}");
        if (f.Samples.Count != 1) throw new FormatException($"{name}: expected one sample, found {f.Samples.Count}");
        return f.Samples[0].Value;
    }
}
