using System.CommandLine;
using System.Text.Json.Nodes;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Kafka;
using MvnStream.Kafka.Broker;
using MvnStream.Kafka.Producing;

namespace MvnStream.Cli.Commands;

/// <summary>
/// <c>mvnstream produce --bootstrap B --topic T (FILE | --synthetic --dim D --rows N [--seed S])</c>: sends rows
/// to a Kafka topic as csv, f64 or json records, optionally at a fixed rate; progress on stderr, summary on stdout.
/// </summary>
internal static class ProduceCommand
{
    public static Command Create()
    {
        var file = new Argument<string?>("file") { Description = "Data file to send (csv, f64 or json; see --input-format). Omit with --synthetic.", Arity = ArgumentArity.ZeroOrOne };
        var bootstrap = CommonOptions.Bootstrap();
        var topic = new Option<string>("--topic", "-t") { Description = "Topic of rows: the one to produce to (the development broker creates it on first produce, with 4 partitions).", Required = true, HelpName = "TOPIC" };
        var synthetic = new Option<bool>("--synthetic") { Description = "Send rows drawn from N(mu*, S*), with mu* and a well-conditioned S* (condition number <= ~32) drawn from --seed; needs --dim and --rows." };
        var dim = new Option<int?>("--dim") { Description = "Dimension d. Of the synthetic rows, or of an f64 input file (required for both); checked against csv/json input when given.", HelpName = "D" };
        var rows = new Option<long?>("--rows") { Description = "Number of rows: with --synthetic, the rows to send (0 = until Ctrl-C).", HelpName = "N" };
        var seed = new Option<long>("--seed") { Description = "Seed of mu*, S* and the rows: the same seed gives the same rows in 'generate', 'produce --synthetic' and 'demo'. With --synthetic.", DefaultValueFactory = _ => 1L, HelpName = "S" };
        var truthOut = new Option<string?>("--truth-out") { Description = "Also write the true mu* and S* (a JSON truth file, kind \"truth\": not a model file), to compare a fit against. With --synthetic.", HelpName = "PATH" };
        var encoding = CommonOptions.Encoding("Default: the input file's format, csv for --synthetic.");
        var formatDeprecated = CommonOptions.Deprecated<string?>("--format", "--encoding");
        var inputFormat = new Option<string?>("--input-format") { Description = "Format of FILE. Default: from its extension (.csv/.txt, .f64/.bin, .json/.jsonl/.ndjson).", HelpName = "csv|f64|json" };
        var rowsPerRecord = new Option<int>("--rows-per-record", "-k") { Description = "Rows per record k for f64 and json (csv records always hold one row).", DefaultValueFactory = _ => 1, HelpName = "K" };
        var rate = new Option<double>("--rate") { Description = "Rows per second produced (0 = as fast as possible). The development broker keeps only the last 5 MB per partition: do not run far ahead of consumers.", DefaultValueFactory = _ => 0.0, HelpName = "ROWS_PER_S" };
        var kafkaProperty = CommonOptions.KafkaProperty();
        var kafkaConfig = CommonOptions.KafkaConfig();
        var connectTimeout = Durations.Option("--connect-timeout", "How long to wait for the Kafka cluster's metadata before failing. Deliveries time out after message.timeout.ms (30 s unless set with -X).", "10s");
        var onBadRow = CommonOptions.OnBadRow();
        var quiet = CommonOptions.Quiet();
        var json = CommonOptions.Json();
        var cmd = new Command("produce",
            "Send rows from FILE, or synthetic N(mu*, S*) rows, to a Kafka topic (null keys, round-robin over the topic's partitions). Exits 1 if any record was not delivered.")
        {
            file, bootstrap, topic, synthetic, dim, rows, seed, truthOut, encoding, formatDeprecated, inputFormat, rowsPerRecord, rate, kafkaProperty, kafkaConfig,
            connectTimeout, onBadRow, quiet, json,
        };
        // The Kafka client settings are section Kafka (README "Configuration"): the flags given override MVNSTREAM__Kafka__* and the settings files.
        cmd.SetAction((pr, ct) => Configuration.AppSettings.Run(pr, "produce", st => RunAsync(new ProduceArgs(
            pr.GetValue(file), st.Kafka.Bootstrap, pr.GetValue(topic)!, pr.GetValue(synthetic), pr.GetValue(dim), pr.GetValue(rows),
            pr.GetValue(seed), pr.GetValue(truthOut), CommonOptions.Renamed(pr, encoding, formatDeprecated, "produce"), pr.GetValue(inputFormat), pr.GetValue(rowsPerRecord), pr.GetValue(rate),
            st.KafkaProperties(), st.Kafka.PropertiesFile, Durations.ParseSeconds(pr.GetValue(connectTimeout)!, "--connect-timeout"), pr.GetValue(onBadRow)!,
            pr.GetValue(quiet), pr.GetValue(json)), ct)));
        return cmd;
    }

