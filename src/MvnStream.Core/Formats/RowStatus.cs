namespace MvnStream.Core.Formats;

/// <summary>The outcome of parsing one text row; anything but <see cref="Ok"/> rejects it.</summary>
internal enum RowStatus : byte
{
    Ok,
    Empty,
    WrongCount,
    NotANumber,
    /// <summary>NaN, ±Infinity, or a finite value beyond <see cref="RowErrors.MaxMagnitude"/>.</summary>
    NonFinite,
}
