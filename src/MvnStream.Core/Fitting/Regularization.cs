using System.Globalization;

namespace MvnStream.Core.Fitting;

/// <summary>
/// What the user asked for when the scatter may be singular. Applied to the statistics, so every
/// solver fits the same regularised problem and its closed form is the oracle:
/// ridge: S* = M/n + eps I; Ledoit-Wolf shrinkage: S* = (1 - rho) M/n + rho (tr(M/n)/d) I with rho from
/// the Ledoit-Wolf (2004) formula; a fixed shrinkage intensity rho in [0, 1] is also accepted.
/// </summary>
public sealed record Regularization
{
    /// <summary>No regularisation: singular data is an error.</summary>
    public static Regularization None { get; } = new();

    /// <summary>eps &gt;= 0 added to the diagonal of S.</summary>
    public double Ridge { get; init; }

    /// <summary>Shrinkage towards a scaled identity.</summary>
    public ShrinkageMode Shrinkage { get; init; }

    /// <summary>The intensity rho when <see cref="Shrinkage"/> is <see cref="ShrinkageMode.Fixed"/>.</summary>
    public double ShrinkageIntensity { get; init; }

    public bool IsNone => Ridge == 0 && Shrinkage == ShrinkageMode.None;

    /// <summary>Parses the --shrinkage option: "none", "auto" (Ledoit-Wolf) or a number in [0, 1].</summary>
    public static (ShrinkageMode Mode, double Intensity) ParseShrinkage(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t is "none" or "off" or "0") return (ShrinkageMode.None, 0);
        if (t is "auto" or "lw" or "ledoit-wolf") return (ShrinkageMode.LedoitWolf, 0);
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var rho) && rho >= 0 && rho <= 1)
            return (ShrinkageMode.Fixed, rho);
        throw new FormatException($"--shrinkage '{text}': expected 'auto' (Ledoit-Wolf), 'none', or an intensity in [0, 1]");
    }

    public override string ToString()
    {
        var parts = new List<string>();
        if (Ridge > 0) parts.Add(FormattableString.Invariant($"ridge {Ridge:G6}"));
        if (Shrinkage == ShrinkageMode.LedoitWolf) parts.Add("Ledoit-Wolf shrinkage");
        if (Shrinkage == ShrinkageMode.Fixed) parts.Add(FormattableString.Invariant($"shrinkage {ShrinkageIntensity:G6}"));
        return parts.Count == 0 ? "none" : string.Join(" + ", parts);
    }
}

/// <summary>Shrinkage of the covariance towards (tr S / d) I.</summary>
public enum ShrinkageMode
{
    None,
    LedoitWolf,
    Fixed,
}