    internal sealed record ProduceArgs(string? File, string? Bootstrap, string Topic, bool Synthetic, int? Dim, long? Rows, long Seed,
        string? TruthOut, string? Format, string? InputFormat, int RowsPerRecord, double Rate, string[] KafkaProperties, string? KafkaConfig,
        double ConnectTimeout, string OnBadRow, bool Quiet, bool Json);

    private static async Task<int> RunAsync(ProduceArgs a, CancellationToken ct)
    {
        var progress = new ConsoleProgress(a.Quiet);
        IRowSource? source = null;
        try
        {
            var settings = KafkaClientSettings.Create(a.Bootstrap, a.KafkaProperties, a.KafkaConfig);
            settings.Validate();
            source = OpenSource(a, out var recordFormat);
            if (a.Rate < 0 || !double.IsFinite(a.Rate)) throw new UsageException($"--rate {a.Rate}: must be a finite number of rows per second >= 0 (0 = as fast as possible)");
            if (a.RowsPerRecord < 1) throw new UsageException($"--rows-per-record {a.RowsPerRecord}: must be at least 1");
            if (recordFormat == RowFormat.Csv && a.RowsPerRecord != 1)
                throw new UsageException($"--rows-per-record {a.RowsPerRecord}: a csv record holds exactly one row; use --encoding f64 or json for blocks of rows");
            if (!(a.ConnectTimeout > 0) || !double.IsFinite(a.ConnectTimeout)) throw new UsageException($"--connect-timeout {a.ConnectTimeout}: must be a positive number of seconds");
            if (string.IsNullOrWhiteSpace(a.Topic)) throw new UsageException("--topic: the topic name is empty");

            var options = new RowProducerOptions
            {
                Topic = a.Topic.Trim(),
                Format = recordFormat,
                RowsPerRecord = a.RowsPerRecord,
                RowsPerSecond = a.Rate,
                ConnectTimeout = TimeSpan.FromSeconds(a.ConnectTimeout),
            };
            progress.Line($"mvnstream produce: {source.Description} -> topic {options.Topic} as {recordFormat.ToName()}"
                + (a.RowsPerRecord > 1 ? $" ({a.RowsPerRecord} rows per record)" : "")
                + (a.Rate > 0 ? ConsoleProgress.Inv($" at {a.Rate:G} rows/s") : "")
                + $"; Kafka: {settings.Describe()}");

            if (source is SyntheticRowSource s && a.TruthOut is not null)
            {
                TruthFile.Save(a.TruthOut, s.Source.Truth, a.Seed, s.Rows);
                progress.Line($"mvnstream produce: true mu* and S* (seed {a.Seed}) written to {a.TruthOut}");
            }

            using var producer = new RowProducer(settings, options);
            var report = new ProgressWriter(progress);
            var summary = await producer.RunAsync(source, report, ct);
            if (source is FileRowSource f)
            {
                foreach (var r in f.Reader.Rejections) progress.Line("skipped " + r);
                if (f.Reader.RowsRejected > f.Reader.Rejections.Count)
                    progress.Line($"... and {f.Reader.RowsRejected - f.Reader.Rejections.Count} more skipped rows");
            }
            return Report(a, options, source, summary, progress);
        }
        catch (UsageException e) { return Fail(e.Message, ExitCodes.Usage); }
        catch (KafkaSettingsException e) { return Fail(e.Message, ExitCodes.Usage); }
        catch (KafkaUnreachableException e) { return Fail(e.Message, ExitCodes.Failure); }
        catch (BadRowException e) { return Fail(e.Message, ExitCodes.BadInput); }
        catch (InvalidDataException e) { return Fail(e.Message, ExitCodes.BadInput); }
        catch (IOException e) { return Fail(e.Message, ExitCodes.Failure); }
        catch (UnauthorizedAccessException e) { return Fail(e.Message, ExitCodes.Failure); }
        finally
        {
            (source as IDisposable)?.Dispose();
        }
    }

    private static IRowSource OpenSource(ProduceArgs a, out RowFormat recordFormat)
    {
        if (a.Dim is { } d0 && d0 <= 0) throw new UsageException($"--dim {d0}: the dimension must be positive");
        RowFormat? explicitFormat = a.Format is null ? null : ParseFormat(a.Format, "--encoding");
        if (a.Synthetic)
        {
            if (a.File is not null) throw new UsageException($"give either a data file ('{a.File}') or --synthetic, not both");
            if (a.Dim is not { } d) throw new UsageException("--synthetic needs the dimension: --dim D");
            if (a.Rows is not { } n) throw new UsageException("--synthetic needs the number of rows: --rows N (0 = until Ctrl-C)");
            if (n < 0) throw new UsageException($"--rows {n}: must be >= 0 (0 = until Ctrl-C)");
            if (a.InputFormat is not null) throw new UsageException("--input-format is for a data file, not --synthetic");
            if (a.OnBadRow.Trim().ToLowerInvariant() != "fail") throw new UsageException("--on-bad-row is for a data file, not --synthetic");
            recordFormat = explicitFormat ?? RowFormat.Csv;
            return new SyntheticRowSource(new SyntheticSource(d, a.Seed), n);
        }

        if (a.File is null) throw new UsageException("nothing to send: give a data file, or --synthetic --dim D --rows N");
        if (a.Rows is not null) throw new UsageException("--rows is for --synthetic; a data file is sent whole");
        if (a.TruthOut is not null) throw new UsageException("--truth-out is for --synthetic");
        CommonOptions.RequireFile(a.File, "data file");
        RowReaderOptions readerOptions;
        try { readerOptions = CommonOptions.ReaderOptions(a.File, a.InputFormat, a.Dim, a.OnBadRow); }
        catch (FormatException e) { throw new UsageException(e.Message); }
        recordFormat = explicitFormat ?? readerOptions.Format;
        try { return new FileRowSource(a.File, readerOptions); }
        catch (InvalidOperationException e) { throw new InvalidDataException(e.Message, e); }
        catch (NotSupportedException e) { throw new UsageException(e.Message); }
    }

