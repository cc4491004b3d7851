using MeatLizard.Application.Messages.Caching;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Relay.Outcomes;

/// <summary>
/// What a model's stored answer is used for again: the Markov fallback learns its words, and the answer cache keeps it
/// for the same deterministic question (<see cref="CachedAnswers"/>).
/// </summary>
public sealed class AnswerReuse(FallbackReplies replies, CachedAnswers cache)
{
    public async Task KeepAsync(RelayRequest request, FinalBody final, bool fromCache, CancellationToken cancellationToken)
    {
        replies.Learn(request, final.Content);
        if (!fromCache)
        {
            await cache.KeepAsync(request, final, cancellationToken);
        }
    }
}
