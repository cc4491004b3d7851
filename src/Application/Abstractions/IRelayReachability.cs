namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Asks the relay's transport whether it works now (Discord answering). Asked before the hosts' silence is taken for
/// their absence: while the way is out no heartbeat can come, and nothing else may have tried the way meanwhile.
/// </summary>
public interface IRelayReachability
{
    Task<bool> IsReachableAsync(CancellationToken cancellationToken);

    /// <summary>
    /// How long after an outage of the way a host may still be silent for it alone: the host met the same outage, and
    /// its own retries (backing off) reach the way again at most this much after it is back. Its silence then says
    /// nothing, on top of the heartbeat window.
    /// </summary>
    TimeSpan HostsCatchUp => TimeSpan.Zero;
}

/// <summary>The relay in one process: its way to the host cannot be out.</summary>
public sealed class AlwaysReachable : IRelayReachability
{
    public Task<bool> IsReachableAsync(CancellationToken cancellationToken) => Task.FromResult(true);
}