    private static RowFormat ParseFormat(string name, string option)
    {
        try { return RowFormats.Parse(name); }
        catch (FormatException e) { throw new UsageException($"{option}: {e.Message}"); }
    }

    private static int Report(ProduceArgs a, RowProducerOptions options, IRowSource source, ProduceSummary s, ConsoleProgress progress)
    {
        double seconds = s.Elapsed.TotalSeconds;
        if (s.Partitions > 0 && s.MaxPartitionBytes > DevelopmentBroker.PartitionWindowBytes)
            Console.Error.WriteLine(ConsoleProgress.Inv(
                $"mvnstream produce: note: up to {s.MaxPartitionBytes / 1048576.0:F1} MB went to one partition. If this is the development broker (mvnstream broker), it keeps only the last 5 MB per partition, so a consumer that reads later misses the oldest records."));
        foreach (var e in s.Errors) Console.Error.WriteLine("mvnstream produce: delivery failed: " + e);

        if (a.Json)
        {
            var o = new JsonObject
            {
                ["topic"] = options.Topic,
                ["source"] = source.Description,
                ["format"] = options.Format.ToName(),
                ["dimension"] = source.Dimension,
                ["rowsPerRecord"] = options.RowsPerRecord,
                ["rows"] = s.Rows,
                ["records"] = s.Records,
                ["bytes"] = s.Bytes,
                ["delivered"] = s.Delivered,
                ["failed"] = s.Failed,
                ["seconds"] = seconds,
                ["rowsPerSecond"] = s.RowsPerSecond,
                ["partitions"] = s.Partitions,
                ["cancelled"] = s.Cancelled,
                ["stoppedOnError"] = s.StoppedOnError,
                ["errors"] = new JsonArray(s.Errors.Select(e => (JsonNode?)JsonValue.Create(e)).ToArray()),
            };
            if (source is SyntheticRowSource syn) o["seed"] = syn.Source.Seed;
            Console.Out.WriteLine(o.ToJsonString());
        }
        else if (!progress.Quiet)
        {
            string partitioning = s.Partitions > 0 ? $"round-robin over {s.Partitions} partitions" : "partitions chosen by librdkafka";
            Console.Out.WriteLine(ConsoleProgress.Inv(
                $"produced {s.Rows:N0} rows in {s.Records:N0} records ({s.Bytes:N0} bytes) to {options.Topic} in {seconds:F2} s ({s.RowsPerSecond:N0} rows/s), {partitioning}; delivered {s.Delivered:N0}, failed {s.Failed:N0}"));
        }

        if (s.Failed > 0 || s.StoppedOnError)
        {
            Console.Error.WriteLine($"mvnstream produce: {s.Failed:N0} of {s.Records:N0} records could not be delivered" + (s.StoppedOnError ? "; stopped at the first failure" : ""));
            return ExitCodes.Failure;
        }
        if (s.Cancelled)
        {
            Console.Error.WriteLine($"mvnstream produce: stopped by Ctrl-C after {s.Rows:N0} rows; every record sent was delivered");
            return ExitCodes.Cancelled;
        }
        return ExitCodes.Ok;
    }

    private static int Fail(string message, int code)
    {
        Console.Error.WriteLine("mvnstream produce: " + message);
        return code;
    }

    /// <summary>Writes progress lines from the producer's thread straight to stderr (Progress&lt;T&gt; would post them to the thread pool, out of order).</summary>
    private sealed class ProgressWriter(ConsoleProgress progress) : IProgress<ProduceProgress>
    {
        public void Report(ProduceProgress p) => progress.Line(ConsoleProgress.Inv(
            $"produce: {p.Rows,12:N0} rows  {p.Records,12:N0} records  {p.RowsPerSecond,12:N0} rows/s  {p.Bytes / 1048576.0,9:F1} MB  delivered {p.Delivered:N0}  failed {p.Failed:N0}  {p.Elapsed.TotalSeconds:F1} s"));
    }
}
