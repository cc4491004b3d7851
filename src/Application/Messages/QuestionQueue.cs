using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Messages.Caching;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Messages;

/// <summary>
/// What every question queued for the model needs before and after its write, whichever way it came in (a send, a
/// regenerate, an edit): room in its model's queue first, then the "queued" event, the metric and the dispatcher's
/// wake-up — or, for a question the answer cache answers (<see cref="AnswerCache"/>), its cached answer instead.
/// </summary>
public sealed class QuestionQueue(
    IChatReadModel reads,
    ChatModels models,
    IOptions<RelayOptions> relay,
    IChatEvents events,
    IQuestionHandOff handOff,
    PlatformMetrics metrics,
    AnswerCache cache)
{
    /// <summary>When to send again after a full model queue refused a message.</summary>
    public static readonly TimeSpan FullQueueRetryAfter = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Refuses (503 with Retry-After) a question for <paramref name="chat"/>'s model when that model's queue holds
    /// <see cref="RelayOptions.MaxQueuePerModel"/> already.
    /// </summary>
    public async Task RequireRoomAsync(Chat chat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chat);
        var max = relay.Value.MaxQueuePerModel;
        if (max <= 0)
        {
            return;
        }

        var defaultModel = await models.DefaultAsync(cancellationToken);
        var model = chat.Model?.Value ?? defaultModel;
        if (await reads.CountWaitingForModelAsync(model, model == defaultModel, cancellationToken) >= max)
        {
            throw new ServiceUnavailableException(
                $"The queue for the model '{model}' is full ({max} messages waiting); send again in a little while.",
                FullQueueRetryAfter);
        }
    }

    /// <summary>
    /// As <see cref="RequireRoomAsync"/> for a question that is to wait in its model's queue. None is counted for one
    /// placed on a host now (<paramref name="placed"/>: stored already dispatched, to a host that takes any number) or
    /// answered from the answer cache (<paramref name="lookup"/> a hit): neither waits in the queue, so neither is
    /// refused for its length — and a <c>/v1</c> completion placed at once is spared the count, one read of the database
    /// per question (<c>bench/openai.sh --part 2</c>). Returns whether the queue was counted.
    /// </summary>
    public async Task<bool> RequireRoomUnlessTakenAsync(Chat chat, RequestBody? placed, CacheLookup? lookup,
        CancellationToken cancellationToken)
    {
        if (placed is not null || lookup?.Hit is not null)
        {
            return false;
        }

        await RequireRoomAsync(chat, cancellationToken);
        return true;
    }

    /// <summary>The question looked up in the answer cache before it is queued; null when the cache does not apply.</summary>
    public Task<CacheLookup?> LookUpAsync(User asker, Chat chat, Question question,
        CancellationToken cancellationToken) => cache.LookUpAsync(asker, chat, question, cancellationToken);

    /// <summary>The request of a question the cache answers leaves the queue before it is stored (<see cref="AnswerCache.TakeFromQueue"/>).</summary>
    public void TakeFromQueue(RelayRequest request, CacheLookup? lookup, DateTimeOffset now)
    {
        if (lookup?.Hit is not null)
        {
            cache.TakeFromQueue(request, lookup, now);
        }
    }

    /// <summary>
    /// Places a new chat's first question on a model host before it is stored, when one takes it now
    /// (<see cref="IQuestionHandOff.PlaceAsync"/>); not one the answer cache answers (<paramref name="lookup"/> a hit).
    /// </summary>
    public async Task<RequestBody?> PlaceAsync(Chat chat, IReadOnlyList<Message> messages, RelayRequest request,
        CacheLookup? lookup, CancellationToken cancellationToken) =>
        lookup?.Hit is null ? await handOff.PlaceAsync(chat, messages, request, cancellationToken) : null;

    /// <summary>Whether a question in a started chat may be placed on a host now (<see cref="IQuestionHandOff.MayPlaceInChatAsync"/>).</summary>
    public ValueTask<bool> MayPlaceInChatAsync(CancellationToken cancellationToken) =>
        handOff.MayPlaceInChatAsync(cancellationToken);

    /// <summary>
    /// Places <paramref name="question"/>'s request in a started chat on a model host now, when one takes it
    /// (<see cref="IQuestionHandOff.PlaceInChatAsync"/>); not one the answer cache answers.
    /// </summary>
    public async Task<RequestBody?> PlaceInChatAsync(Chat chat, Message question, RelayRequest request,
        CacheLookup? lookup, CancellationToken cancellationToken) =>
        lookup?.Hit is null ? await handOff.PlaceInChatAsync(chat, question, request, cancellationToken) : null;

    /// <summary>
    /// Tells the chat its question is queued, then sends it to the host it was placed on (<paramref name="placed"/>) or
    /// wakes the dispatcher — in that order, so "queued" never arrives after "dispatched". <paramref name="kind"/> names
    /// the way in for the metric. A question the answer cache answers (<paramref name="lookup"/> a hit) is answered now
    /// instead.
    /// </summary>
    public async Task QueuedAsync(RelayRequest queued, string kind, CancellationToken cancellationToken,
        CacheLookup? lookup = null, RequestBody? placed = null)
    {
        ArgumentNullException.ThrowIfNull(queued);
        metrics.MessageSent(kind);
        if (lookup is not null)
        {
            // A placed question is not the cache's hit: its miss is noted whatever becomes of the caller, as it is sent.
            await cache.QueuedAsync(queued, lookup, placed is null ? cancellationToken : CancellationToken.None);
            if (lookup.Hit is not null)
            {
                return;
            }
        }

        if (placed is null)
        {
            await PublishQueuedAsync(queued, cancellationToken);
            await handOff.HandOffAsync(queued, null, cancellationToken);
            return;
        }

        // Stored dispatched: sent whatever becomes of the caller (who may be gone once it is stored) or of its "queued"
        // event, or it would wait for its ack timeout to be sent again.
        try
        {
            await PublishQueuedAsync(queued, CancellationToken.None);
        }
        finally
        {
            await handOff.HandOffAsync(queued, placed, CancellationToken.None);
        }
    }

    private ValueTask PublishQueuedAsync(RelayRequest queued, CancellationToken cancellationToken) => events.PublishAsync(
        new ChatEvent(ChatEventTypes.Status, queued.ChatId.Value, queued.Id.Value, Status: AnswerStatuses.Queued),
        cancellationToken);
}
