using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Relay;

/// <summary>Cancels whatever a session still has running.</summary>
public sealed class RelayCancellation(IRelayRequestRepository requests, RelayRequestGate gate, RelayOutcomes outcomes)
{
    /// <summary>Returns the id of the request it stopped, or null when nothing was running.</summary>
    public async Task<RelayRequestId?> CancelUnfinishedAsync(SessionId sessionId, CancellationToken cancellationToken)
    {
        var unfinished = await requests.GetUnfinishedForSessionAsync(sessionId, cancellationToken);
        if (unfinished is null)
        {
            return null;
        }

        using (await gate.EnterAsync(unfinished.Id.Value, cancellationToken))
        {
            var current = await requests.GetAsync(unfinished.Id, cancellationToken);
            return current is not null && await outcomes.CancelAsync(current, cancellationToken) ? current.Id : null;
        }
    }
}
