using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary>
/// <c>mvnstream stream</c> (embedded cluster: one OS process with a coordinator and 3 worker ActorSystems) against the
/// development broker (<c>mvnstream broker</c>, its own process), fed and read back by Debian's kcat: a CSV file sent
/// by kcat fits exactly like <c>mvnstream fit</c> of the file; every kind of bad record lands once in the dead-letter
/// topic with its reason and source coordinates; score records are one per accepted row and self-consistent.
/// </summary>
[Collection(StreamInteropCollection.Name)]
public sealed partial class StreamInteropTests(StreamingBrokerFixture broker, ITestOutputHelper output) : IClassFixture<StreamingBrokerFixture>, IDisposable
{
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(150);
    private readonly TestScope _scope = new(output, "stream-interop");

    public void Dispose() => _scope.Dispose();

    /// <summary>One dead letter as kcat prints it with the format <see cref="DlqFormat"/>.</summary>
    private sealed record DeadLetter(string Key, string Reason, string SourceTopic, int SourcePartition, long SourceOffset, string Value, string Line);

    private const string DlqFormat = "%k\t%h\t%s\\n";

    [GeneratedRegex(@"^mvnstream\.reason=(.*),mvnstream\.source\.topic=([^,]*),mvnstream\.source\.partition=(\d+),mvnstream\.source\.offset=(\d+)$")]
    private static partial Regex DlqHeaders();

