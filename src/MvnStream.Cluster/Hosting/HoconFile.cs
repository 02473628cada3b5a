using System.Text;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace MvnStream.Cluster.Hosting;

/// <summary>
/// Reads a node's --config file with the checks Akka's HOCON parser leaves out. That parser accepts an
/// unclosed brace, a stray one or a key without a value and silently drops what follows; it throws a
/// NullReferenceException on <c>include</c> without a callback; and it does not know <c>${?NAME}</c> (it
/// garbles the rest of the file, and printing such a value loops forever). So before parsing:
/// brackets and quotes must balance and every <c>=</c> needs a value (errors name the file and line);
/// <c>${?NAME}</c> and <c>${NAME}</c> with an undotted NAME are taken from the environment (HOCON's
/// environment fallback; an unset optional one as the whole value of a key leaves the key unset);
/// <c>include "FILE"</c> is resolved relative to the including file, with the same checks.
/// </summary>
internal static partial class HoconFile
{
    private const int MaxIncludeDepth = 16;

    public static Config Load(string path, Func<string, string?> environment)
    {
        var root = Parse(Path.GetFullPath(path), environment, 0);
        return new Config(root);
    }

    private static HoconRoot Parse(string path, Func<string, string?> environment, int depth)
    {
        if (depth > MaxIncludeDepth) throw new ConfigurationException($"configuration file '{path}': includes nest deeper than {MaxIncludeDepth} (an include cycle?)");
        if (!File.Exists(path)) throw new ConfigurationException($"configuration file '{path}' does not exist");
        string text = Preprocess(File.ReadAllText(path), path, environment);
        var directory = Path.GetDirectoryName(path) ?? ".";
        try
        {
            return Parser.Parse(text, include => Parse(Path.GetFullPath(Path.Combine(directory, include)), environment, depth + 1));
        }
        catch (ConfigurationException)
        {
            throw;
        }
        catch (Exception e)
        {
            var hint = e.Message.StartsWith("Unresolved substitution", StringComparison.Ordinal)
                ? " (neither a key of this file nor a set environment variable)" : "";
            throw new ConfigurationException($"configuration file '{path}' is not valid HOCON: {e.Message}{hint}");
        }
    }

