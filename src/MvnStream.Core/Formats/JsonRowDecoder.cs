using System.Text.Json;

namespace MvnStream.Core.Formats;

/// <summary>
/// Decodes JSON rows: a flat array of d numbers (one row) or an array of such arrays, from a Kafka record
/// value, a JSON Lines line or one element of a single-document file. Decoding is all-or-nothing: on
/// failure nothing is appended and a learned dimension is forgotten.
/// </summary>
/// <remarks>
/// Strict JSON (Utf8JsonReader), which has no literal for NaN or Infinity; the strings "NaN", "Infinity"
/// and "-Infinity" (System.Text.Json's named floating-point literals) stand for them, and are rejected
/// unless non-finite values are allowed.
/// </remarks>
internal static class JsonRowDecoder
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    [ThreadStatic] private static double[]? t_scratch;

    /// <summary>A flat array (one row) or an array of arrays (many rows).</summary>
    public static string? Decode(ReadOnlySpan<byte> json, ref int dimension, bool allowNonFinite, RowBuffer output) =>
        DecodeCore(json, ref dimension, allowNonFinite, output, singleRow: false);

    /// <summary>Exactly one flat array of numbers (an element of a single-document file).</summary>
    public static string? DecodeSingleRow(ReadOnlySpan<byte> json, ref int dimension, bool allowNonFinite, RowBuffer output) =>
        DecodeCore(json, ref dimension, allowNonFinite, output, singleRow: true);

    private static string? DecodeCore(ReadOnlySpan<byte> json, ref int dimension, bool allowNonFinite, RowBuffer output, bool singleRow)
    {
        int rowsBefore = output.Rows;
        int dimensionBefore = dimension;
        string? reason;
        try
        {
            reason = DecodeUnchecked(json, ref dimension, allowNonFinite, output, singleRow);
        }
        catch (JsonException ex)
        {
            reason = "malformed JSON: " + ex.Message;
        }
        if (reason != null)
        {
            output.Truncate(rowsBefore);
            if (dimensionBefore == 0 && dimension != 0)
            {
                dimension = 0;
                if (output.Rows == 0) output.Reset(0);
            }
        }
        return reason;
    }

    private static string? DecodeUnchecked(ReadOnlySpan<byte> json, ref int dimension, bool allowNonFinite, RowBuffer output, bool singleRow)
    {
        if (json.IndexOfAnyExcept(" \t\r\n"u8) < 0) return RowErrors.Empty;
        var reader = new Utf8JsonReader(json, ReaderOptions);
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
            return $"expected a JSON array of numbers{(singleRow ? "" : " or an array of arrays")}, found {Describe(reader.TokenType)}";

        var peek = reader;
        peek.Read();
        if (peek.TokenType == JsonTokenType.EndArray)
        {
            reader.Read();
        }
        else if (peek.TokenType == JsonTokenType.StartArray && !singleRow)
        {
            reader.Read();
            int row = 0;
            do
            {
                row++;
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    return $"row {row} is {Describe(reader.TokenType)}, not an array of numbers";
                }
                string? rowReason = ReadRow(ref reader, ref dimension, allowNonFinite, output);
                if (rowReason != null) return $"row {row}: {rowReason}";
                reader.Read();
            }
            while (reader.TokenType != JsonTokenType.EndArray);
        }
        else
        {
            string? rowReason = ReadRow(ref reader, ref dimension, allowNonFinite, output);
            if (rowReason != null) return rowReason;
        }

        if (peek.TokenType == JsonTokenType.EndArray) return RowErrors.Empty;
        if (reader.Read()) return "unexpected content after the array";
        return null;
    }

    /// <summary>Reads the row whose StartArray is the current token, up to and including its EndArray.</summary>
    private static string? ReadRow(ref Utf8JsonReader reader, ref int dimension, bool allowNonFinite, RowBuffer output)
    {
        Span<double> dest = dimension > 0 ? AppendRow(output, dimension) : (t_scratch ??= new double[64]);
        int count = 0;
        string? firstBad = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            int index = count++;
            double v;
            switch (reader.TokenType)
            {
                case JsonTokenType.Number:
                    if (!Utf8Double.TryParse(reader.ValueSpan, out v))
                    {
                        firstBad ??= RowErrors.NotANumber(index, reader.ValueSpan);
                        continue;
                    }
                    if (!allowNonFinite && !RowErrors.IsUsable(v))
                    {
                        firstBad ??= RowErrors.NonFinite(index, v, reader.ValueSpan);
                        continue;
                    }
                    break;
                case JsonTokenType.String:
                    if (reader.ValueTextEquals("NaN"u8)) v = double.NaN;
                    else if (reader.ValueTextEquals("Infinity"u8)) v = double.PositiveInfinity;
                    else if (reader.ValueTextEquals("-Infinity"u8)) v = double.NegativeInfinity;
                    else
                    {
                        firstBad ??= RowErrors.NotANumber(index, "\"" + reader.GetString() + "\"");
                        continue;
                    }
                    if (!allowNonFinite)
                    {
                        firstBad ??= RowErrors.NonFinite(index, v, default);
                        continue;
                    }
                    break;
                case JsonTokenType.StartArray:
                case JsonTokenType.StartObject:
                    firstBad ??= $"value {index + 1} is {Describe(reader.TokenType)}, not a number";
                    reader.Skip();
                    continue;
                default:
                    firstBad ??= RowErrors.NotANumber(index, reader.ValueSpan);
                    continue;
            }

            if (index < dest.Length)
            {
                dest[index] = v;
            }
            else if (dimension == 0)
            {
                var grown = new double[dest.Length * 2];
                dest.CopyTo(grown);
                t_scratch = grown;
                dest = grown;
                dest[index] = v;
            }
        }

        if (count == 0) return RowErrors.Empty;
        if (dimension > 0 && count != dimension) return RowErrors.WrongCount(dimension, count);
        if (firstBad != null) return firstBad;
        if (dimension == 0)
        {
            dimension = count;
            if (output.Dimension == 0) output.LearnDimension(count);
            else if (output.Dimension != count) return RowErrors.WrongCount(output.Dimension, count);
            dest[..count].CopyTo(output.AppendRows(1));
        }
        return null;
    }

    private static Span<double> AppendRow(RowBuffer output, int dimension)
    {
        if (output.Dimension == 0) output.LearnDimension(dimension);
        return output.AppendRows(1);
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };
}
