using System.CommandLine;
using Akka.Actor;
using MvnStream.Cli;
using MvnStream.Cli.Commands;
using MvnStream.Cluster.Protocol;

namespace MvnStream.EndToEnd.Tests.CommandLine;

/// <summary>
/// fit and stream build their solver options with one builder (<see cref="CommonOptions.SolverSettings"/>): the same
/// solver arguments give the stream's online updates and final solve exactly the solver options of the fit, relative
/// tolerance included (the stream used to drop it), after the job settings cross the wire to the coordinator.
/// </summary>
public sealed class SolverSettingsTests
{
    private static (int? Code, string Error) Parse(string args)
    {
        var parse = CliApp.Build().Parse(args.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var error = new StringWriter();
        return (CliApp.ReportParseErrors(parse, error), error.ToString());
    }

    private static StreamCommand.StreamArgs StreamArgs(string solver, int maxIter, double tolerance, double relTolerance, double learningRate, double ridge, string shrinkage) =>
        new("127.0.0.1:9092", "rows", "csv", 3, null, "model.json", null, 0, 1.0, null, null, null, "none", "1s", 0.001, 1, null, solver, "tril", 7, tolerance, maxIter,
            learningRate, ridge, shrinkage, 4096, "200ms", "60s", [], null, true, false, null, RelTolerance: relTolerance);

    private static FitCommand.FitArgs FitArgs(string solver, int maxIter, double tolerance, double relTolerance, double learningRate, double ridge, string shrinkage) =>
        new("data.csv", "model.json", null, null, "fail", solver, "tril", maxIter, tolerance, relTolerance, learningRate, ridge, shrinkage, 1, true, false, 0, null,
            "statistics", 1, null, null);

    /// <summary>The job settings as the coordinator receives them: through the cluster's wire codec.</summary>
    private static StreamJobSettings OverTheWire(StreamJobSettings settings)
    {
        using var system = ActorSystem.Create("solver-settings-" + Guid.NewGuid().ToString("N")[..8]);
        var serializer = new MvnStreamSerializer((ExtendedActorSystem)system);
        var job = new StartStreamJob("job", settings);
        var back = (StartStreamJob)serializer.FromBinary(serializer.ToBinary(job), serializer.Manifest(job));
        return back.Settings;
    }

    [Fact]
    public void Stream_accepts_rel_tolerance_as_fit_does()
    {
        foreach (var args in new[] { "fit data.csv --rel-tolerance 1e-7", "stream -b 127.0.0.1:9092 -t rows --rel-tolerance 1e-7" })
        {
            var (code, error) = Parse(args);
            Assert.True(code is null, $"{args}: {error}");
        }
    }

    [Theory]
    [InlineData("lbfgs", 5000, 1e-10, 1e-7, 0.05, 0.0, "none")]
    [InlineData("adam", 300, 1e-6, 1e-5, 0.2, 0.01, "auto")]
    [InlineData("gd", 40, 0.0, 0.0, 0.05, 0.0, "0.3")]
    public async Task Stream_online_updates_and_final_solve_use_the_fit_solver_options(string solver, int maxIter, double tolerance, double relTolerance,
        double learningRate, double ridge, string shrinkage)
    {
        var fit = FitCommand.Solving(FitArgs(solver, maxIter, tolerance, relTolerance, learningRate, ridge, shrinkage)).ToFitOptions();
        var settings = OverTheWire(await StreamCommand.BuildSettingsAsync(StreamArgs(solver, maxIter, tolerance, relTolerance, learningRate, ridge, shrinkage),
            new ConsoleProgress(quiet: true), CancellationToken.None));

        // The final solve: the fit's options exactly (SolverOptions and Regularization compare by value).
        var final = settings.ToFitOptions(null, null, settings.MaxIterations);
        Assert.Equal(fit.Solver, final.Solver);
        Assert.Equal(fit.Regularization, final.Regularization);
        Assert.Equal(fit.Parameterization, final.Parameterization);
        Assert.Equal(relTolerance, final.Solver.RelativeTolerance);

        // An online update: the same options but for its iteration limit (--steps-per-update 7).
        var online = settings.ToFitOptions(null, null, settings.StepsPerUpdate);
        Assert.Equal(fit.Solver with { MaxIterations = 7 }, online.Solver);
    }

    [Theory]
    [InlineData("--rel-tolerance", "-1")]
    [InlineData("--tolerance", "-1")]
    [InlineData("--learning-rate", "0")]
    [InlineData("--max-iter", "-3")]
    public async Task Stream_rejects_the_solver_values_fit_rejects_naming_the_option(string option, string value)
    {
        var a = StreamArgs("lbfgs", 5000, 1e-10, 0, 0.05, 0, "none");
        a = option switch
        {
            "--rel-tolerance" => a with { RelTolerance = double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
            "--tolerance" => a with { Tolerance = double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
            "--learning-rate" => a with { LearningRate = double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
            _ => a with { MaxIter = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
        };
        var e = await Assert.ThrowsAsync<UsageException>(() => StreamCommand.BuildSettingsAsync(a, new ConsoleProgress(quiet: true), CancellationToken.None));
        Assert.StartsWith(option + " " + value, e.Message, StringComparison.Ordinal);
    }
}
