using System.Text.Json;

namespace MvnStream.Core.Tests.Support;

/// <summary>
/// Golden values computed outside the product (numpy from the seed's formulas, cross-checked with
/// PyTorch autograd): TestData/mvn_gradients.json.
/// </summary>
public sealed class TestVectorCase
{
    public int D { get; init; }
    public int N { get; init; }
    public bool LambdaIsLowerTriangular { get; init; }
    public double[][] X { get; init; } = [];
    public double[] Mu { get; init; } = [];
    public double[][] Lambda { get; init; } = [];
    public double J { get; init; }
    public double[] GradMu { get; init; } = [];
    public double[][] GradLambda { get; init; } = [];
    public double[][] GradLambdaLowerTriangle { get; init; } = [];
    public TestVectorMle Mle { get; init; } = new();
    public TestVectorScoring Scoring { get; init; } = new();

    public override string ToString() => $"d={D} n={N} tril={LambdaIsLowerTriangular}";

    public static double[] Flatten(double[][] m) => m.SelectMany(r => r).ToArray();
    public double[] Rows => Flatten(X);
}

public sealed class TestVectorMle
{
    public double[] Mu { get; init; } = [];
    public double[][] Covariance { get; init; } = [];
    public double[][] LambdaCholesky { get; init; } = [];
    public double J { get; init; }
}

public sealed class TestVectorScoring
{
    public double[][] Points { get; init; } = [];
    public double[] LogDensity { get; init; } = [];
    public double[] Mahalanobis2 { get; init; } = [];
}

public static class TestVectors
{
    private sealed class File { public TestVectorCase[] Cases { get; init; } = []; }

    public static IReadOnlyList<TestVectorCase> Cases { get; } = Load();

    public static IEnumerable<object[]> Indices() => Enumerable.Range(0, Cases.Count).Select(i => new object[] { i });

    private static TestVectorCase[] Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "TestData", "mvn_gradients.json");
        var file = JsonSerializer.Deserialize<File>(System.IO.File.ReadAllText(path), new JsonSerializerOptions { PropertyNameCaseInsensitive = true })
            ?? throw new InvalidOperationException("empty test vector file");
        if (file.Cases.Length == 0) throw new InvalidOperationException("no cases in " + path);
        return file.Cases;
    }
}
