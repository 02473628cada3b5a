namespace MvnStream.Cluster.Logging;

/// <summary>How log lines are written on stderr (docs/ARCHITECTURE.md, "Logging").</summary>
public enum LogFormat
{
    /// <summary>Human-readable: <c>[WARNING] 22:01:02.345 CATEGORY: message</c>.</summary>
    Text,

    /// <summary>One JSON object per line: timestamp, level, category, message, and role and address when known.</summary>
    Json,
}
