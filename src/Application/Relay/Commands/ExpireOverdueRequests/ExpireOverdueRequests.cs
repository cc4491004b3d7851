using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Commands;

/// <summary>Requests a worker did not acknowledge or finish in time are answered by the fallback.</summary>
public sealed record ExpireOverdueRequests : IRequest<int>;

public sealed partial class ExpireOverdueRequestsHandler(
    IRelayRequestRepository requests,
    RelayOutcomes outcomes,
    RelayRequestGate gate,
    IClock clock,
    ILogger<ExpireOverdueRequestsHandler> logger) : IRequestHandler<ExpireOverdueRequests, int>
{
    public async Task<int> Handle(ExpireOverdueRequests request, CancellationToken cancellationToken)
    {
        var expired = 0;
        foreach (var candidate in await requests.ListInFlightAsync(cancellationToken))
        {
            if (!candidate.IsOverdue(clock.UtcNow))
            {
                continue;
            }

            using (await gate.EnterAsync(candidate.Id.Value, cancellationToken))
            {
                var relayRequest = await requests.GetAsync(candidate.Id, cancellationToken);
                var now = clock.UtcNow;
                if (relayRequest is null || !relayRequest.IsOverdue(now))
                {
                    continue;
                }

                var reason = relayRequest.AckedAt is null ? RelayTimeoutReason.NoAck : RelayTimeoutReason.NoCompletion;
                LogOverdue(logger, relayRequest.Id.Value, reason);
                await outcomes.FallBackAsync(relayRequest, reason, cancellationToken);
                expired++;
            }
        }

        return expired;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId} timed out ({Reason}); the fallback answers")]
    private static partial void LogOverdue(ILogger logger, Guid requestId, RelayTimeoutReason reason);
}
