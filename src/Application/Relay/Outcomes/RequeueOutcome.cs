using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>An in-flight request goes back to the queue for another host (not an ending: it is asked again).</summary>
public sealed partial class RequeueOutcome(
    OutcomeStore store,
    OutcomeTelling telling,
    ModelHosts hosts,
    RelayStreamState streams,
    IAnswerPieces shared,
    IRelayQueueSignal queueSignal,
    ILogger<RequeueOutcome> logger)
{
    /// <summary>
    /// Puts an in-flight request back in the queue for another host (<see cref="RelayRequest.Requeue"/>): its host is
    /// stopping or went quiet. Clients are told (status <c>requeued</c>); what they were shown of it, when this process
    /// streamed all of it, or all of it is among the pieces every relay server process keeps (<see cref="IAnswerPieces"/>:
    /// another server bot took some), is stored with the request, and the next attempt is asked to write on from it
    /// (<see cref="RelayRequest.AnswerStart"/>). <paramref name="deltas"/> are pieces that came with the hand-back, already
    /// in the stream: told just before it. False when the store refused the change (the request changed elsewhere).
    /// </summary>
    public async Task<bool> RequeueAsync(RelayRequest request, RelayRequestStatus read, string why,
        CancellationToken cancellationToken, bool hostGaveUp = true, IReadOnlyList<ChatEvent>? deltas = null)
    {
        var from = request.WorkerId;
        var shown = streams.WholeTextOf(request.Id.Value)
                    ?? RelayStreamState.WholeTextOf(await shared.ReadAsync(request.Id.Value, cancellationToken), request.Attempts);
        if (!request.Requeue(shown))
        {
            return true;
        }

        if (hostGaveUp && from is { } host)
        {
            // Claimable again at once: it must not go straight back to the host that just gave it up.
            hosts.GaveUp(host);
        }

        if (!await store.StoreAsync(request, read, null, cancellationToken))
        {
            return false;
        }

        streams.Remove(request.Id.Value);
        LogRequeued(logger, request.Id.Value, why);
        await telling.PublishStatusAsync(request, AnswerStatuses.Requeued, cancellationToken, deltas);
        queueSignal.NotifyPending();
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId} goes back to the queue for another host ({Why})")]
    private static partial void LogRequeued(ILogger logger, Guid requestId, string why);
}
