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
}

/// <summary>The relay in one process: it hears its host from the start.</summary>
public sealed class ListeningFromTheStart : IRelayListening
{
    public DateTimeOffset? Since => DateTimeOffset.MinValue;
}
