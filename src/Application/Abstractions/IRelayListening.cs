namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Since when this process's relay receives what the model hosts send: the in-process relay from the start; over
/// Discord once the first gateway session has caught up with what was posted before it. Until then — and for a
/// heartbeat window after — the hosts' silence says nothing about them (<see cref="Relay.RelayTransportHealth"/>).
/// </summary>
public interface IRelayListening
{
    /// <summary>Null while the relay does not receive yet.</summary>
    DateTimeOffset? Since { get; }

    /// <summary>
    /// How long after an outage of the way a host may still be silent for it alone: the host met the same outage, and
    /// its own retries (backing off) reach the way again at most this much after it is back. Its silence then says
    /// nothing, on top of the heartbeat window. Told to the other processes with the outage's end: a process that does
    /// not relay (an API instance) knows the hosts' way only from those reports.
    /// </summary>
    TimeSpan HostsCatchUp => TimeSpan.Zero;

    /// <summary>
    /// How long after this process starts a live host may still be silent for it alone, because it lost its way to this
    /// process when the process stopped (or was not up yet) and finds it again only by its own retries: the direct
    /// relay's hosts dial it, backing off between tries. On top of the heartbeat window after <see cref="Since"/>.
    /// Zero where the way outlives the process (Discord: a restarted server bot reads what was posted meanwhile) or the
    /// host starts with it (one process).
    /// </summary>
    TimeSpan HostsRedialAfterStart => TimeSpan.Zero;
}

/// <summary>The relay in one process: it hears its host from the start.</summary>
public sealed class ListeningFromTheStart : IRelayListening
{
    public DateTimeOffset? Since => DateTimeOffset.MinValue;
}
