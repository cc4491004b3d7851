using MeatLizard.Application.Messages.Caching;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>
/// What a model's stored answer is used for again: the Markov fallback learns its words, and the answer cache keeps it
/// for the same deterministic question (<see cref="CachedAnswers"/>).
/// </summary>
public sealed class AnswerReuse(FallbackReplies replies, CachedAnswers cache)
{
    /// <summary>Nothing for an answer that came from the cache: it was learnt and kept when the model gave it.</summary>
    public async Task KeepAsync(RelayRequest request, FinalBody final, bool fromCache, CancellationToken cancellationToken)
    {
        if (fromCache)
        {
            return;
        }

        replies.Learn(request, final.Content);
        await cache.KeepAsync(request, final, cancellationToken);
    }
}
