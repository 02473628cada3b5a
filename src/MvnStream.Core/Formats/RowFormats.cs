namespace MvnStream.Core.Formats;

/// <summary>
/// Names of <see cref="RowFormat"/> as the CLI and configuration spell them (<c>csv</c>, <c>f64</c>,
/// <c>json</c>), and the format implied by a file's extension, so that callers share one mapping.
/// </summary>
public static class RowFormats
{
    /// <summary>
    /// The format implied by <paramref name="path"/>'s extension: .csv/.txt are csv, .f64/.bin are f64,
    /// .json/.jsonl/.ndjson are json (case-insensitive).
    /// </summary>
    /// <exception cref="FormatException">The extension is missing or not one of those.</exception>
    public static RowFormat FromExtension(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string ext = Path.GetExtension(path);
        return ext.ToLowerInvariant() switch
        {
            ".csv" or ".txt" => RowFormat.Csv,
            ".f64" or ".bin" => RowFormat.F64,
            ".json" or ".jsonl" or ".ndjson" => RowFormat.Json,
            "" => throw new FormatException(
                $"cannot tell the row format of '{path}': it has no extension; give it with --format csv|f64|json"),
            _ => throw new FormatException(
                $"cannot tell the row format of '{path}' from its extension '{ext}'; give it with --format csv|f64|json"),
        };
    }

    /// <summary>Parses a format name: csv, f64 or json (case-insensitive; jsonl and ndjson mean json).</summary>
    /// <exception cref="FormatException">The name is none of those.</exception>
    public static RowFormat Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant() switch
        {
            "csv" => RowFormat.Csv,
            "f64" => RowFormat.F64,
            "json" or "jsonl" or "ndjson" => RowFormat.Json,
            _ => throw new FormatException($"unknown row format '{name}'; expected csv, f64 or json"),
        };
    }

    /// <summary>The name <see cref="Parse"/> accepts for <paramref name="format"/>.</summary>
    public static string ToName(this RowFormat format) => format switch
    {
        RowFormat.Csv => "csv",
        RowFormat.F64 => "f64",
        RowFormat.Json => "json",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown row format"),
    };
}
