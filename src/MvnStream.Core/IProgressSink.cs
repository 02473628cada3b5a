namespace MvnStream.Core;

/// <summary>Somewhere to say what long work is doing (the CLI prints it on stderr).</summary>
public interface IProgressSink
{
    void Line(string text);
}
