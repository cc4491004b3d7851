
namespace MeatLizard.Application.Abstractions;

/// <summary>
/// What a transport that keeps its place in a lasting stream (<see cref="IRelayCursorStore"/>) attaches to a packet, so
/// it learns when the packet's work is done: only then may its place move past it.
/// </summary>
public abstract class RelayDelivery
{
    /// <summary>Read after a gap (a restart, a new gateway session) rather than as it was sent: it may be old.</summary>
    public bool CaughtUp { get; init; }

    /// <summary>What the packet carried is stored or acted on (or was refused for good): it need not be read again.</summary>
    public abstract void Handled();

    /// <summary>
    /// The packet was a heartbeat of <paramref name="workerId"/>, opened with the relay keys: a transport that reaches
    /// only some hosts (<see cref="IRelayReach"/>) learns here which way each host is reached.
    /// </summary>
    public virtual void HeardFrom(Guid workerId)
    {
    }
}
