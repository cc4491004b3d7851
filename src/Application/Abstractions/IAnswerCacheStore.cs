namespace MeatLizard.Application.Abstractions;

/// <summary>A model's answer kept to be given again: its words, its token counts, the model and why it stopped.</summary>
public sealed record CachedAnswer(string Content, int PromptTokens, int CompletionTokens, string? Model, string FinishReason);

/// <summary>
/// Where the answer cache (<c>Cache:Answers</c>) keeps answers by key — in this process, or in Redis for every process —
/// each for the configured lifetime, at most the configured number of them (the oldest go first), and which request
/// will answer a key that was missed, until its answer is kept. A store that cannot be reached finds nothing and keeps
/// nothing: the question is then asked of a model as without the cache.
/// </summary>
public interface IAnswerCacheStore
{
    Task<CachedAnswer?> FindAsync(string key, CancellationToken cancellationToken);

    Task KeepAsync(string key, CachedAnswer answer, CancellationToken cancellationToken);

    /// <summary>Remembers that the request <paramref name="requestId"/> is asked the question of <paramref name="key"/>.</summary>
    Task AwaitAsync(Guid requestId, string key, CancellationToken cancellationToken);

    /// <summary>The key the request <paramref name="requestId"/> was asked for (forgotten by this read); null when none.</summary>
    Task<string?> TakeAwaitedAsync(Guid requestId, CancellationToken cancellationToken);
}

/// <summary>A host with no answer cache of its own (a model host, a test's container): nothing found, nothing kept.</summary>
public sealed class NoAnswerCache : IAnswerCacheStore
{
    public Task<CachedAnswer?> FindAsync(string key, CancellationToken cancellationToken) =>
        Task.FromResult<CachedAnswer?>(null);

    public Task KeepAsync(string key, CachedAnswer answer, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task AwaitAsync(Guid requestId, string key, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<string?> TakeAwaitedAsync(Guid requestId, CancellationToken cancellationToken) =>
        Task.FromResult<string?>(null);
}
