using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Inference.Fallback;

/// <summary>
/// One Markov chain per user, trained on the built-in corpus and on the model's answers in that user's own chats only:
/// a chain shared by everyone would hand one user's rare phrases to anyone whose prompt names them.
/// A chain is built on a user's first fallback from the store (so answers stored by any process count), kept for
/// <see cref="Lifetime"/> and fed the answers this process stores meanwhile, then read again. At most
/// <see cref="MaxUsers"/> chains are kept, the least recently used evicted first, each of bounded size.
/// </summary>
public sealed partial class UserFallbackChains(IServiceScopeFactory scopes, IClock clock, ILogger<UserFallbackChains> logger)
{
    /// <summary>How many of a user's newest model answers a chain learns.</summary>
    public const int MaxAnswersPerUser = 300;

    /// <summary>Word pairs one user's chain may hold (the corpus included).</summary>
    public const int MaxStatesPerUser = 20_000;

    public const int MaxUsers = 64;

    /// <summary>How long a chain is used before the store is read again (answers stored by other processes).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private readonly Lock _gate = new();
    private readonly Dictionary<UserId, Entry> _chains = [];
    private long _uses;

    /// <summary>Chains held now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _chains.Count;
            }
        }
    }

    /// <summary>The user's chain, built from the store when missing or older than <see cref="Lifetime"/>.</summary>
    public async Task<MarkovChain> ForAsync(UserId user, CancellationToken cancellationToken)
    {
        Entry entry;
        lock (_gate)
        {
            var now = clock.UtcNow;
            if (!_chains.TryGetValue(user, out entry!) || entry.Chain.IsFaulted || now - entry.BuiltAt >= Lifetime)
            {
                // Shared by callers asking at once; not cancelled by any one of them.
                var building = new Entry(now);
                building.Chain = Task.Run(async () => building.Ready = await BuildAsync(user));
                entry = building;
                _chains[user] = entry;
            }

            entry.LastUse = ++_uses;
            EvictLeastRecentlyUsed();
        }

        try
        {
            return await entry.Chain.WaitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The store could not be read: this reply comes from the corpus alone, the next fallback tries again.
            LogBuildFailed(logger, ex.GetType().Name);
            return CorpusOnly();
        }
    }

    /// <summary>Adds a model answer to the user's chain when one is held; otherwise the next build reads it.</summary>
    public void Learn(UserId user, string modelAnswer)
    {
        MarkovChain? chain;
        lock (_gate)
        {
            chain = _chains.TryGetValue(user, out var entry) ? entry.Ready : null;
        }

        // A chain still being built reads this answer from the store, or at its next refresh.
        chain?.Learn(modelAnswer);
    }

    private static MarkovChain CorpusOnly()
    {
        var chain = new MarkovChain(MaxStatesPerUser);
        foreach (var sentence in BuiltInCorpus.Sentences)
        {
            chain.Learn(sentence);
        }

        return chain;
    }

    private async Task<MarkovChain> BuildAsync(UserId user)
    {
        var chain = CorpusOnly();
        await using var scope = scopes.CreateAsyncScope();

        // A host without a database (a worker) has only the corpus.
        if (scope.ServiceProvider.GetService<IChatReadModel>() is not { } reads)
        {
            return chain;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var answers = await reads.GetModelAnswersAsync(user, MaxAnswersPerUser, timeout.Token);

        // They come newest first; learn in the order they were written.
        for (var i = answers.Count - 1; i >= 0; i--)
        {
            chain.Learn(answers[i]);
        }

        return chain;
    }

    private void EvictLeastRecentlyUsed()
    {
        while (_chains.Count > MaxUsers)
        {
            var oldest = _chains.MinBy(pair => pair.Value.LastUse).Key;
            _chains.Remove(oldest);
        }
    }

    private sealed class Entry(DateTimeOffset builtAt)
    {
        public Task<MarkovChain> Chain { get; set; } = null!;

        /// <summary>The chain once built (null until then).</summary>
        public volatile MarkovChain? Ready;

        public DateTimeOffset BuiltAt { get; } = builtAt;

        public long LastUse { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The fallback could not read the user's model answers ({ErrorType}); this reply comes from the built-in corpus")]
    private static partial void LogBuildFailed(ILogger logger, string errorType);
}
