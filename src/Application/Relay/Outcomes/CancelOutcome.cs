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
    IAnswerPieces shared,
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
        var produced = await ShownAsync(request, cancellationToken);
        var now = clock.UtcNow;
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

    /// <summary>
    /// What clients were shown of the answer: this process's stream, or, when more of it went to another process, the
    /// whole of it that every relay server process keeps (<see cref="IAnswerPieces"/>). A cancel asked at an API
    /// instance other than the one the host is connected to has none of the pieces here; with two server bots, each
    /// took some. Null when nothing was streamed.
    /// </summary>
    private async Task<string?> ShownAsync(RelayRequest request, CancellationToken cancellationToken)
    {
        var here = streams.Peek(request.Id.Value)?.Text;
        if (!request.IsInFlight)
        {
            return here;
        }

        var kept = RelayStreamState.WholeTextOf(await shared.ReadAsync(request.Id.Value, cancellationToken), request.Attempts);
        return kept is not null && kept.Length > (here?.Length ?? 0) ? kept : here;
    }
}
