using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Relay.Direct;

/// <summary>
/// When the direct relay's server end hears its hosts (<see cref="IRelayListening"/>): from its start — but the hosts
/// dial it, and lost their connections when it stopped (or were dialling while it was not up): each comes back at its
/// next try, up to <see cref="DirectRelayDialer.LongestRedial"/> after the start. Until then a host's silence says
/// nothing about it (a restarted API instance answered every question "no model host" in the seconds before its host
/// dialled again). After an outage this end saw (every host cut off) the host that ends it is the one that dialled
/// again: no catch-up beyond it.
/// </summary>
public sealed class DirectRelayListening(TimeProvider time) : IRelayListening
{
    private readonly DateTimeOffset _started = time.GetUtcNow();

    public DateTimeOffset? Since => _started;

    public TimeSpan HostsRedialAfterStart => DirectRelayDialer.LongestRedial;
}
