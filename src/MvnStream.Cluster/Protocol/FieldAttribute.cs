namespace MvnStream.Cluster.Protocol;

/// <summary>
/// The protobuf field number of a wire record's parameter: the record declaration is the message's schema
/// (<see cref="MvnStreamSerializer"/>). Adding a field is this one edit, a new parameter with a number never used
/// before in the record; payloads without it read its default (0, false, null), and older nodes skip it. Never
/// renumber, retype or reuse a number.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, AllowMultiple = false, Inherited = false)]
public sealed class FieldAttribute(int number) : Attribute
{
    public int Number { get; } = number;
}
