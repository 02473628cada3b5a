using System.Globalization;

namespace MvnStream.Cli.Plotting;

/// <summary>
/// Checks and writes of PNG plot files (<c>fit --plot</c>, <c>plot --out</c>), and the WxH image sizes they take. The output
/// path is checked before any work, so a long fit never ends on an unwritable plot path.
/// </summary>
internal static class PlotFiles
{
    /// <summary>The image size when none is given.</summary>
    public const int DefaultWidth = 800, DefaultHeight = 600;

    /// <summary>Smallest and largest side accepted: below the minimum the axes and labels leave no room to plot.</summary>
    public const int MinSide = 200, MaxSide = 10_000;

    /// <summary>"WxH" (e.g. 800x600) into pixels; a usage error naming <paramref name="option"/> when it is not that or out of range.</summary>
    public static (int Width, int Height) ParseSize(string text, string option)
    {
        var parts = text.Trim().ToLowerInvariant().Split('x');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int w)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int h))
            throw new UsageException($"{option} '{text}': expected WIDTHxHEIGHT in pixels, e.g. {DefaultWidth}x{DefaultHeight}");
        if (w < MinSide || h < MinSide || w > MaxSide || h > MaxSide)
            throw new UsageException($"{option} {w}x{h}: each side must be {MinSide} to {MaxSide} pixels");
        return (w, h);
    }

    /// <summary>
    /// Refuses (usage error naming <paramref name="option"/>) a plot path that could not be written: not a .png name, a
    /// directory, a directory that does not exist or is a file, or a directory this process cannot create files in (tried
    /// with a temporary file that is deleted at once).
    /// </summary>
    public static void CheckWritable(string path, string option)
    {
        if (!path.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"{option} {path}: plots are written as PNG; give a path ending in .png");
        if (Directory.Exists(path)) throw new UsageException($"{option} {path}: is a directory; give the path of the PNG file to write");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (File.Exists(dir)) throw new UsageException($"{option} {path}: '{dir}' is a file, not a directory");
        if (!Directory.Exists(dir)) throw new UsageException($"{option} {path}: directory '{dir}' does not exist");
        var probe = Path.Combine(dir, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.probe");
        try
        {
            using var f = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
            f.WriteByte(0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{option} {path}: cannot write in '{dir}': {e.Message}");
        }
    }

    /// <summary>Writes <paramref name="png"/> atomically (a temporary file in the same directory, renamed over the path).</summary>
    public static void Write(string path, byte[] png) => MvnStream.Core.IO.Durability.ReplaceFile(path, f =>
    {
        f.Write(png);
        return true;
    });
}

/// <summary>
/// Text in plots needs a font file: SkiaSharp's Linux library (the NoDependencies build, without fontconfig) reads the
/// fonts under /usr/share/fonts. Without any (a slim container image) the image is drawn with no text at all; the user is told.
/// </summary>
internal static class PlotFonts
{
    /// <summary>Sans-serif families preferred for text, the first installed one wins (Skia's default is whichever it finds first).</summary>
    private static readonly string[] Preferred = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica"];

    /// <summary>A note for stderr when no font is installed, else null.</summary>
    public static string? MissingFontsNote() =>
        SkiaSharp.SKTypeface.Default.GlyphCount > 0 ? null
            : "note: no font is installed (SkiaSharp reads /usr/share/fonts): the plot has no text (title, tick labels, legend); install one, e.g. Debian's fonts-dejavu-core";

    /// <summary>Sets every text of <paramref name="plot"/> in the first preferred family that is installed, if any is.</summary>
    public static void Apply(ScottPlot.Plot plot)
    {
        var installed = SkiaSharp.SKFontManager.Default.FontFamilies.ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (Preferred.FirstOrDefault(installed.Contains) is { } family) plot.Font.Set(family);
    }
}
