using System.Text.RegularExpressions;

namespace MvnStream.EndToEnd.Tests.Deployment;

/// <summary>
/// Code comments cite docs/ARCHITECTURE.md by section name, never a document a clone does not have: every cited
/// section exists, and nothing cites the old design contract ("DESIGN §N", ../shared).
/// </summary>
public sealed partial class ArchitectureDocTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MvnStream.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no MvnStream.sln above {AppContext.BaseDirectory}");
    }

    private static IEnumerable<string> Sources(string root) =>
        new[] { "src", "tests", "config" }.SelectMany(d => Directory.EnumerateFiles(Path.Combine(root, d), "*", SearchOption.AllDirectories))
            .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .Where(f => Path.GetExtension(f) is ".cs" or ".hocon" or ".md" or ".csproj" or ".props")
            .Append(Path.Combine(root, "README.md"));

    [GeneratedRegex(@"docs/ARCHITECTURE\.md,\s*""(?<section>[^""]+)""(?:\s+and\s+""(?<section>[^""]+)"")?")]
    private static partial Regex Citation();

    [Fact]
    public void Every_citation_names_a_section_and_nothing_cites_the_old_design_document()
    {
        var root = RepositoryRoot();
        var doc = File.ReadAllLines(Path.Combine(root, "docs", "ARCHITECTURE.md"));
        var sections = doc.Where(l => l.StartsWith("## ", StringComparison.Ordinal)).Select(l => l[3..].Trim()).ToHashSet();
        var problems = new List<string>();
        int citations = 0;
        foreach (var file in Sources(root))
        {
            // This file names what it looks for.
            if (file.EndsWith(nameof(ArchitectureDocTests) + ".cs", StringComparison.Ordinal)) continue;
            var text = File.ReadAllText(file);
            string rel = Path.GetRelativePath(root, file);
            if (text.Contains("DESIGN §", StringComparison.Ordinal) || text.Contains("../shared", StringComparison.Ordinal) || text.Contains("DESIGN.md", StringComparison.Ordinal))
                problems.Add($"{rel} cites the design document of the development machines (DESIGN §N, ../shared), which a clone does not have");
            foreach (Match m in Citation().Matches(text))
                foreach (Capture c in m.Groups["section"].Captures)
                {
                    citations++;
                    if (!sections.Contains(c.Value)) problems.Add($"{rel} cites section \"{c.Value}\", which docs/ARCHITECTURE.md does not have");
                }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.True(citations >= 20, $"expected the code to cite docs/ARCHITECTURE.md, found {citations} citations");
    }
}
