namespace MvnStream.Cluster.Protocol;

/// <summary>
/// Marker of every message that crosses the cluster. All of them are bound to
/// <see cref="MvnStreamSerializer"/> (compact binary, never JSON) in the HOCON under config/.
/// </summary>
public interface IMvnMessage;
