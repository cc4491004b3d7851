using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Relay.Outcomes;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Messages.Caching;

/// <summary>A question looked up in the answer cache: its key, its model, and the answer found (null: a miss).</summary>
public sealed record CacheLookup(string Key, string Model, CachedAnswer? Hit);

/// <summary>
/// The answer cache in the one way a question is asked (<see cref="Asking"/>): a deterministic question is looked up
/// before it is queued; a hit is stored with its request already taken from the queue (no dispatcher may claim it, no
/// host is asked) and then answered at once from the cache, like any answer — stored, told, counted — and marked as
/// cached; a miss is remembered with its request, whose answer the cache then keeps.
/// </summary>
public sealed class AnswerCache(
    CachedAnswers entries,
    IChatReadModel reads,
    ChatModels models,
    Lazy<CompleteOutcome> completes,
    IOptions<RelayOptions> relay)
{
    /// <summary>Null when the cache is off or the question is not deterministic (or is tool results).</summary>
    public async Task<CacheLookup?> LookUpAsync(User asker, Chat chat, Question question,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(asker);
        ArgumentNullException.ThrowIfNull(chat);
        ArgumentNullException.ThrowIfNull(question);
        var sampling = question.Sampling.Over(chat.Sampling);
        // A question with images is not cached: the key holds words, not pictures.
        if (!entries.Enabled || question.Text is not { } text || question.Images.Count > 0
            || !AnswerCacheKeys.IsDeterministic(sampling, question.Options))
        {
            return null;
        }

        var recent = question.Chat is InNewChat
            ? []
            : await reads.GetRecentTurnsAsync(chat.Id, relay.Value.MaxHistoryMessages, cancellationToken);
        if (recent.Any(t => t.Images is { Count: > 0 }))
        {
            return null; // nor one after images: the answer may speak of them
        }

        List<CacheTurn> turns = question.Chat is InNewChat wanted
            ? [.. wanted.Turns.Select(t => new CacheTurn(t.Role, t.Content, t.ToolCalls, t.ToolCallId))]
            : [.. recent.Select(t => new CacheTurn(t.Role, t.Content, t.ToolCalls, t.ToolCallId))];
        turns.Add(new CacheTurn(MessageRole.User, text.Value));
        var model = await models.OfAsync(chat, cancellationToken);
        var key = AnswerCacheKeys.Of(model, chat.SystemPrompt, turns, sampling, question.Options,
            entries.SharedAcrossUsers ? null : asker.Id.Value);
        return new CacheLookup(key, model, await entries.FindAsync(key, cancellationToken));
    }

    /// <summary>
    /// Before the request a hit answers is stored: it leaves the queue for no host, so no dispatcher claims it. Should
    /// this process stop before the cached answer is stored, the request's ack deadline hands it to a model host.
    /// </summary>
    public void TakeFromQueue(RelayRequest request, CacheLookup lookup, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(lookup);
        request.Dispatch(now, relay.Value.AckTimeout, relay.Value.CompletionTimeout, routedModel: lookup.Model);
    }

    /// <summary>After the request is stored: answers a hit from the cache, or remembers what a miss's request will answer.</summary>
    public async Task QueuedAsync(RelayRequest request, CacheLookup lookup, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(lookup);
        if (lookup.Hit is not { } hit)
        {
            await entries.AwaitAsync(request, lookup.Key, cancellationToken);
            return;
        }

        var final = new FinalBody(hit.Content, hit.PromptTokens, hit.CompletionTokens, InferenceMs: 0, hit.FinishReason,
            Model: hit.Model);
        await completes.Value.CompleteAsync(request, final, cancellationToken, fromCache: true);
    }
}
