
namespace MeatLizard.Application.Abstractions;

/// <summary>
/// One relay message in transit: the wire text and the session whose channel carries it
/// (null for the control channel that carries heartbeats).
/// </summary>
public sealed record RelayPacket(Guid? SessionId, string Wire)
{
    /// <summary>Set by transports that keep their place in a lasting stream; null for the in-process relay.</summary>
    public RelayDelivery? Delivery { get; init; }
}

public interface IRelayChannel
{
    ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken);

    IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken);
}
