namespace MvnStream.Core.Formats;

/// <summary>
/// A row that failed validation, with enough of its location to find it in the input:
/// the source (file path), the 1-based line (for f64, the 1-based row number), the byte offset
/// where the row starts, why it was rejected and (for text formats) the row's text, shortened.
/// </summary>
/// <param name="Source">The file the row came from, as the caller named it.</param>
/// <param name="Line">1-based line number; for f64 input (<see cref="IsBinary"/>), the 1-based row number.</param>
/// <param name="ByteOffset">Offset of the row's first byte in the file.</param>
/// <param name="Reason">Why the row was rejected, e.g. "expected 5 values, found 4".</param>
/// <param name="Text">The row's text (at most a few hundred characters), or null for binary rows.</param>
public sealed record RejectedRow(string Source, long Line, long ByteOffset, string Reason, string? Text)
{
    /// <summary>True for f64 rows: <see cref="Line"/> then holds the row number, not a line number.</summary>
    public bool IsBinary { get; init; }

    /// <summary>"data.csv:17: reason", or for f64 "data.f64: row 12 (byte 480): reason".</summary>
    public override string ToString() =>
        IsBinary ? $"{Source}: row {Line} (byte {ByteOffset}): {Reason}" : $"{Source}:{Line}: {Reason}";
}
