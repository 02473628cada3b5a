using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MvnStream.Cluster.Hosting;

namespace MvnStream.Cluster.Tests.Protocol;

/// <summary>
/// An ActorSystem from a node's HOCON, built the way every node's is (docs/ARCHITECTURE.md, "Hosting"): by Akka.Hosting on
/// a generic host, with the serializer registered through the builder (<see cref="NodeHost.AddSerializer"/>), the only
/// place it is bound.
/// </summary>
internal sealed class HostedSystem : IDisposable
{
    private readonly IHost _host;

    public HostedSystem(string name, Config config)
    {
        var builder = NodeHost.CreateBuilder(ownsProcess: false);
        builder.Services.AddAkka(name, (akka, _) =>
        {
            akka.AddHocon(config, HoconAddMode.Append);
            NodeHost.AddSerializer(akka);
        });
        _host = builder.Build();
        System = _host.Services.GetRequiredService<ActorSystem>();
        _host.StartAsync().GetAwaiter().GetResult();
    }

    public ActorSystem System { get; }

    /// <summary>Terminates the system (bounded), then disposes its host.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        try { await System.Terminate().WaitAsync(timeout); }
        catch (TimeoutException) { /* bounded: a slow leave must not hang the test run */ }
        _host.Dispose();
    }

    public void Dispose() => StopAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
}
