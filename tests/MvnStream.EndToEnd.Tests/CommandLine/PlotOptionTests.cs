using MvnStream.Cli;
using MvnStream.Cli.Commands;
using MvnStream.Cli.Plotting;
using MvnStream.EndToEnd.Tests.Support;

namespace MvnStream.EndToEnd.Tests.CommandLine;

/// <summary>The plotting pieces in process: option parsing, the ellipse points, and the convergence plot's edge cases.</summary>
public sealed class PlotOptionTests
{
    [Theory]
    [InlineData("800x600", 800, 600)]
    [InlineData(" 1200X900 ", 1200, 900)]
    [InlineData("200x10000", 200, 10000)]
    public void Sizes_parse(string text, int w, int h) => Assert.Equal((w, h), PlotFiles.ParseSize(text, "--size"));

    [Theory]
    [InlineData("800")]
    [InlineData("800x")]
    [InlineData("-800x600")]
    [InlineData("800x600x2")]
    [InlineData("199x600")]
    [InlineData("800x10001")]
    public void Bad_sizes_are_usage_errors_naming_the_option(string text)
    {
        var e = Assert.Throws<UsageException>(() => PlotFiles.ParseSize(text, "--plot-size"));
        Assert.StartsWith("--plot-size ", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0,1", 0, 1)]
    [InlineData("5, 2", 5, 2)]
    public void Dims_parse(string text, int i, int j) => Assert.Equal((i, j), PlotCommand.ParseDims(text));

    [Theory]
    [InlineData("0")]
    [InlineData("0,1,2")]
    [InlineData("-1,2")]
    [InlineData("a,b")]
    [InlineData("3,3")]
    public void Bad_dims_are_usage_errors(string text) => Assert.StartsWith("--dims ", Assert.Throws<UsageException>(() => PlotCommand.ParseDims(text)).Message, StringComparison.Ordinal);

    [Fact]
    public void Ellipse_points_are_at_the_mahalanobis_distance_of_their_ring()
    {
        var data = new EllipsePlotData(3, -1, 4, -2.9, 2.5, [], [], "x", "y", "t", "rows");
        for (int r = 1; r <= 3; r++)
            for (int k = 0; k < 36; k++)
            {
                var (x, y) = data.OnEllipse(r, 2 * Math.PI * k / 36);
                Assert.True(Math.Abs(data.Mahalanobis2(x, y) - r * r) < 1e-9 * r * r, $"ring {r}, point {k}: Mahalanobis^2 {data.Mahalanobis2(x, y)}");
            }
    }

    /// <summary>One point (the closed form), gaps of exactly 0 and negative gaps (rounding) still give a PNG of the size asked.</summary>
    [Fact]
    public void Convergence_plots_of_one_point_or_non_positive_gaps_are_valid_pngs()
    {
        var one = new ConvergencePlot();
        one.Add(0, 0.0);
        Assert.Equal((400, 300), PngImage.ReadSize(one.RenderPng("closed form", "iteration", 400, 300)));
        var mixed = new ConvergencePlot();
        foreach (var (x, g) in new[] { (1.0, 3e-2), (2.0, 1e-7), (3.0, -1e-17), (3.0, 0.0) }) mixed.Add(x, g);
        Assert.Equal(3, mixed.Points.Count); // a repeated iteration replaces its point
        var png = PngImage.Read(mixed.RenderPng("mixed", "iteration", 640, 480));
        Assert.Equal((640, 480), (png.Width, png.Height));
    }
}
