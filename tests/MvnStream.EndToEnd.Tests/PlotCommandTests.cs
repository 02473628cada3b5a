using System.Globalization;
using System.Text.Json.Nodes;
using MvnStream.Cli.Plotting;
using MvnStream.Core.Model;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests;

/// <summary>
/// <c>mvnstream plot</c> and <c>fit --plot</c> as real processes: the PNG files are read by hand (<see cref="PngImage"/>),
/// and the ellipse plot's pixels are checked against the math (a point on the 2-sigma ellipse of a known model lands on a
/// pixel of the 2-sigma colour), not against a stored image.
/// </summary>
public sealed class PlotCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "plot");

    public void Dispose() => _scope.Dispose();

    /// <summary>
    /// A known model, d = 3: mu = (100, -2, 0.5), sd = (20, 1, 0.3), corr(0, 2) = -0.8 (columns in units 70x apart, so a
    /// mapping that mixed up the axes or their scales would show), and rows drawn from it.
    /// </summary>
    private static (double[] Mu, double[] S) KnownModel()
    {
        double[] mu = [100, -2, 0.5], sd = [20, 1, 0.3];
        double[] r = [1, 0.2, -0.8, 0.2, 1, 0.1, -0.8, 0.1, 1];
        var s = new double[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) s[i * 3 + j] = sd[i] * sd[j] * r[i * 3 + j];
        return (mu, s);
    }

    private (string Model, string Data, double[] Rows) WriteKnownModelAndRows(int n, int seed)
    {
        var (mu, s) = KnownModel();
        var l = Linalg.Cholesky(s, 3);
        var modelPath = _scope.PathOf("known-model.json");
        new MvnModel { Theta = new MvnParameters(mu, l, Parameterization.LowerTriangular), N = n, Solver = "closed-form", StopReason = MvnStream.Core.Solvers.StopReason.ClosedForm }.Save(modelPath);
        var rng = new Random(seed);
        var rows = new double[n * 3];
        for (int k = 0; k < n; k++)
        {
            var z = new double[3];
            for (int i = 0; i < 3; i++) z[i] = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            for (int i = 0; i < 3; i++)
            {
                double v = mu[i];
                for (int j = 0; j <= i; j++) v += l[i * 3 + j] * z[j];
                rows[k * 3 + i] = v;
            }
        }
        var data = _scope.PathOf("rows.csv");
        MvnSample.WriteLines(data, Enumerable.Range(0, n).Select(k => string.Join(',', rows.AsSpan(k * 3, 3).ToArray().Select(MvnSample.Format))));
        return (modelPath, data, rows);
    }

    /// <summary>The data-to-pixel mapping that 'plot --json' prints (fixed margins and axis limits).</summary>
    private sealed record Mapping(int Width, int Height, int Left, int Right, int Top, int Bottom, double XMin, double XMax, double YMin, double YMax)
    {
        public static Mapping From(JsonObject o)
        {
            var m = o["margins"]!.AsObject();
            var a = o["axes"]!.AsObject();
            return new((int)o["width"]!, (int)o["height"]!, (int)m["left"]!, (int)m["right"]!, (int)m["top"]!, (int)m["bottom"]!,
                (double)a["xMin"]!, (double)a["xMax"]!, (double)a["yMin"]!, (double)a["yMax"]!);
        }

        public (double X, double Y) Pixel(double x, double y) =>
            (Left + (x - XMin) / (XMax - XMin) * (Width - Left - Right), Top + (YMax - y) / (YMax - YMin) * (Height - Top - Bottom));
    }

    /// <summary>
    /// The point of the r-sigma ellipse of the 2x2 covariance [[a, b], [b, c]] at angle t, through its eigenvectors (not the
    /// Cholesky factor the command uses): mu + r (sqrt(l1) cos t v1 + sqrt(l2) sin t v2).
    /// </summary>
    private static (double X, double Y) OnEllipse(double mx, double my, double a, double b, double c, double r, double t)
    {
        double mid = (a + c) / 2, half = Math.Sqrt((a - c) * (a - c) / 4 + b * b);
        double l1 = mid + half, l2 = mid - half;
        double v1x = b, v1y = l1 - a, n1 = Math.Sqrt(v1x * v1x + v1y * v1y);
        (v1x, v1y) = (v1x / n1, v1y / n1);
        double v2x = -v1y, v2y = v1x;
        double u = r * Math.Sqrt(l1) * Math.Cos(t), w = r * Math.Sqrt(l2) * Math.Sin(t);
        return (mx + u * v1x + w * v2x, my + u * v1y + w * v2y);
    }

    private static bool AnyPixelWithin(PngImage png, double px, double py, double radius, (byte R, byte G, byte B) colour)
    {
        for (int y = (int)Math.Floor(py - radius - 1); y <= (int)Math.Ceiling(py + radius); y++)
            for (int x = (int)Math.Floor(px - radius - 1); x <= (int)Math.Ceiling(px + radius); x++)
            {
                double dx = x + 0.5 - px, dy = y + 0.5 - py;
                if (dx * dx + dy * dy <= radius * radius && png.Rgb(x, y) == colour) return true;
            }
        return false;
    }

    [Fact]
    public async Task The_2_sigma_ellipse_is_drawn_where_the_math_puts_it_and_far_points_are_background()
    {
        const int n = 3000, w = 700, h = 520;
        var (modelPath, data, rows) = WriteKnownModelAndRows(n, seed: 8101);
        var (mu, s) = KnownModel();
        var png = _scope.PathOf("ellipse.png");
        var run = (await _scope.RunAsync("plot", "--model", modelPath, "--data", data, "--dims", "0,2", "--out", png, "--size", $"{w}x{h}", "--json")).ExpectExit(0);
        var summary = JsonNode.Parse(run.Stdout)!.AsObject();
        var map = Mapping.From(summary);
        Assert.True(map.Width == w && map.Height == h, $"--json says {map.Width}x{map.Height}, expected {w}x{h}");
        Assert.Equal(n, (long)summary["rowsDrawn"]!);

        var image = PngImage.Read(png);
        Assert.True(image.Width == w && image.Height == h, $"the PNG is {image.Width}x{image.Height}, expected {w}x{h}");
        var c1 = EllipsePlot.SigmaColors[0];
        var c2 = EllipsePlot.SigmaColors[1];
        (byte, byte, byte) two = (c2.R, c2.G, c2.B), one = (c1.R, c1.G, c1.B);

        // The marginal of columns 0 and 2: (mu_0, mu_2) and S restricted to {0, 2}.
        double a = s[0], b = s[2], c = s[8];
        var misses = new List<string>();
        for (int k = 0; k < 24; k++)
        {
            double t = 2 * Math.PI * k / 24;
            var (x, y) = OnEllipse(mu[0], mu[2], a, b, c, 2, t);
            double m2 = (c * (x - mu[0]) * (x - mu[0]) - 2 * b * (x - mu[0]) * (y - mu[2]) + a * (y - mu[2]) * (y - mu[2])) / (a * c - b * b);
            Assert.True(Math.Abs(m2 - 4) < 1e-9, $"the test's own ellipse point is at Mahalanobis^2 {m2}, not 4");
            var (px, py) = map.Pixel(x, y);
            if (!AnyPixelWithin(image, px, py, 2, two)) misses.Add(FormattableString.Invariant($"t = {t:F3}: ({x:G6}, {y:G6}) -> pixel ({px:F1}, {py:F1}): no 2-sigma pixel within 2 px"));
            // Between the 1 and 2-sigma ellipses (r = 1.5) there is neither colour: the rings are where they belong, not smeared.
            var (qx, qy) = OnEllipse(mu[0], mu[2], a, b, c, 1.5, t);
            var (qpx, qpy) = map.Pixel(qx, qy);
            if (AnyPixelWithin(image, qpx, qpy, 2, two) || AnyPixelWithin(image, qpx, qpy, 2, one))
                misses.Add(FormattableString.Invariant($"t = {t:F3}: the r = 1.5 point, pixel ({qpx:F1}, {qpy:F1}), has a 1 or 2-sigma pixel within 2 px"));
        }
        Assert.True(misses.Count == 0, string.Join("\n", misses));

        // Far outside every ellipse (Mahalanobis > 4.5) and no row within 8 px: the data area's background, exactly.
        var white = (EllipsePlot.Background.R, EllipsePlot.Background.G, EllipsePlot.Background.B);
        int checkedCorners = 0;
        foreach (var (fx, fy) in new[] { (0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9) })
        {
            double x = map.XMin + fx * (map.XMax - map.XMin), y = map.YMin + fy * (map.YMax - map.YMin);
            double m2 = (c * (x - mu[0]) * (x - mu[0]) - 2 * b * (x - mu[0]) * (y - mu[2]) + a * (y - mu[2]) * (y - mu[2])) / (a * c - b * b);
            var (px, py) = map.Pixel(x, y);
            bool rowNear = Enumerable.Range(0, n).Any(k =>
            {
                var (rx, ry) = map.Pixel(rows[k * 3], rows[k * 3 + 2]);
                return Math.Abs(rx - px) < 8 && Math.Abs(ry - py) < 8;
            });
            if (m2 < 4.5 * 4.5 || rowNear) continue;
            checkedCorners++;
            for (int dy = -2; dy <= 2; dy++)
                for (int dx = -2; dx <= 2; dx++)
                {
                    var got = image.Rgb((int)px + dx, (int)py + dy);
                    Assert.True(got == white, FormattableString.Invariant($"pixel ({(int)px + dx}, {(int)py + dy}) at data ({x:G6}, {y:G6}), Mahalanobis {Math.Sqrt(m2):F1}, is {got}, expected the background {white}"));
                }
        }
        // corr(0, 2) = -0.8: the upper-left and lower-right corners are far from the ellipses.
        Assert.True(checkedCorners >= 2, $"only {checkedCorners} corners of the data area were far from every ellipse and row");
    }

    /// <summary>
    /// The mapping is ScottPlot's own: for the plot object the command renders, ScottPlot's GetPixel gives the pixel that
    /// the frame (what --json prints) computes, at the data area's corners and inside it.
    /// </summary>
    [Fact]
    public void The_frame_the_command_prints_is_the_transform_ScottPlot_renders_with()
    {
        var (mu, s) = KnownModel();
        var rng = new Random(3);
        var xs = Enumerable.Range(0, 200).Select(_ => mu[0] + 20 * (rng.NextDouble() - 0.5) * 4).ToArray();
        var ys = Enumerable.Range(0, 200).Select(_ => mu[2] + 0.3 * (rng.NextDouble() - 0.5) * 4).ToArray();
        var data = new EllipsePlotData(mu[0], mu[2], s[0], s[2], s[8], xs, ys, "x", "y", "title", "rows");
        var frame = EllipsePlot.FrameFor(data, 640, 480);
        var plot = EllipsePlot.Build(data, frame);
        var bytes = plot.GetImageBytes(640, 480, ScottPlot.ImageFormat.Png);
        Assert.Equal((640, 480), PngImage.ReadSize(bytes));
        foreach (var (x, y) in new[] { (frame.XMin, frame.YMin), (frame.XMax, frame.YMax), (mu[0], mu[2]), (xs[7], ys[9]) })
        {
            var p = plot.GetPixel(new ScottPlot.Coordinates(x, y));
            var (fx, fy) = frame.ToPixel(x, y);
            Assert.True(Math.Abs(p.X - fx) < 1e-3 && Math.Abs(p.Y - fy) < 1e-3,
                FormattableString.Invariant($"data ({x}, {y}): ScottPlot draws at ({p.X}, {p.Y}), the frame says ({fx}, {fy})"));
        }
        Assert.Equal((frame.Left, frame.Top, 640 - frame.Right, 480 - frame.Bottom),
            ((int)plot.RenderManager.LastRender.DataRect.Left, (int)plot.RenderManager.LastRender.DataRect.Top,
                (int)plot.RenderManager.LastRender.DataRect.Right, (int)plot.RenderManager.LastRender.DataRect.Bottom));
    }

    [Fact]
    public async Task Max_points_draws_a_sample_and_the_same_file_gives_the_same_picture()
    {
        var (modelPath, data, _) = WriteKnownModelAndRows(4000, seed: 8102);
        string[] Args(string png) => ["plot", "-m", modelPath, "--data", data, "--max-points", "500", "--out", _scope.PathOf(png), "--json"];
        var first = (await _scope.RunAsync(Args("a.png"))).ExpectExit(0);
        (await _scope.RunAsync(Args("b.png"))).ExpectExit(0);
        var o = JsonNode.Parse(first.Stdout)!.AsObject();
        Assert.True((long)o["rows"]! == 4000 && (long)o["rowsDrawn"]! == 500, $"expected 500 of 4000 rows drawn: {o}");
        Assert.Equal(File.ReadAllBytes(_scope.PathOf("a.png")), File.ReadAllBytes(_scope.PathOf("b.png")));
        Assert.Equal((PlotFiles.DefaultWidth, PlotFiles.DefaultHeight), PngImage.ReadSize(File.ReadAllBytes(_scope.PathOf("a.png"))));
    }

    public static TheoryData<string, int, string> BadPlotInputs() => new()
    {
        { "-m missing.json --data rows.csv", 2, "model file 'missing.json' does not exist" },
        { "-m truth.json --data rows.csv", 3, "is a truth file" },
        { "-m known-model.json --data missing.csv", 2, "data file 'missing.csv' does not exist" },
        { "-m known-model.json --data rows.csv --dims 0,3", 2, "--dims 0,3: the model known-model.json has d = 3 (columns 0 to 2)" },
        { "-m known-model.json --data rows.csv --dims 1,1", 2, "--dims 1,1: give two different columns" },
        { "-m known-model.json --data rows.csv --dims x", 2, "--dims 'x': expected two 0-based column numbers" },
        { "-m known-model.json --data two-columns.csv", 3, "two-columns.csv has 2 columns but the model known-model.json has d = 3" },
        { "-m known-model.json --data rows.csv --size 640", 2, "--size '640': expected WIDTHxHEIGHT" },
        { "-m known-model.json --data rows.csv --size 100x80", 2, "--size 100x80: each side must be 200 to 10000 pixels" },
        { "-m known-model.json --data rows.csv --max-points 0", 2, "--max-points 0: must be positive" },
        { "-m known-model.json --data rows.csv --out plot.jpg", 2, "--out plot.jpg: plots are written as PNG" },
        { "-m known-model.json --data rows.csv --out no-such-dir/plot.png", 2, "no-such-dir' does not exist" },
        { "-m known-model.json --data rows.csv --out rows.csv/plot.png", 2, "is a file, not a directory" },
        { "-m known-model.json --data rows.csv --out /proc/plot.png", 2, "--out /proc/plot.png: cannot write in '/proc'" },
    };

    [Theory]
    [MemberData(nameof(BadPlotInputs))]
    public async Task Bad_input_exits_with_the_documented_code_and_says_why(string args, int code, string reason)
    {
        WriteKnownModelAndRows(50, seed: 8103);
        (await _scope.RunAsync("generate", "--dim", "3", "--rows", "10", "--out", _scope.PathOf("ignored.csv"), "--truth-out", _scope.PathOf("truth.json"))).ExpectExit(0);
        MvnSample.WriteLines(_scope.PathOf("two-columns.csv"), ["1,2", "3,4", "5,6"]);
        var before = Directory.GetFiles(_scope.Directory).Length;
        var run = await _scope.RunAsync(["plot", .. args.Split(' ')]);
        run.ExpectExit(code);
        Assert.True(run.StderrLines.Any(l => l.StartsWith("mvnstream plot: ", StringComparison.Ordinal) && l.Contains(reason, StringComparison.Ordinal)),
            $"no 'mvnstream plot: ' line on stderr says \"{reason}\":\n{run.Stderr}");
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", run.Stderr, StringComparison.Ordinal);
        Assert.True(Directory.GetFiles(_scope.Directory).Length == before, "a file was written: " + string.Join(", ", Directory.GetFiles(_scope.Directory)));
    }

    /// <summary>"fitted ... : K iterations" and "convergence plot (P points) written to ...": one point per iteration.</summary>
    private static (int Iterations, int Points) IterationsAndPoints(CliResult run)
    {
        var fitted = run.StdoutLines.Single(l => l.StartsWith("fitted ", StringComparison.Ordinal));
        int iterations = int.Parse(System.Text.RegularExpressions.Regex.Match(fitted, @"(\d+) iterations").Groups[1].Value, CultureInfo.InvariantCulture);
        var plotted = run.StderrLines.Single(l => l.StartsWith("convergence plot", StringComparison.Ordinal));
        int points = int.Parse(System.Text.RegularExpressions.Regex.Match(plotted, @"\((\d+) points?\)").Groups[1].Value, CultureInfo.InvariantCulture);
        return (iterations, points);
    }

    [Theory]
    [InlineData("lbfgs", null)]
    [InlineData("gd", "640x480")]
    [InlineData("closed-form", "300x200")]
    public async Task Fit_plot_writes_a_png_of_the_requested_size_with_a_point_per_iteration(string solver, string? size)
    {
        var sample = MvnSample.Random(8201, 4, 5000);
        var csv = sample.WriteCsv(_scope.PathOf("data.csv"));
        var png = _scope.PathOf("convergence.png");
        string[] args = ["fit", csv, "--solver", solver, "--out", _scope.PathOf("model.json"), "--plot", png, .. size is null ? Array.Empty<string>() : ["--plot-size", size]];
        var run = (await _scope.RunAsync(args)).ExpectExit(0);
        var (w, h) = size is null ? (PlotFiles.DefaultWidth, PlotFiles.DefaultHeight) : PlotFiles.ParseSize(size, "test");
        var image = PngImage.Read(png);
        Assert.True(image.Width == w && image.Height == h, $"the PNG is {image.Width}x{image.Height}, expected {w}x{h}");
        var (iterations, points) = IterationsAndPoints(run);
        // The closed form reports one state (iteration 0); an iterative solver one per iteration 1..K.
        Assert.True(points == Math.Max(iterations, 1), $"{points} points plotted for {iterations} iterations ({solver})\n{run.Description}");
    }

    [Fact]
    public async Task Fit_plot_on_an_embedded_cluster_plots_the_coordinators_progress()
    {
        var sample = MvnSample.Random(8202, 4, 5000);
        var csv = sample.WriteCsv(_scope.PathOf("data.csv"));
        var png = _scope.PathOf("cluster.png");
        // Adam with its step capped at 0.01 sd: tens of iterations (the default solvers reach the closed form in one or two
        // whitened steps).
        var run = (await _scope.RunAsync(["fit", csv, "--workers", "2", "--solver", "adam", "--learning-rate", "0.01", "--out", _scope.PathOf("model.json"), "--plot", png, "--plot-size", "500x400"], TimeSpan.FromSeconds(180))).ExpectExit(0);
        Assert.Equal((500, 400), PngImage.ReadSize(File.ReadAllBytes(png)));
        var (iterations, points) = IterationsAndPoints(run);
        Assert.True(points == iterations && points > 1, $"{points} points plotted for {iterations} iterations\n{run.Description}");
    }

    [Theory]
    [InlineData("data.csv/convergence.png", "is a file, not a directory")]
    [InlineData("no-such-dir/convergence.png", "does not exist")]
    [InlineData("/proc/convergence.png", "cannot write in '/proc'")]
    [InlineData("a-directory", "plots are written as PNG")]
    [InlineData("a-directory.png", "is a directory")]
    public async Task Fit_refuses_an_unwritable_plot_path_before_fitting(string plot, string reason)
    {
        var csv = MvnSample.Random(8203, 3, 500).WriteCsv(_scope.PathOf("data.csv"));
        Directory.CreateDirectory(_scope.PathOf("a-directory"));
        Directory.CreateDirectory(_scope.PathOf("a-directory.png"));
        var run = await _scope.RunAsync("fit", csv, "--out", _scope.PathOf("model.json"), "--plot", plot);
        run.ExpectExit(2);
        Check.Contains($"mvnstream fit: --plot {plot}: ", run.Stderr, "stderr");
        Check.Contains(reason, run.Stderr, "stderr");
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(_scope.PathOf("model.json")), "the plot path was refused only after the fit wrote its model");
    }
}
