using System.Globalization;
using System.Text;
using Confluent.Kafka;
using MvnStream.Core.Formats;

namespace MvnStream.Kafka.Streaming;

/// <summary>
/// The dead-letter record of a rejected input record: its key and value, the reason in header <c>mvnstream.reason</c>
/// (printable ASCII, at most <see cref="MaxReasonChars"/> characters: never raw bytes of the record) and its source in
/// <c>mvnstream.source.topic/partition/offset</c>. A record too large for the dead-letter topic is sent
/// <see cref="Bounded">bounded</see> instead: the first <see cref="PrefixBytes"/> bytes of its value, plus
/// <c>mvnstream.original.size</c> (its value's size in bytes) and <c>mvnstream.truncated=true</c>.
/// </summary>
public static class DeadLetters
{
    public const string ReasonHeader = "mvnstream.reason";
    public const string TopicHeader = "mvnstream.source.topic";
    public const string PartitionHeader = "mvnstream.source.partition";
    public const string OffsetHeader = "mvnstream.source.offset";
    public const string OriginalSizeHeader = "mvnstream.original.size";
    public const string TruncatedHeader = "mvnstream.truncated";

    /// <summary>Bytes of the value (and at most of the key) a bounded dead letter keeps.</summary>
    public const int PrefixBytes = 1024;

    /// <summary>Longest reason header, in characters (ASCII, so bytes).</summary>
    public const int MaxReasonChars = 512;

    /// <summary>Room left for the record's framing when a dead letter is compared with the producer's message size limit.</summary>
    private const int Framing = 512;

    /// <summary>The dead letter of <paramref name="value"/> (null for a record without a value), whole.</summary>
    public static Message<byte[]?, byte[]?> Create(string topic, int partition, long offset, byte[]? key, byte[]? value, string reason) => new()
    {
        Key = key,
        Value = value,
        Headers = new Headers
        {
            { ReasonHeader, Encoding.ASCII.GetBytes(PrintableText.Ascii(reason, MaxReasonChars)) },
            { TopicHeader, Encoding.UTF8.GetBytes(topic) },
            { PartitionHeader, Encoding.ASCII.GetBytes(partition.ToString(CultureInfo.InvariantCulture)) },
            { OffsetHeader, Encoding.ASCII.GetBytes(offset.ToString(CultureInfo.InvariantCulture)) },
        },
    };

    /// <summary>Whether a dead letter would exceed a producer limit of <paramref name="maxMessageBytes"/> (librdkafka's message.max.bytes).</summary>
    public static bool TooLarge(Message<byte[]?, byte[]?> m, int maxMessageBytes)
    {
        ArgumentNullException.ThrowIfNull(m);
        long size = (m.Key?.LongLength ?? 0) + (m.Value?.LongLength ?? 0) + Framing;
        if (m.Headers is not null)
            foreach (var h in m.Headers) size += h.Key.Length + (h.GetValueBytes()?.Length ?? 0) + 8;
        return size > maxMessageBytes;
    }

    /// <summary>Whether <paramref name="m"/> is already bounded (a bounded dead letter is never bounded again).</summary>
    public static bool IsBounded(Message<byte[]?, byte[]?> m) => m?.Headers?.TryGetLastBytes(TruncatedHeader, out _) == true;

    /// <summary>
    /// The bounded form of a dead letter: the same reason and source headers, the first <see cref="PrefixBytes"/> bytes of
    /// its value and of its key, its value's original size and <c>mvnstream.truncated=true</c>.
    /// </summary>
    public static Message<byte[]?, byte[]?> Bounded(Message<byte[]?, byte[]?> m)
    {
        ArgumentNullException.ThrowIfNull(m);
        var headers = new Headers();
        if (m.Headers is not null)
            foreach (var h in m.Headers)
                if (h.Key is ReasonHeader or TopicHeader or PartitionHeader or OffsetHeader) headers.Add(h.Key, h.GetValueBytes());
        headers.Add(OriginalSizeHeader, Encoding.ASCII.GetBytes((m.Value?.LongLength ?? 0).ToString(CultureInfo.InvariantCulture)));
        headers.Add(TruncatedHeader, "true"u8.ToArray());
        return new Message<byte[]?, byte[]?> { Key = Prefix(m.Key), Value = Prefix(m.Value), Headers = headers };
    }

    /// <summary>Errors that a bounded dead letter may avoid: the record is too large (or malformed) for the topic or the producer.</summary>
    public static bool IsSizeError(ErrorCode code) => code is ErrorCode.MsgSizeTooLarge or ErrorCode.InvalidMsgSize or ErrorCode.InvalidRecord;

    private static byte[]? Prefix(byte[]? bytes) => bytes is null || bytes.Length <= PrefixBytes ? bytes : bytes[..PrefixBytes];
}
