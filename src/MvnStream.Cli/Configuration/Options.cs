namespace MvnStream.Cli.Configuration;

// One options type per concern (README "Configuration"), bound from config/appsettings.json, the --settings file,
// MVNSTREAM__Section__Key environment variables and the flags given, in that order of precedence (AppSettings).
// A property's initial value is its documented default; durations are text in the one duration syntax (Durations).

/// <summary>Section Node: this process's cluster node (the 'node' command, and the client node of fit/stream --cluster).</summary>
internal sealed class NodeOptions
{
    public const string Section = "Node";

    [Setting("Address this node binds: 127.0.0.1 for this machine only, 0.0.0.0 for every interface (then PublicHostname is needed).", Flags = "--hostname", DefaultText = "127.0.0.1")]
    public string? Hostname { get; set; }

    [Setting("Address other nodes use to reach this one (NAT, containers).", Flags = "--public-hostname", DefaultText = "(the hostname)")]
    public string? PublicHostname { get; set; }

    [Setting("TCP port of the node (0: any free port).", Flags = "--port", DefaultText = "0")]
    [Between(0, 65535)]
    public int? Port { get; set; }

    [Setting("Seed node addresses to join, comma-separated (akka.tcp://mvnstream@HOST:PORT). A coordinator without seeds founds the cluster.", Flags = "--seed-node", DefaultText = "(none)")]
    public string? Seeds { get; set; }

    [Setting("Roles of a 'node', comma-separated: coordinator and/or worker.", Flags = "--role", DefaultText = "(akka.cluster.roles of the HOCON)")]
    public string? Roles { get; set; }

    [Setting("HOCON file of Akka's low-level knobs for this process's node (TLS, failure detector; see config/tls.example.hocon).", Flags = "--config", DefaultText = "(none)")]
    public string? Hocon { get; set; }

    [Setting("How long 'node' waits to join the cluster before failing.", Flags = "--join-timeout")]
    [Duration]
    public string JoinTimeout { get; set; } = "60s";

    [Setting("How long a stopping 'node' (Ctrl-C, SIGTERM) waits to leave the cluster gracefully before it terminates anyway.")]
    [Duration]
    public string LeaveTimeout { get; set; } = "15s";

    [Setting("How long 'fit --cluster' and 'stream --cluster' wait for the cluster to answer before failing.")]
    [Duration]
    public string ConnectTimeout { get; set; } = "20s";

    [Setting("Akka's log level on the client node of --cluster and on the nodes of an embedded cluster (--verbose: INFO).")]
    [OneOf("OFF", "ERROR", "WARNING", "INFO", "DEBUG")]
    public string ClientLogLevel { get; set; } = "ERROR";

    [Setting("Threads a worker reads a shard with; 0 = every core of the node (an embedded cluster shares this machine's cores among its workers).")]
    [Between(0, 4096)]
    public int WorkerThreads { get; set; }

    [Setting("Chunk a worker's threads take a shard in (statistics merge in file order, whatever the threads).")]
    [ByteSize(4096)]
    public string ReadChunk { get; set; } = "32MiB";

    [Setting("TCP port of a worker's data plane (rounds' theta and gradients), on the node's Hostname; 0: any free port; -1: none, rounds over Akka.")]
    [Between(-1, 65535)]
    public int DataPort { get; set; }
}

/// <summary>Section Coordinator: the fit coordinator of a 'node --role coordinator' or of an embedded cluster.</summary>
internal sealed class CoordinatorOptions
{
    public const string Section = "Coordinator";

    [Setting("How long a fit job waits for its first worker before failing (fit --worker-wait overrides it for one job).")]
    [Duration]
    public string WorkerWait { get; set; } = "30s";

    [Setting("How long a fit job may go on with no live worker before failing.")]
    [Duration]
    public string NoWorkerTimeout { get; set; } = "30s";

    [Setting("How gradient-summing rounds send theta and gradients: tcp (a connection per worker beside Akka) or akka (Akka remoting messages).")]
    [OneOf("tcp", "akka")]
    public string DataPlane { get; set; } = "tcp";
}

/// <summary>Section Stream: the tunables of 'stream' (and 'demo'), sent to every worker with the job.</summary>
internal sealed class StreamOptions
{
    public const string Section = "Stream";

    [Setting("Rows per contribution (per partition).", Flags = "--batch-rows")]
    [Between(1, 1 << 24)]
    public int BatchRows { get; set; } = 4096;

