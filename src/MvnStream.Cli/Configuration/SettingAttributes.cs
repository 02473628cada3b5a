namespace MvnStream.Cli.Configuration;

/// <summary>
/// A setting of an options type (README "Configuration"): its meaning, the command-line flags that set it, and, for a
/// setting whose default is not its property's initial value (an unset one that falls back elsewhere), the default as
/// documented.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class SettingAttribute(string meaning) : Attribute
{
    public string Meaning { get; } = meaning;

    /// <summary>Flags that set this key (comma-separated), e.g. "--batch-rows"; empty: settings only.</summary>
    public string Flags { get; init; } = "";

    /// <summary>The default as the reference shows it, when the property's value is null.</summary>
    public string? DefaultText { get; init; }
}

/// <summary>A duration setting ("30s", "500ms", "2m"; a bare number is seconds) within [Min, Max] seconds.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class DurationAttribute : Attribute
{
    public double Min { get; init; }
    public bool MinExclusive { get; init; } = true;
    public double Max { get; init; } = double.MaxValue;
}

/// <summary>A byte size setting ("32MiB", "4 KiB", "1048576") of at least Min bytes.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class ByteSizeAttribute(long min) : Attribute
{
    public long Min { get; } = min;
}

/// <summary>A number within [Min, Max] (an int or a double property).</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class BetweenAttribute(double min, double max) : Attribute
{
    public double Min { get; } = min;
    public double Max { get; } = max;
    public bool MinExclusive { get; init; }
}

/// <summary>One of a fixed set of words (case-insensitive).</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class OneOfAttribute(params string[] values) : Attribute
{
    public IReadOnlyList<string> Values { get; } = values;
}
