using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Options;
using MvnStream.Kafka;

namespace MvnStream.Cli.Configuration;

/// <summary>
/// Checks an options type's bound values against its attributes (<see cref="DurationAttribute"/>, <see cref="ByteSizeAttribute"/>,
/// <see cref="BetweenAttribute"/>, <see cref="OneOfAttribute"/>); each failure names the key, its value, where it came from
/// and why. Values of secret keys are never shown.
/// </summary>
/// <param name="rawOf">The text a key was given as (shown in messages rather than the bound value), or null.</param>
internal sealed class SettingsValidator<T>(string section, Func<string, string> sourceOf, Func<string, string?> rawOf) : IValidateOptions<T> where T : class
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var failures = new List<string>();
        foreach (var p in AppSettings.SettingProperties(typeof(T)))
        {
            string key = $"{section}:{p.Name}";
            object? value = p.GetValue(options);
            if (value is null) continue;
            string? why = Check(p, value);
            if (why is null) continue;
            string shown = KafkaClientSettings.IsSecret(p.Name) ? KafkaClientSettings.Mask
                : rawOf(key) ?? Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
            failures.Add(Message(key, shown, sourceOf(key), why));
        }
        if (options is SolverOptions s)
        {
            try { Core.Fitting.Regularization.ParseShrinkage(s.Shrinkage); }
            catch (FormatException e) { failures.Add(Message(section + ":Shrinkage", s.Shrinkage, sourceOf(section + ":Shrinkage"), e.Message)); }
        }
        if (options is StreamOptions st && Durations.TryParseSeconds(st.StopTimeout, out double stop) && Durations.TryParseSeconds(st.ClientStopWait, out double wait)
            && stop >= wait)
        {
            // The client gives up after ClientStopWait: the coordinator's own stop must end first, or the job's end is never reported.
            string key = section + ":" + nameof(st.StopTimeout);
            failures.Add(Message(key, rawOf(key) ?? st.StopTimeout, sourceOf(key), $"must be below Stream:ClientStopWait ({st.ClientStopWait})"));
        }
        if (options is HttpOptions h)
            foreach (var (property, value) in new[] { (nameof(h.Endpoint), h.Endpoint), (nameof(h.WorkerEndpoint), h.WorkerEndpoint) })
            {
                try { Http.HttpEndpointSpec.Parse(value, value); }
                catch (UsageException e)
                {
                    // HttpEndpointSpec speaks of --http 'VALUE': what follows is the reason.
                    string why = e.Message[(e.Message.IndexOf("': ", StringComparison.Ordinal) is int i and >= 0 ? i + 3 : 0)..];
                    failures.Add(Message(section + ":" + property, value, sourceOf(section + ":" + property), why));
                }
            }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>
    /// "setting KEY = 'VALUE' (SOURCE): WHY"; a value given by a flag is said in the flag's terms, "--flag 'VALUE': WHY
    /// (setting KEY)", as every other command-line error.
    /// </summary>
    internal static string Message(string key, string value, string source, string why) =>
        source.StartsWith('-') ? $"{source.Split(' ')[0]} '{value}': {why} (setting {key})" : $"setting {key} = '{value}' ({source}): {why}";

    private static string? Check(PropertyInfo p, object value)
    {
        static string Inv(double v) => v.ToString(CultureInfo.InvariantCulture);
        if (p.GetCustomAttribute<DurationAttribute>() is { } d)
        {
            if (!Durations.TryParseSeconds((string)value, out double seconds)) return Durations.Expected;
            if (d.MinExclusive ? !(seconds > d.Min) : !(seconds >= d.Min))
                return d.MinExclusive && d.Min == 0 ? "must be a positive duration" : $"must be at least {Inv(d.Min)} s";
            if (seconds > d.Max) return $"must be at most {Inv(d.Max)} s";
        }
        if (p.GetCustomAttribute<ByteSizeAttribute>() is { } b)
        {
            if (ByteSizes.Parse((string)value) is not { } bytes) return "expected a size such as 32MiB, 512KiB or a number of bytes";
            if (bytes < b.Min) return $"must be at least {b.Min} bytes";
        }
        if (p.GetCustomAttribute<BetweenAttribute>() is { } r)
        {
            double v = Convert.ToDouble(value, CultureInfo.InvariantCulture);
            if (!double.IsFinite(v)) return "must be a finite number";
            if (r.MinExclusive ? !(v > r.Min) : !(v >= r.Min)) return r.MinExclusive ? $"must be greater than {Inv(r.Min)}" : $"must be at least {Inv(r.Min)}";
            if (v > r.Max) return $"must be at most {Inv(r.Max)}";
        }
        if (p.GetCustomAttribute<OneOfAttribute>() is { } o && !o.Values.Contains(((string)value).Trim(), StringComparer.OrdinalIgnoreCase))
            return $"expected one of {string.Join(", ", o.Values)}";
        return null;
    }
}

/// <summary>Sizes in settings: a number of bytes, or a number with B, KiB, MiB, GiB (or KB, MB, GB, as powers of 1024).</summary>
internal static class ByteSizes
{
    public static long? Parse(string text)
    {
        var t = text.Trim();
        int i = 0;
        while (i < t.Length && (char.IsAsciiDigit(t[i]) || t[i] == '.')) i++;
        if (i == 0 || !double.TryParse(t[..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n)) return null;
        double scale = t[i..].Trim().ToLowerInvariant() switch
        {
            "" or "b" => 1,
            "k" or "kb" or "kib" => 1L << 10,
            "m" or "mb" or "mib" => 1L << 20,
            "g" or "gb" or "gib" => 1L << 30,
            _ => 0,
        };
        double bytes = n * scale;
        return scale == 0 || bytes > long.MaxValue ? null : (long)bytes;
    }
}
