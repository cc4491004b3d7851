using System.Threading.Channels;
using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Relay;

/// <summary>
/// Both ends of the relay inside one process (embedded mode): what one end sends, the other receives, in order.
/// It carries the sealed wire text, so the envelope code runs exactly as it does over Discord.
/// Each end has a single reader, which only routes each packet to the lane that handles it (<c>ChatLanes</c>): that
/// routing runs on the sender's thread as the packet is written, so a packet is handed between threads once (to its
/// lane), not twice.
/// </summary>
public sealed class InProcessRelayTransport
{
    public InProcessRelayTransport()
    {
        var toWorker = CreateChannel();
        var toServer = CreateChannel();
        Server = new ServerEnd(toWorker.Writer, toServer.Reader);
        Worker = new WorkerEnd(toServer.Writer, toWorker.Reader);
    }

    /// <summary>The server bot's end: sends to the worker, receives what the worker sends.</summary>
    public IServerRelayTransport Server { get; }

    /// <summary>The worker's end: sends to the server, receives what the server sends.</summary>
    public IHostRelayTransport Worker { get; }

    private static Channel<RelayPacket> CreateChannel() =>
        Channel.CreateUnbounded<RelayPacket>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });

    private abstract class ChannelEnd(ChannelWriter<RelayPacket> outbound, ChannelReader<RelayPacket> inbound)
        : IRelayChannel
    {
        public ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(packet);
            return outbound.WriteAsync(packet, cancellationToken);
        }

        public IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken) =>
            inbound.ReadAllAsync(cancellationToken);
    }

    private sealed class ServerEnd(ChannelWriter<RelayPacket> outbound, ChannelReader<RelayPacket> inbound)
        : ChannelEnd(outbound, inbound), IServerRelayTransport;

    private sealed class WorkerEnd(ChannelWriter<RelayPacket> outbound, ChannelReader<RelayPacket> inbound)
        : ChannelEnd(outbound, inbound), IHostRelayTransport;
}
