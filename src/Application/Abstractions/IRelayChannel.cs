
namespace MeatLizard.Application.Abstractions;

/// <summary>
/// One relay message in transit: the wire text and the session whose channel carries it
/// (null for the control channel that carries heartbeats).
/// </summary>
public sealed record RelayPacket(Guid? ChatId, string Wire)
{
    /// <summary>Set by transports that keep their place in a lasting stream; null for the in-process relay.</summary>
    public RelayDelivery? Delivery { get; init; }

    /// <summary>
    /// The model host the envelope is for, when the sender knows it (a cancel: the host that has the request); null
    /// for what goes to every host. A transport that reaches only some hosts (<see cref="IRelayReach"/>) passes an
    /// envelope for a host it does not reach to the process that does (the direct relay: another API instance).
    /// </summary>
    public Guid? ForHost { get; init; }
}

public interface IRelayChannel
{
    ValueTask SendAsync(RelayPacket packet, CancellationToken cancellationToken);

    IAsyncEnumerable<RelayPacket> ReceiveAllAsync(CancellationToken cancellationToken);
}
