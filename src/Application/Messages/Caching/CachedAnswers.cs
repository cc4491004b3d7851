using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;
using MeatLizard.Domain.Relay;
using Microsoft.Extensions.Options;

namespace MeatLizard.Application.Messages.Caching;

/// <summary>
/// The answer cache's entries (<see cref="IAnswerCacheStore"/>) as the conversation core uses them: a look-up counted
/// as a hit or a miss in <c>/metrics</c>, the request a missed question waits for, and that request's answer kept once
/// stored — a whole answer in words (finished by <c>stop</c> or <c>length</c>; no tool calls), of a chat that keeps it.
/// </summary>
public sealed class CachedAnswers(IAnswerCacheStore store, IOptions<AnswerCacheOptions> options, PlatformMetrics metrics)
{
    public bool Enabled => options.Value.Enabled;

    /// <summary>Null when every user has answers of their own; else the asker, whose own answers the key names.</summary>
    public bool SharedAcrossUsers => options.Value.SharedAcrossUsers;

    public async Task<CachedAnswer?> FindAsync(string key, CancellationToken cancellationToken)
    {
        var hit = await store.FindAsync(key, cancellationToken);
        metrics.AnswerCacheLookedUp(hit is not null);
        return hit;
    }

    public Task AwaitAsync(RelayRequest request, string key, CancellationToken cancellationToken) =>
        store.AwaitAsync(request.Id.Value, key, cancellationToken);

    /// <summary>Keeps <paramref name="final"/>, <paramref name="request"/>'s stored answer, when a missed look-up waits for it.</summary>
    public async Task KeepAsync(RelayRequest request, FinalBody final, CancellationToken cancellationToken)
    {
        if (!Enabled || request.Options.KeepNothing || final.ToolCalls is { Count: > 0 }
            || final.FinishReason is not ("stop" or "length")
            || !AnswerCacheKeys.IsDeterministic(request.Sampling, request.Options))
        {
            return;
        }

        if (await store.TakeAwaitedAsync(request.Id.Value, cancellationToken) is { } key)
        {
            await store.KeepAsync(key, new CachedAnswer(final.Content, final.PromptTokens, final.CompletionTokens,
                final.Model, final.FinishReason), cancellationToken);
        }
    }
}
