namespace MeatLizard.Application.Abstractions;

/// <summary>
/// Asks the relay's transport whether it works now (Discord answering). Asked before the hosts' silence is taken for
/// their absence: while the way is out no heartbeat can come, and nothing else may have tried the way meanwhile.
/// </summary>
public interface IRelayReachability
{
    Task<bool> IsReachableAsync(CancellationToken cancellationToken);
}

/// <summary>The relay in one process: its way to the host cannot be out.</summary>
public sealed class AlwaysReachable : IRelayReachability
{
    public Task<bool> IsReachableAsync(CancellationToken cancellationToken) => Task.FromResult(true);
}
