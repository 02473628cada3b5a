using System.CommandLine;
using System.Globalization;

namespace MvnStream.Cli;

/// <summary>
/// The one syntax of every duration option of every command: a number with a unit, ms, s, m or h (<c>500ms</c>,
/// <c>30s</c>, <c>2m</c>, <c>1h</c>); a bare number is seconds. Options are checked when the command line is parsed
/// (<see cref="Option"/>), so a bad value is a usage error (exit 2) naming the option, never a .NET type.
/// </summary>
internal static class Durations
{
    /// <summary>The help placeholder of every duration option.</summary>
    public const string HelpName = "DURATION";

    /// <summary>What every duration error says is expected.</summary>
    public const string Expected = "expected a duration such as 30s, 500ms or 2m (a bare number is seconds)";

    /// <summary>Parses <paramref name="text"/> into seconds; false for anything else (negative, NaN, infinite, an unknown unit).</summary>
    public static bool TryParseSeconds(string? text, out double seconds)
    {
        seconds = 0;
        if (text is null) return false;
        var t = text.Trim().ToLowerInvariant();
        (string num, double scale) = t.EndsWith("ms", StringComparison.Ordinal) ? (t[..^2], 0.001)
            : t.EndsWith('s') ? (t[..^1], 1.0)
            : t.EndsWith('m') ? (t[..^1], 60.0)
            : t.EndsWith('h') ? (t[..^1], 3600.0)
            : (t, 1.0);
        num = num.TrimEnd();
        if (num.Length == 0 || !char.IsAsciiDigit(num[^1])) return false;
        if (!double.TryParse(num, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v * scale)) return false;
        seconds = v * scale;
        return true;
    }

    /// <summary>Seconds of <paramref name="text"/>, or a <see cref="UsageException"/> naming <paramref name="option"/>.</summary>
    public static double ParseSeconds(string text, string option) =>
        TryParseSeconds(text, out var s) ? s : throw new UsageException(Error(option, text));

    public static string Error(string option, string text) => $"{option} '{text}': {Expected}";

    /// <summary>
    /// A duration option: its value stays the text the user gave (help shows defaults as written, e.g. <c>60s</c>),
    /// checked at parse time; read it with <see cref="ParseSeconds"/>.
    /// </summary>
    public static Option<string?> Option(string name, string description, string? defaultValue = null)
    {
        var o = new Option<string?>(name) { Description = description, HelpName = HelpName };
        if (defaultValue is not null) o.DefaultValueFactory = _ => defaultValue;
        o.Validators.Add(r =>
        {
            foreach (var token in r.Tokens)
                if (!TryParseSeconds(token.Value, out _)) r.AddError(Error(name, token.Value));
        });
        return o;
    }
}
