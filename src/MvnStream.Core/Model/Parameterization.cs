namespace MvnStream.Core.Model;

/// <summary>How the covariance factor Lambda (S = Lambda Lambda^T) is parameterised.</summary>
public enum Parameterization
{
    /// <summary>Lambda lower-triangular (Cholesky form); the gradient is tril(dJ/dLambda). The default: the minimiser is unique up to column signs.</summary>
    LowerTriangular,

    /// <summary>Lambda a full d x d matrix, as in the seed; Lambda Q (Q orthogonal) gives the same S.</summary>
    Full,
}

/// <summary>Names used on the command line and in model files.</summary>
public static class ParameterizationNames
{
    public static string ToName(this Parameterization p) => p == Parameterization.Full ? "full" : "tril";

    public static Parameterization Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "tril" or "lower" or "cholesky" => Parameterization.LowerTriangular,
        "full" => Parameterization.Full,
        _ => throw new FormatException($"unknown parameterization '{name}': expected 'tril' or 'full'"),
    };
}
