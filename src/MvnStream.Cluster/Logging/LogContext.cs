using System.Collections;

namespace MvnStream.Cluster.Logging;

/// <summary>
/// Who logs: the node's role(s) (coordinator, worker, client, broker; comma-separated when a node has several) and its
/// Akka address, when known. Used as a logging scope, so a formatter finds the fields <c>role</c> and <c>address</c>.
/// </summary>
public sealed record LogContext(string? Role, string? Address) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public const string RoleKey = "role";
    public const string AddressKey = "address";

    /// <summary>No role or address known.</summary>
    public static LogContext None { get; } = new(null, null);

    private IEnumerable<KeyValuePair<string, object?>> Fields()
    {
        if (Role is not null) yield return new(RoleKey, Role);
        if (Address is not null) yield return new(AddressKey, Address);
    }

    public int Count => (Role is null ? 0 : 1) + (Address is null ? 0 : 1);

    public KeyValuePair<string, object?> this[int index] => Fields().ElementAt(index);

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => Fields().GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => string.Join(" ", Fields().Select(f => $"{f.Key}={f.Value}"));
}
