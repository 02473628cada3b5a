namespace MvnStream.Core.Formats;

/// <summary>
/// The encodings of a row of d numbers that files and Kafka record values may use (docs/ARCHITECTURE.md, "Formats"):
/// comma-separated text, raw little-endian doubles, or JSON arrays.
/// </summary>
public enum RowFormat
{
    /// <summary>One row per line, d numbers separated by commas; an optional header line.</summary>
    Csv,

    /// <summary>Rows of d little-endian IEEE-754 doubles, no header; d must be given.</summary>
    F64,

    /// <summary>An array of d numbers or an array of such arrays (JSON Lines, or one document).</summary>
    Json,
}
