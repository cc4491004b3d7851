using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>A request is stopped by its asker; what the model had streamed is kept as its answer.</summary>
public sealed class CancelOutcome(
    OutcomeStore store,
    OutcomeTelling telling,
    HostEnvelopes toHosts,
    RelayStreamState streams,
    IClock clock)
{
    /// <summary>
    /// Stops the request; text already streamed is kept as the (partial) answer. False when there was nothing to
    /// stop, or when another process changed the request since it was read (read it again to retry).
    /// </summary>
    public async Task<bool> CancelAsync(RelayRequest request, CancellationToken cancellationToken)
    {
        var wasInFlight = request.IsInFlight;
        var read = request.Status;
        var now = clock.UtcNow;
        var produced = streams.Peek(request.Id.Value)?.Text;
        var kept = string.IsNullOrEmpty(produced)
            ? null
            : Message.Answer(request.ChatId, request.Id, produced, MessageSource.Model, null, now);
        if (!request.Cancel(now, kept?.Id))
        {
            return false;
        }

        if (!await store.StoreAsync(request, read, kept, cancellationToken))
        {
            return false;
        }

        streams.Remove(request.Id.Value);
        if (wasInFlight)
        {
            await toHosts.CancelAsync(request, "cancelled by the user", cancellationToken);
        }

        if (kept is null)
        {
            await telling.PublishStatusAsync(request, AnswerStatuses.Cancelled, cancellationToken);
        }
        else
        {
            await telling.PublishStatusAsync(request, AnswerStatuses.Cancelled, kept, cancellationToken);
        }

        await telling.RecordAsync(request, now, "cancelled", null, cancellationToken);
        await telling.ForgetIfAskedAsync(request, cancellationToken);
        return true;
    }
}
