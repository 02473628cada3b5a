using System.CommandLine;
using System.Reflection;

namespace MvnStream.Cli.Configuration;

/// <summary>The flags that set a setting say so in their help: "Setting Stream:BatchRows (MVNSTREAM__Stream__BatchRows)."</summary>
internal static class SettingFlags
{
    /// <summary>Setting keys by flag name (a flag may set more than one key, --http sets both endpoints).</summary>
    public static ILookup<string, string> ByFlag() => AppSettings.Keys()
        .SelectMany(k => k.Property.GetCustomAttribute<SettingAttribute>()!.Flags
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(f => (Flag: f, k.Key)))
        .ToLookup(x => x.Flag, x => x.Key, StringComparer.Ordinal);

    public static void Describe(RootCommand root)
    {
        var byFlag = ByFlag();
        foreach (var command in root.Subcommands)
            foreach (var option in command.Options)
            {
                if (!byFlag.Contains(option.Name) || option.Hidden) continue;
                var keys = byFlag[option.Name].ToList();
                string text = keys[0] == "Kafka:Properties"
                    ? " Setting Kafka:Properties:KEY (MVNSTREAM__Kafka__Properties__KEY)."
                    : " Setting " + string.Join(", ", keys.Select(k => $"{k} ({AppSettings.VariableOf(k)})")) + ".";
                option.Description += text;
            }
    }
}
