using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using MvnStream.Cluster.Actors;
using MvnStream.Cluster.DataPlane;
using MvnStream.Cluster.Protocol;

namespace MvnStream.Cluster.Tests.DataPlane;

/// <summary>What the proxy does to the first gradient frame of round <see cref="SabotageProxy.AtRound"/> or later.</summary>
public enum Fault
{
    None,

    /// <summary>Writes half the frame and closes both connections.</summary>
    Tear,

    /// <summary>Flips a bit in the frame's last value (the checksum no longer matches).</summary>
    Corrupt,

    /// <summary>Sends first a well-formed copy labelled with the previous round and another gradient, then the frame.</summary>
    Stale,

    /// <summary>Closes both connections, and from then on every new one at once (the worker is gone for the coordinator).</summary>
    Die,
}

/// <summary>
/// A TCP proxy between the coordinator and a real worker's data-plane port, over loopback: theta goes through as bytes,
/// gradient frames are read whole and passed on, except that the first one at or after <see cref="AtRound"/> suffers
/// <see cref="Mode"/>.
/// </summary>
public sealed class SabotageProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<Socket> _sockets = [];
    private int _fired;
    private int _connections;

    public SabotageProxy()
    {
        _listener.Start();
        _ = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The real worker's data port (learned from its ShardLoaded).</summary>
    public int Target { get; set; }

    public Fault Mode { get; private set; }

    /// <summary>False: the relay tells the coordinator the worker has no data port, so its rounds go over Akka.</summary>
    public bool Advertise { get; set; } = true;

    public long AtRound { get; private set; }

    /// <summary>Whether the fault happened.</summary>
    public bool Fired => Volatile.Read(ref _fired) != 0;

    /// <summary>Connections accepted since <see cref="Arm"/>.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public void Arm(Fault mode, long atRound)
    {
        Mode = mode;
        AtRound = atRound;
        Volatile.Write(ref _fired, 0);
        Volatile.Write(ref _connections, 0);
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try { client = await _listener.AcceptSocketAsync(); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException) { return; }
            Interlocked.Increment(ref _connections);
            if (Mode == Fault.Die && Fired)
            {
                client.Dispose();
                continue;
            }
            _ = PumpAsync(client);
        }
    }

    private async Task PumpAsync(Socket client)
    {
        var worker = new Socket(SocketType.Stream, ProtocolType.Tcp);
        lock (_sockets) _sockets.AddRange([client, worker]);
        try
        {
            await worker.ConnectAsync(IPAddress.Loopback, Target);
            var toWorker = new NetworkStream(client).CopyToAsync(new NetworkStream(worker));
            var fromWorker = new NetworkStream(worker);
            var toCoordinator = new NetworkStream(client);
            while (await DataFrame.ReadAsync(fromWorker, DataFrame.DefaultMaxBodyBytes, CancellationToken.None) is { } frame)
            {
                long round = frame.Round;
                var bytes = frame.Memory.ToArray();
                frame.Dispose();
                if (Mode != Fault.None && round >= AtRound && Interlocked.CompareExchange(ref _fired, 1, 0) == 0)
                {
                    switch (Mode)
                    {
                        case Fault.Tear:
                            await toCoordinator.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
                            await toCoordinator.FlushAsync();
                            client.Shutdown(SocketShutdown.Both);
                            return;
                        case Fault.Die:
                            return;
                        case Fault.Corrupt:
                            bytes[^2] ^= 0x10;
                            break;
                        case Fault.Stale:
                            var stale = (byte[])bytes.Clone();
                            BinaryPrimitives.WriteInt64LittleEndian(stale.AsSpan(8), round - 1);
                            stale[^2] ^= 0x10;
                            DataFrame.WriteChecksum(stale);
                            await toCoordinator.WriteAsync(stale);
                            break;
                    }
                }
                await toCoordinator.WriteAsync(bytes);
            }
            await toWorker;
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // One side closed: the other is closed below.
        }
        finally
        {
            client.Dispose();
            worker.Dispose();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        lock (_sockets) foreach (var s in _sockets) s.Dispose();
    }
}

/// <summary>
/// A real <see cref="WorkerActor"/> (its child) behind a relay: the coordinator registers and talks to the relay, and the
/// data port in the worker's <see cref="ShardLoaded"/> is replaced by the <see cref="SabotageProxy"/>'s.
/// </summary>
public sealed class RelayedWorker : ReceiveActor
{
    public RelayedWorker(IActorRef coordinatorProxy, SabotageProxy proxy, string workerId)
    {
        var worker = Context.ActorOf(WorkerActor.Props(Self, workerId, 1), "worker");
        IActorRef? coordinator = null;
        ReceiveAny(m =>
        {
            if (Sender.Equals(worker))
            {
                if (m is RegisterWorker) coordinatorProxy.Tell(m, Self);
                else if (m is ShardLoaded { DataPort: > 0 } loaded)
                {
                    proxy.Target = loaded.DataPort;
                    coordinator?.Tell(loaded with { DataPort = proxy.Advertise ? proxy.Port : 0 }, Self);
                }
                else coordinator?.Tell(m, Self);
                return;
            }
            coordinator = Sender;
            worker.Tell(m, Self);
        });
    }

    public static Props Props(IActorRef coordinatorProxy, SabotageProxy proxy, string workerId) =>
        Akka.Actor.Props.Create(() => new RelayedWorker(coordinatorProxy, proxy, workerId));
}
