using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Relay.Direct;

/// <summary>
/// The other API instances that run the direct relay beside this one: an envelope for a host connected to one of them
/// (a cancel asked here for a request that host has) is passed to them, and the one the host's link is at sends it.
/// Best effort, as an envelope on the way: a cancel that reaches no one leaves the host to finish an answer that is
/// dropped (the request is cancelled).
/// </summary>
public interface IDirectRelayPeers
{
    /// <summary>Passes <paramref name="packet"/> for <paramref name="host"/> to the other instances.</summary>
    void Forward(Guid host, RelayPacket packet);
}

/// <summary>One instance alone (no Redis): every host it relays to is connected to it.</summary>
public sealed class NoDirectRelayPeers : IDirectRelayPeers
{
    public void Forward(Guid host, RelayPacket packet)
    {
    }
}
