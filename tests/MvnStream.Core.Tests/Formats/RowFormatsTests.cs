using MvnStream.Core.Formats;

namespace MvnStream.Core.Tests.Formats;

public sealed class RowFormatsTests
{
    [Theory]
    [InlineData("a/data.csv", RowFormat.Csv)]
    [InlineData("data.TXT", RowFormat.Csv)]
    [InlineData("data.f64", RowFormat.F64)]
    [InlineData("data.bin", RowFormat.F64)]
    [InlineData("data.json", RowFormat.Json)]
    [InlineData("data.jsonl", RowFormat.Json)]
    [InlineData("data.ndjson", RowFormat.Json)]
    public void Extensions_map_to_formats(string path, RowFormat expected) =>
        Assert.Equal(expected, RowFormats.FromExtension(path));

    [Theory]
    [InlineData("data.parquet", "'.parquet'")]
    [InlineData("data", "no extension")]
    public void Unknown_extensions_name_the_extension_and_the_option(string path, string mention)
    {
        var ex = Assert.Throws<FormatException>(() => RowFormats.FromExtension(path));
        Assert.Contains(mention, ex.Message);
        Assert.Contains("--format", ex.Message);
    }

    [Fact]
    public void Names_round_trip()
    {
        foreach (var f in Enum.GetValues<RowFormat>()) Assert.Equal(f, RowFormats.Parse(f.ToName()));
        Assert.Equal(RowFormat.Csv, RowFormats.Parse(" CSV "));
        Assert.Throws<FormatException>(() => RowFormats.Parse("xml"));
    }
}
