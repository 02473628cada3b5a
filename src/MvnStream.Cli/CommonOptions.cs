using System.CommandLine;
using System.CommandLine.Parsing;
using MvnStream.Core.Fitting;
using MvnStream.Core.Formats;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;

namespace MvnStream.Cli;

/// <summary>
/// Options shared by several commands, with their parsing into Core option types. An option name means one thing in
/// every command (CommandLineConsistencyTests): its description starts with the same phrase everywhere.
/// </summary>
internal static class CommonOptions
{
    /// <summary>--format: the format of a data file (fit, score, generate; produce's input file is --input-format).</summary>
    public static Option<string?> Format() => new("--format")
    {
        Description = "File format: csv (d numbers per line, optional header), f64 (little-endian doubles, needs --dim) or json (array of d numbers per line, or one array of arrays). Default: from the file extension (.csv/.txt, .f64/.bin, .json/.jsonl/.ndjson).",
        HelpName = "csv|f64|json",
    };

    /// <summary>--encoding: how rows are encoded in Kafka record values (produce, stream).</summary>
    public static Option<string?> Encoding(string defaultText) => new("--encoding")
    {
        Description = "Record encoding: csv (one row per record), f64 (k rows of d little-endian doubles per record) or json (an array of d numbers, or an array of k such arrays). " + defaultText,
        HelpName = "csv|f64|json",
    };

    /// <summary>
    /// A hidden option under an old name, accepted so that existing scripts keep working; <see cref="Renamed{T}"/> reads
    /// it and says on stderr which name to use instead.
    /// </summary>
    public static Option<T> Deprecated<T>(string oldName, string newName) => new(oldName)
    {
        Description = $"Deprecated: use {newName}.",
        Hidden = true,
    };

    /// <summary>The value of <paramref name="current"/>, else of its deprecated old name (with a note on stderr).</summary>
    public static T? Renamed<T>(ParseResult parse, Option<T> current, Option<T> old, string command)
    {
        if (parse.GetResult(old) is not { Implicit: false }) return parse.GetValue(current);
        Console.Error.WriteLine($"mvnstream {command}: note: {old.Name} is deprecated here; use {current.Name}");
        return parse.GetResult(current) is { Implicit: false } ? parse.GetValue(current) : parse.GetValue(old);
    }

    /// <summary>-b/--bootstrap (produce, stream): optional, as bootstrap.servers may come from --kafka-config or -X.</summary>
    public static Option<string?> Bootstrap() => new("--bootstrap", "-b")
    {
        Description = "Kafka bootstrap servers (host:port[,host:port]), e.g. what 'mvnstream broker' prints. Default: bootstrap.servers of --kafka-config or -X.",
        HelpName = "HOST:PORT[,HOST:PORT]",
    };

    /// <summary>
    /// The bootstrap servers a command uses: --bootstrap, else bootstrap.servers of --kafka-config / -X; a usage error
    /// when there is none.
    /// </summary>
    public static string KafkaBootstrap(string? bootstrap, string[] properties, string? file)
    {
        try { return MvnStream.Kafka.KafkaClientSettings.Create(bootstrap, properties, file).Bootstrap; }
        catch (MvnStream.Kafka.KafkaSettingsException e) { throw new UsageException(e.Message); }
    }

    public static Option<int?> Dim() => new("--dim")
    {
        Description = "Dimension d. Required for f64; for csv and json d comes from the first row and, if given, every row is checked against it.",
        HelpName = "D",
    };

    public static Option<string> OnBadRow() => new("--on-bad-row")
    {
        Description = "What a bad row (wrong column count, non-numeric, NaN/Inf, empty, truncated) does: fail (stop with its file and line) or skip (count it, report it, go on).",
        DefaultValueFactory = _ => "fail",
        HelpName = "fail|skip",
    };

    public static Option<bool> Quiet() => new("--quiet", "-q") { Description = "No progress lines on stderr." };

    public static Option<bool> Json() => new("--json") { Description = "Print a machine-readable JSON summary on stdout (progress stays on stderr)." };

    public static Option<string[]> KafkaProperty() => new("--kafka-property", "-X")
    {
        Description = "A librdkafka property key=value for every Kafka client (repeatable), e.g. security.protocol=SASL_SSL, ssl.ca.location=ca.pem, sasl.mechanism=SCRAM-SHA-512, sasl.username=U, sasl.password=P. Overrides --kafka-config.",
        HelpName = "KEY=VALUE",
        AllowMultipleArgumentsPerToken = false,
    };

    public static Option<string?> KafkaConfig() => new("--kafka-config")
    {
        Description = "File of librdkafka properties, one key=value per line, # comments (keep secrets here, not on the command line; see config/kafka.properties.example).",
        HelpName = "FILE",
    };

