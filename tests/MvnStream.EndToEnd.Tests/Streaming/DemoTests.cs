using System.Text.RegularExpressions;
using MvnStream.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace MvnStream.EndToEnd.Tests.Streaming;

/// <summary><c>mvnstream demo</c> run from a directory (a clone, say) leaves that directory as it was.</summary>
[Collection(StreamInteropCollection.Name)]
public sealed partial class DemoTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestScope _scope = new(output, "demo");

    public void Dispose() => _scope.Dispose();

    [GeneratedRegex(@"^model written to (.+)$")]
    private static partial Regex ModelWritten();

    /// <summary>Without --out the model goes to a fresh temporary directory, said on stdout; the working directory stays empty (it used to get demo-model.json).</summary>
    [Fact]
    public async Task Demo_writes_nothing_into_the_working_directory_and_says_where_the_model_is()
    {
        var run = (await _scope.RunAsync(["demo", "--dim", "2", "--rows", "3000", "--rate", "0", "--workers", "1"], TimeSpan.FromSeconds(150), "demo")).ExpectExit(0);
        var said = run.StdoutLines.Select(l => ModelWritten().Match(l)).FirstOrDefault(m => m.Success);
        Assert.True(said is not null, "stdout does not say where the model was written:\n" + run.Description);
        var path = said.Groups[1].Value.Trim();
        try
        {
            Assert.Empty(Directory.GetFileSystemEntries(_scope.Directory));
            Assert.True(Path.IsPathRooted(path) && !path.StartsWith(_scope.Directory, StringComparison.Ordinal), $"model at '{path}'");
            Assert.Equal(3000, ModelFile.Load(path).N);
            Assert.Contains($"the streamed model will be written to {path}", run.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            if (File.Exists(path)) Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}
