using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Relay;

/// <summary>Cancels whatever a session still has running.</summary>
public sealed class RelayCancellation(IRelayRequestRepository requests, RelayRequestGate gate, RelayOutcomes outcomes)
{
    private const int MaxAttempts = 3;

    /// <summary>Returns the id of the request it stopped, or null when nothing was running.</summary>
    public async Task<RelayRequestId?> CancelUnfinishedAsync(ChatId chatId, CancellationToken cancellationToken)
    {
        var unfinished = await requests.GetUnfinishedForSessionAsync(chatId, cancellationToken);
        if (unfinished is null)
        {
            return null;
        }

        using (await gate.EnterAsync(unfinished.Id.Value, cancellationToken))
        {
            // The gate orders this process's changes; another process (a dispatcher, a timeout) may still change the
            // request between the read and the write, which then stores nothing: read it again and retry.
            for (var attempt = 0; attempt < MaxAttempts; attempt++)
            {
                var current = await requests.GetAsync(unfinished.Id, cancellationToken);
                if (current is null || current.IsFinished)
                {
                    return null;
                }

                if (await outcomes.CancelAsync(current, cancellationToken))
                {
                    return current.Id;
                }
            }

            return null;
        }
    }
}
