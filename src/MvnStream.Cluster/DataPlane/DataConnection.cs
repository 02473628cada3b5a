using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace MvnStream.Cluster.DataPlane;

/// <summary>
/// One data-plane TCP connection (docs/ARCHITECTURE.md, "The data plane"): frames queued by <see cref="Send"/> are
/// written in order by one writer task (each frame is disposed once written or dropped); frames read are handed to
/// <c>onFrame</c>, which then owns them. The first failure (connect refused, a torn or corrupt frame, the peer closing,
/// a write error) closes the connection and calls <c>onBroken</c> once with the reason; <see cref="Dispose"/> closes it
/// without calling it.
/// </summary>
public sealed class DataConnection : IDisposable
{
    private readonly Channel<Frame> _outgoing = Channel.CreateUnbounded<Frame>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Action<DataConnection, Frame> _onFrame;
    private readonly Action<DataConnection, string> _onBroken;
    private readonly long _maxBodyBytes;
    private Socket? _socket;
    private int _closed;

    private DataConnection(Action<DataConnection, Frame> onFrame, Action<DataConnection, string> onBroken, long maxBodyBytes)
    {
        _onFrame = onFrame;
        _onBroken = onBroken;
        _maxBodyBytes = maxBodyBytes;
    }

    /// <summary>Where the connection goes (client side) or comes from (server side).</summary>
    public string Peer { get; private set; } = "?";

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/> in the background; frames sent meanwhile wait.</summary>
    public static DataConnection Connect(string host, int port, Action<DataConnection, Frame> onFrame, Action<DataConnection, string> onBroken,
        long maxBodyBytes = DataFrame.DefaultMaxBodyBytes)
    {
        var c = new DataConnection(onFrame, onBroken, maxBodyBytes) { Peer = $"{host}:{port}" };
        _ = c.RunClientAsync(host, port);
        return c;
    }

    /// <summary>Serves an accepted socket.</summary>
    internal static DataConnection Accept(Socket socket, Action<DataConnection, Frame> onFrame, Action<DataConnection, string> onBroken, long maxBodyBytes)
    {
        var c = new DataConnection(onFrame, onBroken, maxBodyBytes) { Peer = socket.RemoteEndPoint?.ToString() ?? "?" };
        Configure(socket);
        c._socket = socket;
        _ = c.RunAsync(socket);
        return c;
    }

    private static void Configure(Socket socket)
    {
        socket.NoDelay = true;
        socket.SendBufferSize = 4 << 20;
        socket.ReceiveBufferSize = 4 << 20;
    }

    /// <summary>Queues <paramref name="frame"/>; the connection owns it from now on.</summary>
    public void Send(Frame frame)
    {
        if (!_outgoing.Writer.TryWrite(frame)) frame.Dispose();
    }

    private async Task RunClientAsync(string host, int port)
    {
        Socket socket;
        try
        {
            var addresses = IPAddress.TryParse(host, out var ip) ? [ip] : await Dns.GetHostAddressesAsync(host, _stop.Token).ConfigureAwait(false);
            socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            Configure(socket);
            _socket = socket;
            if (Volatile.Read(ref _closed) != 0) { socket.Dispose(); return; }
            await socket.ConnectAsync(addresses, port, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Broken($"cannot connect to {Peer}: {e.Message}");
            return;
        }
        await RunAsync(socket).ConfigureAwait(false);
    }

    private async Task RunAsync(Socket socket)
    {
        var stream = new NetworkStream(socket, ownsSocket: false);
        var writing = WriteLoopAsync(stream);
        try
        {
            while (true)
            {
                var frame = await DataFrame.ReadAsync(stream, _maxBodyBytes, _stop.Token).ConfigureAwait(false);
                if (frame is null)
                {
                    Broken($"{Peer} closed the connection");
                    break;
                }
                _onFrame(this, frame);
            }
        }
        catch (Exception e)
        {
            Broken(e is DataFrameException ? e.Message : $"reading from {Peer} failed: {e.Message}");
        }
        await writing.ConfigureAwait(false);
    }

    private async Task WriteLoopAsync(NetworkStream stream)
    {
        try
        {
            await foreach (var frame in _outgoing.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                using (frame) await stream.WriteAsync(frame.Memory, _stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            Broken($"writing to {Peer} failed: {e.Message}");
        }
    }

    private void Broken(string reason)
    {
        if (Close()) _onBroken(this, reason);
    }

    /// <summary>Closes once; true for the call that closed it.</summary>
    private bool Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return false;
        _outgoing.Writer.TryComplete();
        _stop.Cancel();
        try { _socket?.Dispose(); }
        catch (ObjectDisposedException) { }
        while (_outgoing.Reader.TryRead(out var f)) f.Dispose();
        return true;
    }

    public void Dispose() => Close();
}