    [Setting("Longest a partition's pending rows wait before they are sent.", Flags = "--linger")]
    [Duration(MinExclusive = false)]
    public string Linger { get; set; } = "200ms";

    [Setting("How often model snapshots and checkpoints are written.", Flags = "--snapshot-interval")]
    [Duration(Min = 0.1, MinExclusive = false)]
    public string SnapshotInterval { get; set; } = "1s";

    [Setting("At most this many warm-started solver iterations after each merge.", Flags = "--steps-per-update")]
    [Between(0, 1_000_000)]
    public int StepsPerUpdate { get; set; } = 25;

    [Setting("How long the stream goes on while no Kafka broker is reachable before it stops with exit 1.", Flags = "--broker-timeout")]
    [Duration(Min = 1, MinExclusive = false)]
    public string BrokerTimeout { get; set; } = "60s";

    [Setting("Contributions of one partition awaiting acknowledgement; beyond it the pending batch grows instead.")]
    [Between(1, 1024)]
    public int MaxInFlight { get; set; } = 8;

    [Setting("Pending rows of one partition, in batches of BatchRows, beyond which fetching it pauses.")]
    [Between(1, 1 << 16)]
    public int MaxPendingBatches { get; set; } = 16;

    [Setting("Longest wait of one consumer poll (milliseconds).")]
    [Between(1, 10_000)]
    public int PollMilliseconds { get; set; } = 100;

    [Setting("An unacknowledged contribution older than this re-synchronises its partition through the ledger.")]
    [Duration]
    public string AckTimeout { get; set; } = "15s";

    [Setting("Longest wait for dead letters and scores to be delivered before the intake gives up.")]
    [Duration]
    public string SideDeliveryTimeout { get; set; } = "30s";

    [Setting("While no broker is reachable, how often the intake asks for metadata to learn that one is back.")]
    [Duration]
    public string ReachabilityProbe { get; set; } = "2s";

    [Setting("How long a worker waits for the ledger's answer to a position query before it asks again.")]
    [Duration]
    public string PositionRetry { get; set; } = "3s";

    [Setting("A partition with lag that delivered nothing for this long is checked against the broker's log start.")]
    [Duration]
    public string StallCheck { get; set; } = "1s";

    [Setting("How long the coordinator waits for the workers' last contributions when the job stops (below Stream:ClientStopWait).")]
    [Duration]
    public string StopTimeout { get; set; } = "20s";

    [Setting("How long a stopping 'stream' (Ctrl-C, SIGTERM) waits for the coordinator to finish the job before it gives up; at most 29 s, below the process's 30 s stop limit.")]
    [Duration(Max = 29)]
    public string ClientStopWait { get; set; } = "25s";

    [Setting("How long 'stream' waits for a stream coordinator to answer the job, at start and after the coordinator was lost, before it fails.")]
    [Duration]
    public string AnswerTimeout { get; set; } = "60s";

    [Setting("After the stream coordinator was lost, how long 'stream' waits before it submits the job again (the next coordinator resumes it).")]
    [Duration]
    public string ResubmitDelay { get; set; } = "1s";

    [Setting("Then how often 'stream' submits the job again until a coordinator answers.")]
    [Duration(Min = 0.01, MinExclusive = false)]
    public string ResubmitInterval { get; set; } = "5s";

    [Setting("How often the coordinator checks --until-idle and --max-rows.")]
    [Duration(Min = 0.01, MinExclusive = false, Max = 60)]
    public string IdleCheck { get; set; } = "250ms";

    [Setting("How often the coordinator reports status (progress line, dashboard, metrics).")]
    [Duration(Min = 0.1, MinExclusive = false, Max = 3600)]
    public string StatusInterval { get; set; } = "1s";
}

/// <summary>Section Kafka: every Kafka client of 'stream' and 'produce'. Secret values are never printed.</summary>
internal sealed class KafkaOptions
{
    public const string Section = "Kafka";

    [Setting("Kafka bootstrap servers, HOST:PORT[,HOST:PORT].", Flags = "--bootstrap", DefaultText = "(bootstrap.servers of the properties)")]
    public string? Bootstrap { get; set; }

    [Setting("File of librdkafka properties, key=value lines (keep secrets here or in a secret store).", Flags = "--kafka-config", DefaultText = "(none)")]
    public string? PropertiesFile { get; set; }