    private static DeadLetter ParseDeadLetter(string line)
    {
        var f = line.Split('\t');
        if (f.Length != 3) throw new CliProcessException($"dead letter '{line}' is not KEY<tab>HEADERS<tab>VALUE");
        var m = DlqHeaders().Match(f[1]);
        if (!m.Success)
            throw new CliProcessException($"dead letter headers '{f[1]}' are not mvnstream.reason, mvnstream.source.topic/partition/offset (in this order)");
        return new DeadLetter(f[0], m.Groups[1].Value, m.Groups[2].Value, int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture),
            long.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture), f[2], line);
    }

    private Task<CliResult> StreamAsync(string topic, params string[] more) =>
        _scope.RunAsync(["stream", "-b", broker.Bootstrap, "-t", topic, "--until-idle", "3s", "--checkpoint", "none", "--json", "--tolerance", "1e-12", .. more],
            StreamTimeout, "stream-" + topic);

    /// <summary>
    /// The issue's test: a CSV file with a header, sent by kcat (one record per line), streamed on the embedded cluster,
    /// gives the model of <c>mvnstream fit FILE</c>; the header is the one rejected record.
    /// </summary>
    [Fact]
    public async Task A_csv_file_sent_by_kcat_streams_to_the_model_of_fit_on_the_file()
    {
        const int seed = 5101, d = 4, n = 20_000;
        var sample = MvnSample.Random(seed, d, n);
        var csv = sample.WriteCsv(_scope.PathOf("data.csv"), header: true);
        var topic = StreamingBrokerFixture.NewTopic("kcat");
        string ctx = $"{sample.Describe}, topic {topic}";

        await Kcat.ProduceFileAsync(broker.Bootstrap, topic, csv);
        var extents = await Kcat.PartitionExtentsAsync(broker.Bootstrap, topic);
        long records = extents.Values.Sum(e => e.Count);
        Assert.True(records == n + 1, $"kcat -P -l put {records} records in the topic, expected {n + 1} lines ({ctx})");

        var fitTask = _scope.RunAsync(["fit", csv, "--tolerance", "1e-12", "--out", _scope.PathOf("fit.json")]);
        var run = (await StreamAsync(topic, "--out", _scope.PathOf("stream.json"))).ExpectExit(0);
        (await fitTask).ExpectExit(0);

        var summary = StreamOutput.JsonSummary(run);
        long accepted = StreamOutput.Long(summary, "acceptedRecords"), rejected = StreamOutput.Long(summary, "rejectedRecords");
        Assert.True(StreamOutput.Long(summary, "n") == n && accepted == n && rejected == 1 && StreamOutput.Long(summary, "lostRecords") == 0,
            $"expected n = accepted = {n}, rejected = 1 (the header), lost = 0 ({ctx}):\n{summary.ToJsonString()}\n{run.Description}");
        Assert.True(accepted + rejected == records, $"accepted + rejected = {accepted + rejected}, records in the topic {records} ({ctx})");

        var m = ModelFile.Load(_scope.PathOf("stream.json"));
        var fit = ModelFile.Load(_scope.PathOf("fit.json"));
        Assert.True(m.N == n && fit.N == n, $"model n = {m.N}, fit n = {fit.N}, expected {n} ({ctx})");
        // Both runs stop L-BFGS at |grad J/n| <= 1e-12 on the same statistics: 1e-9 relative (Frobenius) is a real check.
        Check.Relative(m.Mu, fit.Mu, 1e-9, "mu (stream vs fit)", ctx);
        Check.Relative(m.Covariance, fit.Covariance, 1e-9, "covariance (stream vs fit)", ctx);
        var (mean, cov) = sample.SampleMoments();
        Check.Relative(m.Mu, mean, 1e-9, "mu (stream vs closed form)", ctx);
        Check.Relative(m.Covariance, cov, 1e-9, "covariance (stream vs closed form M/n)", ctx);

        // The model covers every partition from its first offset to its end, exactly.
        var offsets = StreamModel.Offsets(m);
        foreach (var (p, e) in extents)
            Assert.True(offsets.TryGetValue($"{topic}/{p}", out var o) && o.Start == 0 && o.Next == e.End,
                $"partition {p}: topic holds [0, {e.End}), model offsets {StreamModel.Show(offsets)} ({ctx})");
        Assert.True(offsets.Values.Sum(o => o.Next - o.Start) == records, $"offsets {StreamModel.Show(offsets)} do not add up to {records} records ({ctx})");

        // The header is in the dead-letter topic (default TOPIC.dlq) once, with its reason and coordinates.
        string header = string.Join(',', Enumerable.Range(1, d).Select(i => "x" + i.ToString(CultureInfo.InvariantCulture)));
        var headerAt = (await Kcat.ConsumeAsync(broker.Bootstrap, topic, "%p %o %s\\n")).Where(l => l.EndsWith(" " + header, StringComparison.Ordinal)).ToList();
        Assert.True(headerAt.Count == 1, $"the header line should be one record of the topic, found {headerAt.Count}");
        var at = headerAt[0].Split(' ');
        var dlq = (await Kcat.ConsumeAsync(broker.Bootstrap, topic + ".dlq", DlqFormat)).Select(ParseDeadLetter).ToList();
        Assert.True(dlq.Count == 1, $"expected exactly the header in {topic}.dlq, found {dlq.Count}:\n{string.Join('\n', dlq.Select(x => x.Line))}");
        var h = dlq[0];
        Assert.True(h.Value == header && h.Reason.Contains("header", StringComparison.OrdinalIgnoreCase) && h.SourceTopic == topic
                && h.SourcePartition.ToString(CultureInfo.InvariantCulture) == at[0] && h.SourceOffset.ToString(CultureInfo.InvariantCulture) == at[1],
            $"dead letter '{h.Line}': expected value '{header}', a reason naming the header, source {topic}/{at[0]}@{at[1]} ({ctx})");
    }

    private sealed record BadRecord(string Key, string Value, int Partition, string[] ReasonMustContain, string? ReasonMustNotContain = null);

    /// <summary>
    /// Bad records of every kind, between good rows, on three partitions (sent by kcat with keys, so each is known in the
    /// dead-letter topic): each lands there exactly once with a reason naming its problem and its source
    /// topic/partition/offset; the good rows are fitted exactly as <c>fit</c> fits them; accepted + rejected = records.
    /// A json-format topic with its own bad records is streamed at the same time.
    /// </summary>
    [Fact]
    public async Task Every_kind_of_bad_record_lands_once_in_the_dead_letter_topic_with_its_reason_and_coordinates()
    {
        const int seed = 5201, d = 3, n = 3000;
        var sample = MvnSample.Random(seed, d, n);
        var topic = StreamingBrokerFixture.NewTopic("dlq");
        var jsonTopic = StreamingBrokerFixture.NewTopic("dlqj");
        string ctx = $"{sample.Describe}, topics {topic}, {jsonTopic}";

        var bad = new List<BadRecord>
        {
            new("short", "1.5,2.5", 0, ["expected 3 values, found 2"]),
            new("long", "1,2,3,4", 0, ["expected 3 values, found 4"]),
            new("non-numeric", "1.0,abc,3.0", 0, ["value 2 'abc' is not a number"]),
            new("nan", "1.0,NaN,3.0", 0, ["value 2 is NaN"]),
            new("minus-infinity", "-Infinity,2,3", 0, ["value 1 is -Infinity"]),
            new("overflow", "1e999,2,3", 0, ["value 1", "out of range"]),
            new("json-in-csv", "[1.0,2.0,3.0]", 0, ["not a number"]),
            new("blank", "   ", 0, ["empty"]),
            new("empty-value", "", 0, ["empty"]),
            new("header-again", "x1,x2,x3", 0, ["header"]),
            // Its reason is checked by Numbers_with_the_wrong_separator_are_rejected_as_a_wrong_field_count_not_as_a_header.
            new("semicolons", "1;2;3", 0, []),
            new("non-numeric-p2", "4,5,six", 2, ["value 3 'six' is not a number"]),
            new("infinity-p2", "4,Infinity,6", 2, ["value 2 is Infinity"]),
            new("null-value", "", 1, ["null"]),
        };

        // Partition 0: 2000 good rows with 11 bad records spread between them; partition 2: 990 good rows and 2 bad;
        // partition 1: 10 good rows and a NULL value (kcat -Z sends an empty value as NULL).
        var p0 = new List<string>();
        var p1 = new List<string>();
        var p2 = new List<string>();
        var badP0 = bad.Where(b => b.Partition == 0).ToList();
        var badP2 = bad.Where(b => b.Partition == 2).ToList();
        for (int i = 0; i < 2000; i++)
        {
            if (i % 180 == 7 && i / 180 < badP0.Count) p0.Add($"{badP0[i / 180].Key}|{badP0[i / 180].Value}");
            p0.Add($"g{i}|{sample.CsvRow(i)}");
        }
        for (int i = 2000; i < 2990; i++)
        {
            if (i % 400 == 100 && (i - 2000) / 400 < badP2.Count) p2.Add($"{badP2[(i - 2000) / 400].Key}|{badP2[(i - 2000) / 400].Value}");
            p2.Add($"g{i}|{sample.CsvRow(i)}");
        }
        for (int i = 2990; i < 3000; i++)
        {
            p1.Add($"g{i}|{sample.CsvRow(i)}");
            if (i == 2994) p1.Add("null-value|");
        }
        Assert.True(p0.Count == 2000 + badP0.Count && p2.Count == 990 + badP2.Count && p1.Count == 11, "test data layout");
        MvnSample.WriteLines(_scope.PathOf("p0.txt"), p0);
        MvnSample.WriteLines(_scope.PathOf("p1.txt"), p1);
        MvnSample.WriteLines(_scope.PathOf("p2.txt"), p2);
        await Kcat.ProduceFileAsync(broker.Bootstrap, topic, _scope.PathOf("p0.txt"), 0, "-K", "|");
        await Kcat.ProduceFileAsync(broker.Bootstrap, topic, _scope.PathOf("p2.txt"), 2, "-K", "|");
        await Kcat.ProduceFileAsync(broker.Bootstrap, topic, _scope.PathOf("p1.txt"), 1, "-K", "|", "-Z");
        var good = sample.WriteCsv(_scope.PathOf("good.csv"), header: false);

        // json topic: good single rows, one good record of 2 rows, and bad records of the json kind.
        var jsonBad = new List<BadRecord>
        {
            new("j-short", "[1,2]", 0, ["expected 3 values, found 2"]),
            new("j-object", "{\"x\":1}", 0, ["found an object"]),
            new("j-string", "[1,\"a\",3]", 0, ["value 2", "not a number"]),
            new("j-truncated", "[1,2,3", 0, ["malformed JSON"]),
            new("j-nan", "[1,\"NaN\",3]", 0, ["value 2 is NaN"]),
            new("j-csv", "1,2,3", 0, ["expected a JSON array"]),
            new("j-empty-array", "[]", 0, ["empty"]),
        };
        const int jsonSingles = 498;
        var jlines = new List<string>();
        for (int i = 0; i < jsonSingles; i++)
        {
            if (i % 70 == 3 && i / 70 < jsonBad.Count) jlines.Add($"{jsonBad[i / 70].Key}|{jsonBad[i / 70].Value}");
            jlines.Add($"j{i}|[{sample.CsvRow(i)}]");
        }
        jlines.Add($"j-two-rows|[[{sample.CsvRow(jsonSingles)}],[{sample.CsvRow(jsonSingles + 1)}]]");
        Assert.True(jlines.Count == jsonSingles + 1 + jsonBad.Count, "test data layout (json)");
        MvnSample.WriteLines(_scope.PathOf("j.txt"), jlines);
        await Kcat.ProduceFileAsync(broker.Bootstrap, jsonTopic, _scope.PathOf("j.txt"), 0, "-K", "|");
        const int jsonRows = jsonSingles + 2;
        MvnSample.WriteLines(_scope.PathOf("jgood.csv"), Enumerable.Range(0, jsonRows).Select(sample.CsvRow));

        // Where each keyed record sits in the topic, as kcat reads it back.
        async Task<Dictionary<string, (int Partition, long Offset)>> Locate(string t)
        {
            var lines = await Kcat.ConsumeAsync(broker.Bootstrap, t, "%k\t%p\t%o\\n");
            return lines.Select(l => l.Split('\t')).ToDictionary(f => f[0],
                f => (int.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture)));
        }
        var where = await Locate(topic);
        var jwhere = await Locate(jsonTopic);
        Assert.True(where.Count == n + bad.Count, $"the topic holds {where.Count} records, expected {n + bad.Count} ({ctx})");
        Assert.True(jwhere.Count == jsonSingles + 1 + jsonBad.Count, $"the json topic holds {jwhere.Count} records ({ctx})");

        var csvRun = StreamAsync(topic, "--dim", "3", "--out", _scope.PathOf("csv.json"));
        var jsonRun = StreamAsync(jsonTopic, "--encoding", "json", "--dim", "3", "--out", _scope.PathOf("json.json"));
        var fitCsv = _scope.RunAsync(["fit", good, "--tolerance", "1e-12", "--out", _scope.PathOf("fit-csv.json")]);
        var fitJson = _scope.RunAsync(["fit", _scope.PathOf("jgood.csv"), "--tolerance", "1e-12", "--out", _scope.PathOf("fit-json.json")]);
        var runs = await Task.WhenAll(csvRun, jsonRun, fitCsv, fitJson);
        foreach (var r in runs) r.ExpectExit(0);

        var failures = new List<string>();
        async Task CheckTopic(string t, CliResult run, List<BadRecord> expectedBad, Dictionary<string, (int Partition, long Offset)> at,
            int goodRows, long records, string modelPath, string fitPath)
        {
            var summary = StreamOutput.JsonSummary(run);
            long accepted = StreamOutput.Long(summary, "acceptedRecords"), rejected = StreamOutput.Long(summary, "rejectedRecords");
            if (StreamOutput.Long(summary, "n") != goodRows) failures.Add($"{t}: n = {StreamOutput.Long(summary, "n")}, expected {goodRows} good rows");
            if (rejected != expectedBad.Count) failures.Add($"{t}: rejected {rejected}, expected {expectedBad.Count}");
            if (accepted + rejected != records) failures.Add($"{t}: accepted {accepted} + rejected {rejected} != {records} records in the topic");
            if (StreamOutput.Long(summary, "lostRecords") != 0) failures.Add($"{t}: lost {StreamOutput.Long(summary, "lostRecords")}");

            var letters = (await Kcat.ConsumeAsync(broker.Bootstrap, t + ".dlq", DlqFormat)).Select(ParseDeadLetter).ToList();
            foreach (var extra in letters.Where(l => expectedBad.All(b => b.Key != l.Key)))
                failures.Add($"{t}: unexpected dead letter (a good record, or a duplicate key): {extra.Line}");
            foreach (var b in expectedBad)
            {
                var mine = letters.Where(l => l.Key == b.Key).ToList();
                if (mine.Count != 1)
                {
                    failures.Add($"{t}: record '{b.Key}' ('{b.Value}') is {mine.Count} times in the dead-letter topic, expected once");
                    continue;
                }
                var l = mine[0];
                var (p, o) = at[b.Key];
                if (l.SourceTopic != t || l.SourcePartition != p || l.SourceOffset != o)
                    failures.Add($"{t}: '{b.Key}' came from {t}/{p}@{o}, but its headers say {l.SourceTopic}/{l.SourcePartition}@{l.SourceOffset}");
                if (b.Key != "null-value" && l.Value != b.Value) failures.Add($"{t}: '{b.Key}' dead letter value '{l.Value}', original '{b.Value}'");
                foreach (var s in b.ReasonMustContain)
                    if (!l.Reason.Contains(s, StringComparison.OrdinalIgnoreCase))
                        failures.Add($"{t}: '{b.Key}' ('{b.Value}'): reason '{l.Reason}' does not contain '{s}'");
                if (b.ReasonMustNotContain is { } not && l.Reason.Contains(not, StringComparison.OrdinalIgnoreCase))
                    failures.Add($"{t}: '{b.Key}' ('{b.Value}'): reason '{l.Reason}' should not say '{not}'");
            }

            var m = ModelFile.Load(modelPath);
            var fit = ModelFile.Load(fitPath);
            if (m.N != goodRows) failures.Add($"{t}: model n = {m.N}, expected {goodRows}");
            double rm = Linalg.RelativeDifference(m.Mu, fit.Mu), rs = Linalg.RelativeDifference(m.Covariance, fit.Covariance);
            if (!(rm <= 1e-9 && rs <= 1e-9)) failures.Add($"{t}: model vs fit of the good rows: mu {rm:E2}, covariance {rs:E2} relative (tolerance 1e-9)");
        }

        await CheckTopic(topic, runs[0], bad, where, n, n + bad.Count, _scope.PathOf("csv.json"), _scope.PathOf("fit-csv.json"));
        await CheckTopic(jsonTopic, runs[1], jsonBad, jwhere, jsonRows, jsonSingles + 1 + jsonBad.Count, _scope.PathOf("json.json"), _scope.PathOf("fit-json.json"));
        if (failures.Count > 0)
            throw new Xunit.Sdk.XunitException($"{failures.Count} problem(s) ({ctx}):\n  " + string.Join("\n  ", failures)
                + "\n--- csv stream ---\n" + runs[0].Description + "\n--- json stream ---\n" + runs[1].Description);
    }

    /// <summary>
    /// --scores-topic: one score record per accepted row, for every offset of the topic, each with the fields; records
    /// scored with a model have tail probability = P(chi2_d > mahalanobis2) (computed here), anomaly = tail &lt; 0.001,
    /// and logDensity + mahalanobis2/2 constant per model version (= -d/2 log 2 pi - 1/2 log|S|).
    /// </summary>
    [Fact]
    public async Task Scores_topic_has_one_consistent_score_per_accepted_row()
    {
        const int seed = 5301, d = 4, n = 20_000;
        var sample = MvnSample.Random(seed, d, n);
        var topic = StreamingBrokerFixture.NewTopic("scores");
        string ctx = $"{sample.Describe}, topic {topic}";
        // The first half is in the topic before the stream starts (read before any model exists); the second half is
        // sent once the stream reports a model (status 'v1' or later), so it is scored with one.
        MvnSample.WriteLines(_scope.PathOf("first.csv"), Enumerable.Range(0, n / 2).Select(sample.CsvRow));
        MvnSample.WriteLines(_scope.PathOf("second.csv"), Enumerable.Range(n / 2, n / 2).Select(sample.CsvRow));
        (await _scope.RunAsync(["produce", _scope.PathOf("first.csv"), "-b", broker.Bootstrap, "-t", topic])).ExpectExit(0);

        var stream = _scope.Start("stream-" + topic, "stream", "-b", broker.Bootstrap, "-t", topic, "--until-idle", "3s", "--checkpoint", "none",
            "--json", "--scores-topic", topic + ".scores", "--out", _scope.PathOf("model.json"));
        await stream.WaitForLineAsync(OutputStream.Stderr, l => StreamOutput.RowsOf(l) >= n / 2 && StreamOutput.VersionOf(l) >= 1, StreamTimeout,
            $"a status line with rows >= {n / 2} and a model version >= 1");
        (await _scope.RunAsync(["produce", _scope.PathOf("second.csv"), "-b", broker.Bootstrap, "-t", topic])).ExpectExit(0);
        int code = await stream.WaitForExitAsync(StreamTimeout);
        if (code != 0) throw stream.Failure($"stream exited with {code}, expected 0 ({ctx})");
        var extents = await Kcat.PartitionExtentsAsync(broker.Bootstrap, topic);
        Assert.True(extents.Values.Sum(e => e.Count) == n, $"the topic holds {extents.Values.Sum(e => e.Count)} records, expected {n} ({ctx})");

        var summary = StreamOutput.JsonSummary(stream);
        long accepted = StreamOutput.Long(summary, "acceptedRecords");
        Assert.True(accepted == n && StreamOutput.Long(summary, "n") == n, $"accepted {accepted}, expected {n} ({ctx})\n{summary.ToJsonString()}");
        long finalVersion = StreamOutput.Long(summary, "version");

        var lines = await Kcat.ConsumeAsync(broker.Bootstrap, topic + ".scores", "%s\\n");
        var failures = new List<string>();
        if (lines.Count != accepted) failures.Add($"{lines.Count} score records for {accepted} accepted rows");

        var seen = new HashSet<(int, long)>();
        var constantPerVersion = new Dictionary<long, (double Value, string Line)>();
        long unscored = 0, scored = 0, anomalies = 0;
        double worstTail = 0, worstConstant = 0;
        foreach (var line in lines)
        {
            if (failures.Count > 20) break;
            if (JsonNode.Parse(line) is not JsonObject o) { failures.Add($"not a JSON object: {line}"); continue; }
            string[] keys = ["topic", "partition", "offset", "modelVersion", "logDensity", "mahalanobis2", "tailProbability", "anomaly"];
            var missing = keys.Where(k => !o.ContainsKey(k)).ToList();
            if (missing.Count > 0) { failures.Add($"missing {string.Join(", ", missing)}: {line}"); continue; }
            int p = o["partition"]!.GetValue<int>();
            long off = o["offset"]!.GetValue<long>();
            if (o["topic"]!.GetValue<string>() != topic) failures.Add($"topic is not {topic}: {line}");
            if (!seen.Add((p, off))) failures.Add($"second score of {p}@{off}: {line}");
            if (!extents.TryGetValue(p, out var e) || off < e.First || off >= e.End) failures.Add($"no such record {p}@{off} in the topic: {line}");
            long version = o["modelVersion"]!.GetValue<long>();
            if (version == 0)
            {
                unscored++;
                if (o["logDensity"] is not null || o["mahalanobis2"] is not null || o["tailProbability"] is not null || o["anomaly"] is not null)
                    failures.Add($"modelVersion 0 (no model yet) must have null scores: {line}");
                continue;
            }
            scored++;
            if (version < 0 || version > finalVersion) failures.Add($"modelVersion {version} outside 1..{finalVersion}: {line}");
            double ld = o["logDensity"]!.GetValue<double>(), m2 = o["mahalanobis2"]!.GetValue<double>(), tail = o["tailProbability"]!.GetValue<double>();
            bool anomaly = o["anomaly"]!.GetValue<bool>();
            if (!(m2 >= 0) || !double.IsFinite(ld)) { failures.Add($"mahalanobis2 < 0 or logDensity not finite: {line}"); continue; }
            double expected = Reference.ChiSquareUpperTailEven(m2, d);
            double rel = Math.Abs(tail - expected) / expected;
            worstTail = Math.Max(worstTail, rel);
            if (!(rel <= 1e-9)) failures.Add($"tailProbability {tail:R} but P(chi2_{d} > {m2:R}) = {expected:R} (relative {rel:E2} > 1e-9): {line}");
            if (anomaly != (tail < 0.001)) failures.Add($"anomaly {anomaly} with tail probability {tail:R} (level 0.001): {line}");
            if (anomaly) anomalies++;
            double c = ld + m2 / 2;
            if (constantPerVersion.TryGetValue(version, out var first))
            {
                double crel = Math.Abs(c - first.Value) / Math.Abs(first.Value);
                worstConstant = Math.Max(worstConstant, crel);
                if (!(crel <= 1e-9)) failures.Add($"logDensity + mahalanobis2/2 = {c:R} differs from {first.Value:R} under the same model version {version}:\n    {line}\n    {first.Line}");
            }
            else constantPerVersion[version] = (c, line);
        }
        foreach (var (p, e) in extents)
            for (long off = e.First; off < e.End && failures.Count <= 20; off++)
                if (!seen.Contains((p, off))) failures.Add($"record {p}@{off} has no score");
        output.WriteLine($"{lines.Count} score records: {unscored} before the first model (modelVersion 0, null scores), {scored} scored under "
            + $"{constantPerVersion.Count} model versions, {anomalies} anomalies; worst tail relative error {worstTail:E2}, worst density constant {worstConstant:E2}");
        if (failures.Count > 0)
            throw new Xunit.Sdk.XunitException($"{failures.Count} problem(s) ({ctx}):\n  " + string.Join("\n  ", failures.Take(20)) + "\n" + stream.Describe());
        Assert.True(scored >= n / 2, $"only {scored} of {n} records were scored with a model (the second half was sent after the first model) ({unscored} before the first model) ({ctx})");
    }

    /// <summary>
    /// Produces the sample's rows as keyed csv records ("g{i}|row") to partition 0 with kcat, with the given "key|value"
    /// lines inserted at the given positions (each position counts the lines before it, inserted ones included).
    /// Returns the lines as produced.
    /// </summary>
    private async Task<List<string>> ProduceKeyedAsync(string topic, MvnSample sample, params (int At, string Line)[] inserted)
    {
        var lines = Enumerable.Range(0, sample.N).Select(i => $"g{i}|{sample.CsvRow(i)}").ToList();
        foreach (var (at, line) in inserted) lines.Insert(at, line);
        MvnSample.WriteLines(_scope.PathOf("data.txt"), lines);
        await Kcat.ProduceFileAsync(broker.Bootstrap, topic, _scope.PathOf("data.txt"), 0, "-K", "|");
        return lines;
    }

    /// <summary>
    /// A csv record of numbers with the wrong separator ("1;2;3", "1 2 3") is a row of 1 field: <c>fit</c> rejects such a
    /// line with "expected 3 values, found 1", and the stream's dead letter must name the same problem, not call a row of
    /// numbers a "csv header line" (an operator whose producer uses ';' would be told every record is a header).
    /// </summary>
    [Fact]
    public async Task Numbers_with_the_wrong_separator_are_rejected_as_a_wrong_field_count_not_as_a_header()
    {
        const int seed = 5202, d = 3, n = 200;
        var sample = MvnSample.Random(seed, d, n);
        var topic = StreamingBrokerFixture.NewTopic("sep");
        string ctx = $"{sample.Describe}, topic {topic}";
        var lines = await ProduceKeyedAsync(topic, sample, (50, "semicolons|1;2;3"), (120, "spaces|1 2 3"));

        // What fit says about the same lines.
        MvnSample.WriteLines(_scope.PathOf("fit.csv"), lines.Select(l => l[(l.IndexOf('|', StringComparison.Ordinal) + 1)..]));
        var fitRun = await _scope.RunAsync(["fit", _scope.PathOf("fit.csv"), "--on-bad-row", "skip", "--out", _scope.PathOf("fit.json")]);
        fitRun.ExpectExit(0);
        Check.Contains("expected 3 values, found 1", fitRun.Stderr, "fit's report of '1;2;3'");

        var run = (await _scope.RunAsync(["stream", "-b", broker.Bootstrap, "-t", topic, "--dim", "3", "--until-idle", "2s", "--checkpoint", "none", "--json",
            "--out", _scope.PathOf("model.json")], StreamTimeout, "stream-" + topic)).ExpectExit(0);
        var summary = StreamOutput.JsonSummary(run);
        Assert.True(StreamOutput.Long(summary, "n") == n && StreamOutput.Long(summary, "rejectedRecords") == 2, $"expected n = {n}, 2 rejected ({ctx}):\n{run.Description}");
        var letters = (await Kcat.ConsumeAsync(broker.Bootstrap, topic + ".dlq", DlqFormat)).Select(ParseDeadLetter).ToList();
        var problems = new List<string>();
        foreach (var key in new[] { "semicolons", "spaces" })
        {
            var l = letters.SingleOrDefault(x => x.Key == key);
            if (l is null) problems.Add($"'{key}' is not (once) in the dead-letter topic");
            else if (!l.Reason.Contains("expected 3 values, found 1", StringComparison.Ordinal) || l.Reason.Contains("header", StringComparison.OrdinalIgnoreCase))
                problems.Add($"'{key}' ('{l.Value}'): reason '{l.Reason}', expected 'expected 3 values, found 1' as fit says (a row of numbers is not a header)");
        }
        if (problems.Count > 0) throw new Xunit.Sdk.XunitException(string.Join("\n", problems) + $" ({ctx})\n{run.Description}");
    }

    /// <summary>
    /// Finite values too large to square (1e200, -3e150) between 2,000 good rows on partition 0: each such record is a
    /// bad record like Infinity (dead-lettered once, reason "too large", the fit carries on). Accepted, one of them would
    /// turn the merged scatter into Infinity for good: no model could be fitted again, n would count a row the model
    /// does not reflect, and its score record would hold Infinity/NaN, which is not JSON. Here n = 2,000, the model is
    /// the fit of the good rows (1e-9), and every score record is strict JSON.
    /// </summary>
    [Fact]
    public async Task A_value_whose_square_overflows_is_dead_lettered_and_does_not_poison_the_statistics()
    {
        const int seed = 5203, d = 3, n = 2000;
        var sample = MvnSample.Random(seed, d, n);
        var topic = StreamingBrokerFixture.NewTopic("huge");
        string ctx = $"{sample.Describe}, topic {topic}";
        await ProduceKeyedAsync(topic, sample, (500, "huge|1e200,1,2"), (1500, "huge-negative|1,2,-3e150"));
        var good = sample.WriteCsv(_scope.PathOf("good.csv"), header: false);
        var runs = await Task.WhenAll(
            StreamAsync(topic, "--dim", "3", "--scores-topic", topic + ".scores", "--out", _scope.PathOf("model.json")),
            _scope.RunAsync(["fit", good, "--tolerance", "1e-12", "--out", _scope.PathOf("fit.json")]));
        foreach (var r in runs) r.ExpectExit(0);
        var summary = StreamOutput.JsonSummary(runs[0]);
        Assert.True(StreamOutput.Long(summary, "n") == n && StreamOutput.Long(summary, "rejectedRecords") == 2,
            $"expected n = {n} and the 2 huge records rejected ({ctx}):\n{runs[0].Description}");
        var letters = (await Kcat.ConsumeAsync(broker.Bootstrap, topic + ".dlq", DlqFormat)).Select(ParseDeadLetter).ToList();
        foreach (var key in new[] { "huge", "huge-negative" })
        {
            var l = letters.Where(x => x.Key == key).ToList();
            Assert.True(l.Count == 1 && l[0].Reason.Contains("too large", StringComparison.Ordinal),
                $"'{key}' must be once in the dead-letter topic with a reason saying the value is too large; found {string.Join(" | ", l.Select(x => x.Line))} ({ctx})");
        }
        var m = ModelFile.Load(_scope.PathOf("model.json"));
        var fit = ModelFile.Load(_scope.PathOf("fit.json"));
        Check.Relative(m.Mu, fit.Mu, 1e-9, "mu (stream without the huge records vs fit of the good rows)", ctx);
        Check.Relative(m.Covariance, fit.Covariance, 1e-9, "covariance (stream vs fit of the good rows)", ctx);
        var scores = await Kcat.ConsumeAsync(broker.Bootstrap, topic + ".scores", "%s\\n");
        var notJson = scores.Where(l => { try { _ = JsonNode.Parse(l); return false; } catch (System.Text.Json.JsonException) { return true; } }).Take(5).ToList();
        Assert.True(scores.Count == n && notJson.Count == 0, $"{scores.Count} score records for {n} accepted rows; not JSON: {string.Join(" | ", notJson)} ({ctx})");
    }
}
