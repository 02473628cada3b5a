namespace MvnStream.Core.Formats;

/// <summary>Where a row source reports a rejected row; the reader applies the bad-row policy.</summary>
internal interface IRejectionSink
{
    /// <summary>
    /// Records the row. Under <see cref="BadRowPolicy.Fail"/>, or when <paramref name="fatal"/> (the input
    /// cannot be read past this point), throws <see cref="BadRowException"/>; otherwise returns.
    /// </summary>
    void Reject(RejectedRow row, bool fatal = false);
}
