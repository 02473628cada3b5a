using System.Globalization;
using ScottPlot;

namespace MvnStream.Cli.Plotting;

/// <summary>
/// Two columns of the data and the model's 2-D marginal N((mu_i, mu_j), S restricted to {i, j}) with its 1, 2 and
/// 3-sigma ellipses (the points at Mahalanobis distance 1, 2, 3 from the mean; docs/ARCHITECTURE.md, "The math").
/// </summary>
/// <param name="MuX">mu_i.</param>
/// <param name="MuY">mu_j.</param>
/// <param name="Sxx">S_ii.</param>
/// <param name="Sxy">S_ij.</param>
/// <param name="Syy">S_jj.</param>
/// <param name="Xs">Column i of the rows drawn.</param>
/// <param name="Ys">Column j of the rows drawn.</param>
internal sealed record EllipsePlotData(double MuX, double MuY, double Sxx, double Sxy, double Syy, double[] Xs, double[] Ys,
    string XLabel, string YLabel, string Title, string PointsLabel)
{
    /// <summary>
    /// The point at Mahalanobis distance <paramref name="r"/> and angle <paramref name="t"/>: mu + r L (cos t, sin t), L the
    /// lower Cholesky factor of the 2x2 covariance, so (p - mu)^T S^-1 (p - mu) = r^2 for every t.
    /// </summary>
    public (double X, double Y) OnEllipse(double r, double t)
    {
        double l11 = Math.Sqrt(Sxx), l21 = Sxy / l11, l22 = Math.Sqrt(Math.Max(Syy - l21 * l21, 0));
        double c = Math.Cos(t), s = Math.Sin(t);
        return (MuX + r * l11 * c, MuY + r * (l21 * c + l22 * s));
    }

    /// <summary>The squared Mahalanobis distance of (x, y) from the mean under the 2x2 covariance.</summary>
    public double Mahalanobis2(double x, double y)
    {
        double dx = x - MuX, dy = y - MuY, det = Sxx * Syy - Sxy * Sxy;
        return (Syy * dx * dx - 2 * Sxy * dx * dy + Sxx * dy * dy) / det;
    }
}

/// <summary>
/// Where the plot's data area lies in the image and which data coordinates it shows. The layout is fixed (not measured
/// from the tick labels), so data coordinates map to pixels by this record alone, exactly as ScottPlot maps them
/// (<see cref="EllipsePlot.Build"/> uses it for both): <c>plot --json</c> prints it for anyone who reads the image.
/// </summary>
internal sealed record PlotFrame(int Width, int Height, int Left, int Right, int Top, int Bottom, double XMin, double XMax, double YMin, double YMax)
{
    /// <summary>Pixel coordinates (x to the right, y down, from the image's top-left corner) of data point (x, y).</summary>
    public (double X, double Y) ToPixel(double x, double y) =>
        (Left + (x - XMin) / (XMax - XMin) * (Width - Left - Right), Top + (YMax - y) / (YMax - YMin) * (Height - Top - Bottom));
}

/// <summary>The ellipse plot of <c>mvnstream plot</c>, drawn with ScottPlot.</summary>
internal static class EllipsePlot
{
    /// <summary>Colours of the 1, 2 and 3-sigma ellipses, drawn without anti-aliasing so their pixels have exactly these colours.</summary>
    public static readonly Color[] SigmaColors = [new(214, 39, 40), new(44, 160, 44), new(148, 103, 189)];

    /// <summary>The data area's background (no grid lines are drawn on it).</summary>
    public static readonly Color Background = Colors.White;

    /// <summary>The rows: a blue blended with what is under it, never one of the ellipse colours.</summary>
    public static readonly Color PointColor = new Color(31, 119, 180).WithOpacity(0.35);

    /// <summary>Segments of each ellipse (a 360-gon: its chords are within 1e-4 of the radius of the true ellipse).</summary>
    public const int Segments = 360;

    /// <summary>
    /// The frame of a <paramref name="width"/> x <paramref name="height"/> image: fixed margins for the title, tick labels,
    /// axis labels and (on the right, outside the data area, so it never hides a row or an ellipse) the legend; limits that hold the 3-sigma ellipse and every row drawn, with 4 % to spare on each side.
    /// </summary>
    public static PlotFrame FrameFor(EllipsePlotData data, int width, int height)
    {
        double sx = Math.Sqrt(data.Sxx), sy = Math.Sqrt(data.Syy);
        double xMin = data.MuX - 3 * sx, xMax = data.MuX + 3 * sx, yMin = data.MuY - 3 * sy, yMax = data.MuY + 3 * sy;
        for (int k = 0; k < data.Xs.Length; k++)
        {
            xMin = Math.Min(xMin, data.Xs[k]); xMax = Math.Max(xMax, data.Xs[k]);
            yMin = Math.Min(yMin, data.Ys[k]); yMax = Math.Max(yMax, data.Ys[k]);
        }
        double px = (xMax - xMin) * 0.04, py = (yMax - yMin) * 0.04;
        return new PlotFrame(width, height, Left: 96, Right: 132, Top: 44, Bottom: 60, xMin - px, xMax + px, yMin - py, yMax + py);
    }

    /// <summary>The plot, laid out in <paramref name="frame"/>: rows first, then the ellipses over them, then the mean.</summary>
    public static Plot Build(EllipsePlotData data, PlotFrame frame)
    {
        var plot = new Plot();
        plot.Layout.Fixed(new PixelPadding(frame.Left, frame.Right, frame.Bottom, frame.Top));
        plot.HideGrid();
        plot.DataBackground.Color = Background;
        plot.FigureBackground.Color = Colors.White;

        if (data.Xs.Length > 0)
        {
            var points = plot.Add.ScatterPoints(data.Xs, data.Ys);
            points.MarkerSize = data.Xs.Length > 20_000 ? 2 : 3;
            points.MarkerShape = MarkerShape.FilledCircle;
            points.Color = PointColor;
            points.LegendText = data.PointsLabel;
        }
        for (int k = 0; k < SigmaColors.Length; k++)
        {
            double r = k + 1;
            var xs = new double[Segments + 1];
            var ys = new double[Segments + 1];
            for (int s = 0; s <= Segments; s++) (xs[s], ys[s]) = data.OnEllipse(r, 2 * Math.PI * s / Segments);
            var line = plot.Add.ScatterLine(xs, ys);
            line.Color = SigmaColors[k];
            line.LineWidth = 2;
            line.LineStyle.AntiAlias = false;
            line.LegendText = $"{r.ToString(CultureInfo.InvariantCulture)} sigma";
        }
        var mean = plot.Add.ScatterPoints(new[] { data.MuX }, new[] { data.MuY });
        mean.MarkerShape = MarkerShape.Cross;
        mean.MarkerSize = 10;
        mean.Color = Colors.Black;
        mean.LegendText = "mean";

        plot.ShowLegend(Edge.Right);
        plot.Axes.SetLimits(frame.XMin, frame.XMax, frame.YMin, frame.YMax);
        PlotFonts.Apply(plot);
        plot.Title(data.Title, size: frame.Width < 640 ? 12 : 16);
        plot.Legend.FontSize = frame.Width < 640 ? 10 : 12;
        plot.XLabel(data.XLabel);
        plot.YLabel(data.YLabel);
        return plot;
    }

    /// <summary>The plot as PNG bytes of exactly the frame's size.</summary>
    public static byte[] RenderPng(EllipsePlotData data, PlotFrame frame) =>
        Build(data, frame).GetImageBytes(frame.Width, frame.Height, ImageFormat.Png);
}
