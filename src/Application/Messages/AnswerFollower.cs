using System.Runtime.CompilerServices;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Common.Mapping;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Messages;

/// <summary>
/// The one way to follow a request to its answer, for every way in (<c>?wait=true</c>, <c>/v1</c> whole and streamed,
/// chat network replies): it reads the chat's events for the request and says, typed, what happened — new words, the
/// answer started over by another attempt, a status, and how it ended. Words are given only while none is missing before
/// them (<see cref="PiecesInOrder"/>): those after a gap wait for the missing piece — a later event, or at each recheck
/// the pieces every relay server process keeps — and what is still missing at the end comes with the stored answer.
/// The answer normally arrives as an event; every
/// <see cref="RecheckInterval"/> until then, and when the event bus goes away, the stored request is looked at, so an
/// answer whose event was lost is still given soon. A look that meets the database away (restarting) is tried at the
/// next recheck. The follower waits as long as a request may take once sent to a host; a request still queued (every
/// slot busy) has not started that time yet, so while it is, the wait starts again at each look.
/// </summary>
public sealed class AnswerFollower(
    IRelayRequestRepository requests, IMessageRepository messages, IAnswerPieces kept, IOptions<RelayOptions> relay)
{
    public static readonly TimeSpan RecheckInterval = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Follows <paramref name="requestId"/> in <paramref name="events"/> (the chat's events, opened before the request
    /// was queued, or before <paramref name="lookFirst"/>: the stored request is then read first, as it may have ended
    /// before the events were opened). Ends after the first <see cref="AnswerEnd"/>; the caller disposes
    /// <paramref name="events"/>.
    /// </summary>
    public async IAsyncEnumerable<AnswerUpdate> FollowAsync(IChatEventSubscription events, Guid requestId,
        bool lookFirst, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (lookFirst && await StoredEndAsync(requestId, cancellationToken) is { } before)
        {
            yield return before;
            yield break;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var mayTake = relay.Value.AckTimeout + relay.Value.CompletionTimeout + TimeSpan.FromSeconds(10);
        deadline.CancelAfter(mayTake);
        await using var reader = new AnswerEventReader(events.ReadAllAsync(deadline.Token).GetAsyncEnumerator(deadline.Token),
            requestId, deadline);
        var pieces = new PiecesInOrder();
        while (true)
        {
            var (update, open) = await reader.NextAsync(cancellationToken);
            if (update is AnswerWords { Seq: > 0 } words)
            {
                var (given, startedOver) = pieces.Take(words.Seq, words.Text);
                if (startedOver)
                {
                    yield return new AnswerStartedOver();
                }

                if (given is not { Text.Length: > 0 })
                {
                    continue; // waits for a piece missing before it, or none to tell
                }

                update = given;
            }
            else if (update is AnswerStartedOver)
            {
                pieces.StartOver();
            }
            else if (update is null || (update is AnswerStatusChanged { Status: var status } && AnswerStatuses.MayBeFinished(status)))
            {
                // A finishing status, a recheck due, the bus gone or out of time: the stored request says how it ended.
                // ("queued" and "dispatched" come before the request can finish: the store has nothing to show yet.)
                var (stored, queued) = await StoredAsync(requestId, cancellationToken);
                if (stored is not null)
                {
                    yield return stored;
                    yield break;
                }

                if (pieces.Waiting && await FilledAsync(pieces, requestId, cancellationToken) is { } filled)
                {
                    yield return filled;
                }

                if (queued && !deadline.IsCancellationRequested)
                {
                    deadline.CancelAfter(mayTake);
                }

                if (deadline.IsCancellationRequested)
                {
                    yield return new AnswerLate();
                    yield break;
                }

                if (!open)
                {
                    await reader.PauseAsync();
                }
            }

            if (update is not null)
            {
                yield return update;
                if (update is AnswerEnd)
                {
                    yield break;
                }
            }
        }
    }

    /// <summary>
    /// The words missing before those that wait, from the pieces every relay server process keeps (a piece whose event
    /// was lost on the way); null when they are not there either (one process keeps none).
    /// </summary>
    private async Task<AnswerWords?> FilledAsync(PiecesInOrder pieces, Guid requestId, CancellationToken cancellationToken) =>
        pieces.Fill(await kept.ReadAsync(requestId, cancellationToken)) is { Text.Length: > 0 } filled ? filled : null;

    /// <summary>How the stored request ended, or null while it is under way.</summary>
    private async Task<AnswerEnd?> StoredEndAsync(Guid requestId, CancellationToken cancellationToken) =>
        (await StoredAsync(requestId, cancellationToken)).End;

    /// <summary>
    /// How the stored request ended (null while it is under way, or while the database cannot be read), and whether it
    /// is still queued: not yet sent to a host.
    /// </summary>
    private async Task<(AnswerEnd? End, bool Queued)> StoredAsync(Guid requestId, CancellationToken cancellationToken)
    {
        try
        {
            var request = await requests.GetAsync(new RelayRequestId(requestId), cancellationToken)
                          ?? throw NotFoundException.Request();
            if (!request.IsFinished)
            {
                return (null, request.Status == RelayRequestStatus.Pending);
            }

            if (request.AnswerMessageId is not { } answerId)
            {
                return (new AnswerWithdrawn(), false);
            }

            var message = await messages.GetAsync(answerId, cancellationToken) ?? throw NotFoundException.Answer();
            return (new AnswerGiven(message.ToDto()), false);
        }
        catch (Exception ex) when (DatabaseFailures.IsOutage(ex) && !cancellationToken.IsCancellationRequested)
        {
            // Restarting: the answer's event may still come, and the next look may find the database back.
            return (null, false);
        }
    }
}
