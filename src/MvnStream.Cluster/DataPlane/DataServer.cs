using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace MvnStream.Cluster.DataPlane;

/// <summary>
/// A worker's data-plane listener (docs/ARCHITECTURE.md, "The data plane"): accepts the coordinator's connections and
/// hands every round frame read to <c>onRound</c> with the connection to answer on. A connection whose frame is torn,
/// corrupt or not a round is closed (the coordinator then retries on a fresh one).
/// </summary>
public sealed class DataServer : IDisposable
{
    private readonly TcpListener _listener;
    private readonly Action<DataConnection, Frame> _onRound;
    private readonly Action<string>? _onDropped;
    private readonly long _maxBodyBytes;
    private readonly ConcurrentDictionary<DataConnection, bool> _connections = new();

    private DataServer(TcpListener listener, Action<DataConnection, Frame> onRound, Action<string>? onDropped, long maxBodyBytes)
    {
        _listener = listener;
        _onRound = onRound;
        _onDropped = onDropped;
        _maxBodyBytes = maxBodyBytes;
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Listens on <paramref name="address"/>:<paramref name="port"/> (0: a free port).</summary>
    public static DataServer Start(IPAddress address, int port, Action<DataConnection, Frame> onRound, Action<string>? onDropped = null,
        long maxBodyBytes = DataFrame.DefaultMaxBodyBytes)
    {
        var listener = new TcpListener(address, port);
        listener.Start();
        var server = new DataServer(listener, onRound, onDropped, maxBodyBytes);
        _ = server.AcceptLoopAsync();
        return server;
    }

    /// <summary>The address to bind for an Akka hostname: the address itself, the first address of a name, loopback for none.</summary>
    public static IPAddress BindAddress(string? hostname)
    {
        if (string.IsNullOrWhiteSpace(hostname)) return IPAddress.Loopback;
        string h = hostname.Trim().Trim('[', ']');
        if (IPAddress.TryParse(h, out var ip)) return ip;
        var addresses = Dns.GetHostAddresses(h);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault() ?? IPAddress.Loopback;
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket socket;
            try { socket = await _listener.AcceptSocketAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException) { return; }
            var connection = DataConnection.Accept(socket, (c, frame) =>
            {
                if (frame.Kind == FrameKind.Round) _onRound(c, frame);
                else
                {
                    var kind = frame.Kind;
                    frame.Dispose();
                    _onDropped?.Invoke($"a {kind} frame from {c.Peer} is no round: connection closed");
                    c.Dispose();
                }
            }, (c, reason) =>
            {
                _connections.TryRemove(c, out _);
                _onDropped?.Invoke(reason);
            }, _maxBodyBytes);
            _connections[connection] = true;
        }
    }

    /// <summary>Stops listening and closes every connection.</summary>
    public void Dispose()
    {
        _listener.Stop();
        foreach (var c in _connections.Keys) c.Dispose();
        _connections.Clear();
    }
}
