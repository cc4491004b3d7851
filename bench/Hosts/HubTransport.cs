using System.Threading.Channels;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Bench.Hosts;

/// <summary>
/// The relay between one server and several model hosts as Discord carries it, minus Discord's latency and rate
/// limits: every host reads everything the server sends (each ignores a request meant for another host, by the
/// envelope's worker id), and the server reads what every host sends. The sealed wire text passes unchanged, so the
/// envelope code, the heartbeats and the server's routing run as they do over Discord.
/// </summary>
internal sealed class HubTransport
{
    private readonly Channel<RelayPacket> _toServer = Channel.CreateUnbounded<RelayPacket>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _gate = new();
    private ChannelWriter<RelayPacket>[] _toHosts = [];

    public HubTransport() => Server = new ServerEnd(this);

    public IServerRelayTransport Server { get; }

    /// <summary>A new host's end: from now on it reads what the server sends.</summary>
    public IHostRelayTransport AddHost()
    {
        var inbound = Channel.CreateUnbounded<RelayPacket>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            _toHosts = [.. _toHosts, inbound.Writer];
        }

        return new HostEnd(_toServer.Writer, inbound.Reader);
    }

    private async ValueTask BroadcastAsync(RelayPacket packet, CancellationToken cancellationToken)
    {
        foreach (var host in Volatile.Read(ref _toHosts))
        {
            await host.WriteAsync(packet, cancellationToken);
        }
    }

    private sealed class ServerEnd(HubTransport hub) : IServerRelayTransport
    {
        public ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken) =>
            hub.BroadcastAsync(packet, cancellationToken);

        public IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken) =>
            hub._toServer.Reader.ReadAllAsync(cancellationToken);
    }

    private sealed class HostEnd(ChannelWriter<RelayPacket> outbound, ChannelReader<RelayPacket> inbound) : IHostRelayTransport
    {
        public ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken) =>
            outbound.WriteAsync(packet, cancellationToken);

        public IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken) =>
            inbound.ReadAllAsync(cancellationToken);
    }
}
