using System.Text.Json;
using MvnStream.Core.Fitting;
using MvnStream.Core.Model;
using MvnStream.Core.Solvers;
using MvnStream.Core.Tests.Support;

namespace MvnStream.Core.Tests.Model;

public sealed class ModelFileTests
{
    [Fact]
    public void Model_file_has_exactly_the_documented_keys_and_round_trips()
    {
        var r = new Random(3);
        var theta = Draw.Theta(r, 3, Parameterization.LowerTriangular);
        var m = new MvnModel { Theta = theta, N = 1234, Solver = "lbfgs", Iterations = 17, NllPerRow = 4.25, Gap = 1e-16, RejectedRows = 2, StopReason = StopReason.GradientTolerance };
        using var doc = JsonDocument.Parse(m.ToJson());
        var keys = doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["dimension", "n", "mu", "lambda", "covariance", "parameterization", "solver", "iterations", "nllPerRow", "gap", "converged", "stopReason", "rejectedRows", "createdUtc"], keys);
        Assert.True(doc.RootElement.GetProperty("converged").GetBoolean());
        Assert.Equal("gradientTolerance", doc.RootElement.GetProperty("stopReason").GetString());
        Assert.Equal("tril", doc.RootElement.GetProperty("parameterization").GetString());
        var back = MvnModel.Parse(m.ToJson());
        Assert.Equal(theta.Mu, back.Theta.Mu);
        Assert.Equal(theta.Lambda, back.Theta.Lambda);
        Assert.Equal(1234, back.N);
        Assert.Equal(StopReason.GradientTolerance, back.StopReason);
        var cov = doc.RootElement.GetProperty("covariance").EnumerateArray().SelectMany(row => row.EnumerateArray().Select(v => v.GetDouble())).ToArray();
        Assert.True(Draw.RelativeError(cov, theta.Covariance()) < 1e-15);
    }

    [Fact]
    public void A_truth_file_is_refused_as_a_model_saying_what_it_is()
    {
        var theta = Draw.Theta(new Random(4), 3, Parameterization.LowerTriangular);
        var e = Assert.Throws<InvalidDataException>(() => MvnModel.Parse(TruthFile.ToJson(theta, seed: 9, rows: 100), "truth.json"));
        Assert.Contains("truth.json is a truth file", e.Message, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(TruthFile.ToJson(theta, 9, 100));
        Assert.Equal(["kind", "description", "dimension", "seed", "rows", "mu", "covariance"], doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray());
    }

    [Fact]
    public void A_failed_save_leaves_no_temporary_file_behind()
    {
        var dir = Directory.CreateTempSubdirectory("mvnstream-model-").FullName;
        try
        {
            var target = Path.Combine(dir, "model.json");
            Directory.CreateDirectory(target); // the model path is a directory: the final rename fails
            var m = new MvnModel { Theta = Draw.Theta(new Random(4), 2, Parameterization.LowerTriangular), N = 10, Solver = "lbfgs" };
            Assert.ThrowsAny<IOException>(() => m.Save(target));
            Assert.Equal([target], Directory.GetFileSystemEntries(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("{\"dimension\":2}", "missing key 'mu'")]
    [InlineData("{\"dimension\":2,\"n\":1,\"mu\":[1],\"lambda\":[[1,0],[0,1]],\"parameterization\":\"tril\"}", "'mu' must be an array of 2 numbers")]
    [InlineData("{\"dimension\":2,\"n\":1,\"mu\":[1,2],\"lambda\":[[1,0],[1,0]],\"parameterization\":\"tril\"}", "not positive definite")]
    [InlineData("{\"dimension\":2,\"n\":1,\"mu\":[1,2],\"lambda\":[[1,0],[0,1]],\"parameterization\":\"upper\"}", "unknown parameterization")]
    public void Bad_model_files_are_refused_with_the_reason(string json, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => MvnModel.Parse(json, "m.json"));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.StartsWith("m.json", e.Message, StringComparison.Ordinal);
    }
}