    /// <summary>librdkafka properties by name: Kafka:Properties:security.protocol = SASL_SSL; checked by librdkafka itself.</summary>
    [Setting("librdkafka properties, one key each (Kafka:Properties:sasl.username); override PropertiesFile.", Flags = "--kafka-property", DefaultText = "(none)")]
    public Dictionary<string, string> Properties { get; set; } = new(StringComparer.Ordinal);

    // The timeouts of the librdkafka calls MvnStream makes itself (they travel to the cluster with a stream job).

    [Setting("Longest wait of a metadata request: the coordinator's partition count of the input topic, 'stream' learning d from the topic.")]
    [Duration]
    public string MetadataTimeout { get; set; } = "10s";

    [Setting("Longest wait of a watermark query: a worker's check of a stalled partition against the log start, 'stream' learning d.")]
    [Duration]
    public string WatermarkTimeout { get; set; } = "5s";

    [Setting("Longest wait of the metadata request that probes, while no broker is reachable, whether one is back (every Stream:ReachabilityProbe).")]
    [Duration]
    public string ProbeTimeout { get; set; } = "1s";

    [Setting("Longest wait for a worker's dead letters and scores to be flushed when its intake closes.")]
    [Duration]
    public string FlushTimeout { get; set; } = "10s";

    [Setting("Longest wait for the model topic's last records to be flushed when the job ends.")]
    [Duration]
    public string ModelFlushTimeout { get; set; } = "5s";

    [Setting("Longest wait of the Kafka checkpoint store's watermark query (when a job resumes) and of its flush (when the job ends).")]
    [Duration]
    public string CheckpointTimeout { get; set; } = "10s";

    [Setting("Longest time reading one window of the checkpoint topic back when a job resumes.")]
    [Duration]
    public string CheckpointReadTimeout { get; set; } = "30s";
}

/// <summary>Section Http: where a process serves the dashboard, /model, /metrics and /health.</summary>
internal sealed class HttpOptions
{
    public const string Section = "Http";

    [Setting("HTTP endpoint where the coordinator runs (stream, demo, node --role coordinator): ADDRESS:PORT or off. The default port falls back to any free one when taken.", Flags = "--http")]
    public string Endpoint { get; set; } = Http.HttpEndpointSpec.CoordinatorDefault;

    [Setting("HTTP endpoint of a worker-only node: ADDRESS:PORT (0: any free port) or off.", Flags = "--http")]
    public string WorkerEndpoint { get; set; } = Http.HttpEndpointSpec.WorkerDefault;
}

/// <summary>Section Solver: the solver of 'fit' and of 'stream' (its online updates and final convergence).</summary>
internal sealed class SolverOptions
{
    public const string Section = "Solver";

    [Setting("Solver: closed-form (fit only), gd, adam or lbfgs.", Flags = "--solver")]
    [OneOf("closed-form", "gd", "adam", "lbfgs")]
    public string Solver { get; set; } = "lbfgs";

    [Setting("Covariance factor: tril or full.", Flags = "--param")]
    [OneOf("tril", "full")]
    public string Param { get; set; } = "tril";

    [Setting("Iteration limit of the iterative solvers (of the stream's final convergence).", Flags = "--max-iter")]
    [Between(0, int.MaxValue)]
    public int MaxIter { get; set; } = 5000;

    [Setting("Gradient tolerance, scale-free (standard deviations).", Flags = "--tolerance")]
    [Between(0, double.MaxValue)]
    public double Tolerance { get; set; } = 1e-10;

    [Setting("Also stop when a step changes J/n by at most this times max(abs(J/n), 1); 0: off.", Flags = "--rel-tolerance")]
    [Between(0, double.MaxValue)]
    public double RelTolerance { get; set; }

    [Setting("Adam: cap on the step in standard deviations.", Flags = "--learning-rate", DefaultText = "(none: the Fisher-scoring step)")]
    [Between(0, double.MaxValue, MinExclusive = true)]
    public double? LearningRate { get; set; }

    [Setting("Fit S + eps I instead of S.", Flags = "--ridge")]
    [Between(0, double.MaxValue)]
    public double Ridge { get; set; }

    [Setting("Shrink S towards (tr S / d) I: auto (Ledoit-Wolf), none, or an intensity in [0, 1].", Flags = "--shrinkage")]
    public string Shrinkage { get; set; } = "none";
}
