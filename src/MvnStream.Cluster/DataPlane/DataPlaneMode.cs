namespace MvnStream.Cluster.DataPlane;

/// <summary>How a gradient-summing round's theta and gradients travel (Coordinator:DataPlane; docs/ARCHITECTURE.md, "The data plane").</summary>
public enum DataPlaneMode
{
    /// <summary>A TCP connection per worker beside Akka, frames in pooled buffers (a worker without one is sent its rounds over Akka).</summary>
    Tcp = 0,

    /// <summary>Akka remoting messages, as control messages are.</summary>
    Akka = 1,
}
