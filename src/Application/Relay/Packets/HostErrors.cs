using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Relay.Packets;

/// <summary>
/// A host's error for a request: a host that is stopping, whose engine died under the request, or whose engine cannot
/// answer for now (its upstream failing) hands it back to be asked again (<see cref="HostFailures"/>); any other error
/// ends the request with a notice.
/// </summary>
public sealed class HostErrors(RelayOutcomes outcomes, HostFailures failures, IOptions<RelayOptions> options)
{
    /// <summary>
    /// False when the store refused the change because the request is no longer as <paramref name="read"/>.
    /// <paramref name="deltas"/> are the pieces that came with the error, already added to the request's stream: told
    /// before the ending, or before the hand-back, whose next attempt goes on from them too.
    /// </summary>
    public async Task<bool> ApplyAsync(RelayRequest request, ErrorBody error, RelayRequestStatus read,
        IReadOnlyList<ChatEvent>? deltas, CancellationToken cancellationToken)
    {
        var relay = options.Value;
        switch (error.Code)
        {
            case RelayErrorCodes.Shutdown or RelayErrorCodes.Draining or RelayErrorCodes.Restarted:
                // Its host is stopping, or its run that had it is gone: another host serving the model (or the host's new
                // run) answers it instead, going on from what was shown.
                return await failures.GoesElsewhereAsync(request, anyHost: true, cancellationToken)
                    ? await outcomes.RequeueAsync(request, read, "host stopping", cancellationToken, deltas: deltas)
                    : await outcomes.FailAsync(request, error, cancellationToken, read, deltas);
            case RelayErrorCodes.EngineLost when request.Attempts < relay.MaxAttempts + relay.EngineLostRetries:
                // Its host's engine died under it and is starting again: asked again, there once it is back or at
                // another host. Not an attempt used up, unless the engine dies under it every time.
                return await outcomes.RequeueAsync(request, read, "its engine stopped", cancellationToken, deltas: deltas);
            case RelayErrorCodes.EngineUnavailable:
                // Its host's engine cannot answer for now (its upstream failing, its breaker open) and gave nothing:
                // another host serving the model answers it, if one is online; its host says so in its heartbeat.
                return await failures.GoesElsewhereAsync(request, anyHost: false, cancellationToken)
                    ? await outcomes.RequeueAsync(request, read, "its engine is unavailable", cancellationToken, deltas: deltas)
                    : await outcomes.FailAsync(request, error, cancellationToken, read, deltas);
            default:
                return await outcomes.FailAsync(request, error, cancellationToken, read, deltas);
        }
    }
}