    /// <summary>--kafka-config then -X properties (later wins), as "key=value" strings without bootstrap.servers; errors name their source and hide secrets.</summary>
    public static string[] KafkaProperties(string bootstrap, string[] properties, string? file)
    {
        try
        {
            var settings = MvnStream.Kafka.KafkaClientSettings.Create(bootstrap, properties, file);
            // Refused here, naming the key, before any cluster or job exists (a bad key used to fail inside the coordinator).
            try { settings.Validate(); }
            catch (MvnStream.Kafka.KafkaSettingsException e) when (file is not null)
            {
                throw new UsageException($"{e.Message} (the Kafka settings come from --kafka-config {file} and -X)");
            }
            return settings.Properties.Where(kv => kv.Key != MvnStream.Kafka.KafkaClientSettings.BootstrapProperty).Select(kv => kv.Key + "=" + kv.Value).ToArray();
        }
        catch (MvnStream.Kafka.KafkaSettingsException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>An input file that must exist and be a file: a directory is called a directory, not missing (exit 2 either way).</summary>
    public static void RequireFile(string path, string what)
    {
        if (Directory.Exists(path)) throw new UsageException($"{what} '{path}' is a directory, not a file");
        if (!File.Exists(path)) throw new UsageException($"{what} '{path}' does not exist");
    }

    public static RowReaderOptions ReaderOptions(string path, string? format, int? dim, string onBadRow)
    {
        var f = format is null ? RowFormats.FromExtension(path) : RowFormats.Parse(format);
        if (dim is { } d && d <= 0) throw new UsageException($"--dim {d}: the dimension must be positive");
        if (f == RowFormat.F64 && dim is null) throw new UsageException("--format f64 has no header: give the dimension with --dim D");
        var policy = onBadRow.Trim().ToLowerInvariant() switch
        {
            "fail" => BadRowPolicy.Fail,
            "skip" => BadRowPolicy.Skip,
            _ => throw new UsageException($"--on-bad-row '{onBadRow}': expected fail or skip"),
        };
        return new RowReaderOptions { Format = f, Dimension = dim, OnBadRow = policy };
    }

    public static SolverKind Solver(string name)
    {
        try { return SolverNames.Parse(name); }
        catch (FormatException e) { throw new UsageException("--solver: " + e.Message); }
    }

    public static Parameterization Param(string name)
    {
        try { return ParameterizationNames.Parse(name); }
        catch (FormatException e) { throw new UsageException("--param: " + e.Message); }
    }

    /// <summary>--rel-tolerance, the same option for fit and stream.</summary>
    public static Option<double> RelTolerance() => new("--rel-tolerance")
    {
        Description = "Also stop when a step changes J/n by at most this times max(|J/n|, 1); 0 turns this test off.",
        DefaultValueFactory = _ => 0.0,
        HelpName = "RTOL",
    };

    /// <summary>
    /// The solver options of fit and stream, checked and built in one place (<see cref="Cluster.Protocol.SolverSettings"/>
    /// turns them into the solver's options), so the two commands cannot drift apart.
    /// </summary>
    public static Cluster.Protocol.SolverSettings SolverSettings(string solver, string param, int maxIter, double tolerance, double relTolerance,
        double? learningRate, double ridge, string shrinkage)
    {
        static string Inv(double v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (maxIter < 0) throw new UsageException($"--max-iter {maxIter}: must be >= 0");
        if (!(tolerance >= 0)) throw new UsageException($"--tolerance {Inv(tolerance)}: must be >= 0");
        if (!(relTolerance >= 0)) throw new UsageException($"--rel-tolerance {Inv(relTolerance)}: must be >= 0 (0 turns the test off)");
        // Absent: Adam chooses its step (0 on the wire; in whitened coordinates the Fisher-scoring step, see SolverOptions).
        if (learningRate is { } lr && (!(lr > 0) || double.IsInfinity(lr)))
            throw new UsageException($"--learning-rate {Inv(lr)}: must be a positive number");
        var reg = Regularization(ridge, shrinkage);
        return new Cluster.Protocol.SolverSettings(Solver(solver), Param(param), maxIter, tolerance, relTolerance, learningRate ?? 0, reg.Ridge, reg.Shrinkage, reg.ShrinkageIntensity);
    }

    public static Regularization Regularization(double ridge, string shrinkage)
    {
        if (ridge < 0 || !double.IsFinite(ridge)) throw new UsageException($"--ridge {ridge}: must be a finite number >= 0");
        try
        {
            var (mode, rho) = Core.Fitting.Regularization.ParseShrinkage(shrinkage);
            return new Regularization { Ridge = ridge, Shrinkage = mode, ShrinkageIntensity = rho };
        }
        catch (FormatException e) { throw new UsageException(e.Message); }
    }
}

/// <summary>A command-line mistake: reported with exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
