using System.Globalization;
using ScottPlot;

namespace MvnStream.Cli.Plotting;

/// <summary>
/// The convergence plot of <c>fit --plot</c>: J - J* per row against the iteration (or cluster round), on a log y-axis.
/// Points are recorded from the progress the fit reports anyway (one per solver iteration; the closed form reports one).
/// </summary>
internal sealed class ConvergencePlot
{
    private readonly List<(double X, double Gap)> _points = [];

    /// <summary>The points recorded so far, in order.</summary>
    public IReadOnlyList<(double X, double Gap)> Points => _points;

    /// <summary>Records the gap after iteration (or round) <paramref name="x"/>; a repeated x replaces the earlier point.</summary>
    public void Add(double x, double gapPerRow)
    {
        if (_points.Count > 0 && _points[^1].X == x) _points[^1] = (x, gapPerRow);
        else _points.Add((x, gapPerRow));
    }

    /// <summary>
    /// The plot as PNG bytes of exactly <paramref name="width"/> x <paramref name="height"/> pixels. A gap that is not
    /// positive (J reached J* to rounding) cannot be drawn on a log axis: it is drawn at a floor (a tenth of the smallest
    /// positive gap, or 1e-16) with a marker of its own, named in the legend.
    /// </summary>
    public byte[] RenderPng(string title, string xLabel, int width, int height)
    {
        if (_points.Count == 0) throw new InvalidOperationException("no progress was recorded");
        double minPositive = _points.Where(p => p.Gap > 0 && double.IsFinite(p.Gap)).Select(p => p.Gap).DefaultIfEmpty(1e-15).Min();
        double floor = minPositive / 10;
        double Log(double gap) => Math.Log10(gap > 0 && double.IsFinite(gap) ? gap : floor);

        var plot = new Plot();
        var xs = _points.Select(p => p.X).ToArray();
        var ys = _points.Select(p => Log(p.Gap)).ToArray();
        var line = plot.Add.Scatter(xs, ys);
        line.LegendText = "J - J* per row";
        line.LineWidth = 2;
        line.MarkerSize = _points.Count <= 60 ? 5 : 0;
        var atFloor = _points.Where(p => !(p.Gap > 0 && double.IsFinite(p.Gap))).ToArray();
        if (atFloor.Length > 0)
        {
            var marks = plot.Add.ScatterPoints(atFloor.Select(p => p.X).ToArray(), atFloor.Select(_ => Math.Log10(floor)).ToArray());
            marks.MarkerShape = MarkerShape.OpenCircle;
            marks.MarkerSize = 10;
            marks.Color = Colors.Red;
            marks.LegendText = string.Create(CultureInfo.InvariantCulture, $"J - J* <= 0, drawn at {floor:0.#e+00}");
        }
        plot.ShowLegend(Alignment.UpperRight);

        var ticks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => "1e" + y.ToString("0", CultureInfo.InvariantCulture),
        };
        plot.Axes.Left.TickGenerator = ticks;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Grid.MajorLineColor = Colors.Black.WithOpacity(0.15);
        plot.Grid.MinorLineColor = Colors.Black.WithOpacity(0.05);
        plot.Grid.MinorLineWidth = 1;

        // Limits of our own: one point (the closed form) or a flat run has no span to autoscale.
        double xMin = xs.Min(), xMax = xs.Max(), yMin = ys.Min(), yMax = ys.Max();
        if (xMax - xMin < 1) { xMin -= 1; xMax += 1; }
        double yLow = Math.Floor(yMin) - (yMin - Math.Floor(yMin) < 0.2 ? 1 : 0), yHigh = Math.Ceiling(yMax) + (Math.Ceiling(yMax) - yMax < 0.2 ? 1 : 0);
        double xPad = (xMax - xMin) * 0.03;
        plot.Axes.SetLimits(xMin - xPad, xMax + xPad, yLow, yHigh);

        PlotFonts.Apply(plot);
        // Text sized for the image: a title of 16 pt runs off a 400-pixel-wide image.
        plot.Title(title, size: width < 640 ? 12 : 16);
        plot.Legend.FontSize = width < 640 ? 10 : 12;
        plot.XLabel(xLabel);
        plot.YLabel("J - J* per row (log scale)");
        return plot.GetImageBytes(width, height, ImageFormat.Png);
    }
}