    /// <summary>Checks the structure and substitutes environment variables; line numbers are kept.</summary>
    internal static string Preprocess(string text, string path, Func<string, string?> environment)
    {
        var output = new StringBuilder(text.Length);
        var open = new Stack<(char Bracket, int Line)>();
        int line = 1;
        int lineStartInOutput = 0;
        int i = 0;
        string Where(int l) => $"configuration file '{path}', line {l}";

        while (i < text.Length)
        {
            char c = text[i];
            if (c == '\n')
            {
                line++;
                output.Append(c);
                lineStartInOutput = output.Length;
                i++;
                continue;
            }
            if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
            {
                while (i < text.Length && text[i] != '\n') output.Append(text[i++]);
                continue;
            }
            if (c == '"')
            {
                bool triple = i + 2 < text.Length && text[i + 1] == '"' && text[i + 2] == '"';
                int startLine = line;
                if (triple)
                {
                    int end = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
                    if (end < 0) throw new ConfigurationException($"{Where(startLine)}: a \"\"\" string is never closed");
                    while (end + 3 < text.Length && text[end + 3] == '"') end++; // """ may end with more quotes
                    var s = text[i..(end + 3)];
                    line += s.Count(ch => ch == '\n');
                    output.Append(s);
                    i = end + 3;
                }
                else
                {
                    int j = i + 1;
                    while (j < text.Length && text[j] != '"' && text[j] != '\n') j += text[j] == '\\' ? 2 : 1;
                    if (j >= text.Length || text[j] != '"') throw new ConfigurationException($"{Where(startLine)}: a quoted string is not closed on its line");
                    output.Append(text, i, j + 1 - i);
                    i = j + 1;
                }
                continue;
            }
            if (c == '$' && i + 1 < text.Length && text[i + 1] == '{')
            {
                int close = text.IndexOf('}', i + 2);
                int eol = text.IndexOf('\n', i + 2);
                if (close < 0 || (eol >= 0 && eol < close)) throw new ConfigurationException($"{Where(line)}: a substitution '${{' is not closed on its line");
                string inner = text[(i + 2)..close].Trim();
                bool optional = inner.StartsWith('?');
                string name = optional ? inner[1..].Trim() : inner;
                if (name.Length == 0) throw new ConfigurationException($"{Where(line)}: empty substitution '{text[i..(close + 1)]}'");
                if (name.Contains('.', StringComparison.Ordinal))
                {
                    // A path: Akka's parser resolves ${a.b} within the file, but cannot parse ${?a.b}.
                    if (optional) throw new ConfigurationException($"{Where(line)}: '${{?{name}}}': optional substitutions of configuration paths are not supported; use '${{{name}}}'");
                    output.Append(text, i, close + 1 - i);
                }
                else if (environment(name) is { } value)
                {
                    output.Append(Quote(value));
                }
                else if (!optional)
                {
                    output.Append(text, i, close + 1 - i); // the parser resolves it as a root key, or reports it unresolved
                }
                else
                {
                    // Unset ${?NAME}: as the whole value of a key the key stays unset (HOCON), so the line goes.
                    var rest = text[(close + 1)..(eol < 0 ? text.Length : eol)].Trim();
                    var before = output.ToString(lineStartInOutput, output.Length - lineStartInOutput);
                    bool restIsEmpty = rest.Length == 0 || rest.StartsWith('#') || rest.StartsWith("//", StringComparison.Ordinal);
                    if (!restIsEmpty || !KeyAndSeparator().IsMatch(before))
                        throw new ConfigurationException($"{Where(line)}: environment variable {name} is not set, and '${{?{name}}}' is not the whole value of a key");
                    output.Length = lineStartInOutput;
                    i = eol < 0 ? text.Length : eol;
                    continue;
                }
                i = close + 1;
                continue;
            }
            switch (c)
            {
                case '{' or '[':
                    open.Push((c, line));
                    break;
                case '}' or ']':
                    char expected = c == '}' ? '{' : '[';
                    if (open.Count == 0) throw new ConfigurationException($"{Where(line)}: '{c}' closes nothing");
                    if (open.Peek().Bracket != expected)
                        throw new ConfigurationException($"{Where(line)}: '{c}' closes the '{open.Peek().Bracket}' opened on line {open.Peek().Line}");
                    open.Pop();
                    break;
                case '=':
                    {
                        int j = i + 1;
                        while (j < text.Length && text[j] is ' ' or '\t' or '\r') j++;
                        if (j >= text.Length || text[j] == '\n' || text[j] == '#' || (text[j] == '/' && j + 1 < text.Length && text[j + 1] == '/'))
                            throw new ConfigurationException($"{Where(line)}: '=' has no value after it");
                        break;
                    }
            }
            output.Append(c);
            i++;
        }
        if (open.Count > 0) throw new ConfigurationException($"{Where(open.Peek().Line)}: '{open.Peek().Bracket}' is never closed");
        return output.ToString();
    }

    /// <summary>A line so far that is only "key =" or "key:" (a whole-value position).</summary>
    [GeneratedRegex(@"^\s*[A-Za-z0-9_.\-""]+\s*[=:]\s*$")]
    private static partial Regex KeyAndSeparator();

    private static string Quote(string s)
    {
        var b = new StringBuilder(s.Length + 2).Append('"');
        foreach (char ch in s)
        {
            switch (ch)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append("\\\\"); break;
                case '\n': b.Append("\\n"); break;
                case '\r': b.Append("\\r"); break;
                case '\t': b.Append("\\t"); break;
                default: b.Append(ch); break;
            }
        }
        return b.Append('"').ToString();
    }
}
