using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Messages.Caching;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Memory;

/// <summary>
/// The answer cache in this process (embedded mode): answers by key, each until its lifetime ends, at most
/// <see cref="AnswerCacheOptions.MaxEntries"/> of them — past it the oldest kept go — and the key each missed
/// question's request will answer, for as long as an answer may take.
/// </summary>
public sealed class MemoryAnswerCache(IOptions<AnswerCacheOptions> options, TimeProvider time) : IAnswerCacheStore
{
    /// <summary>How long a missed question waits for its request's answer to be kept.</summary>
    public static readonly TimeSpan AwaitLifetime = TimeSpan.FromMinutes(30);

    private readonly CountedMap<string, Entry> _answers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Key, long Kept)> _order = new();
    private readonly CountedMap<Guid, (string Key, DateTimeOffset Until)> _awaited = new();
    private long _kept;

    public Task<CachedAnswer?> FindAsync(string key, CancellationToken cancellationToken)
    {
        if (_answers.TryGetValue(key, out var entry))
        {
            if (entry.Until > time.GetUtcNow())
            {
                return Task.FromResult<CachedAnswer?>(entry.Answer);
            }

            _answers.TryRemove(new KeyValuePair<string, Entry>(key, entry));
        }

        return Task.FromResult<CachedAnswer?>(null);
    }

    public Task KeepAsync(string key, CachedAnswer answer, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _kept);
        _answers[key] = new Entry(answer, time.GetUtcNow() + options.Value.Lifetime, number);
        _order.Enqueue((key, number));
        Trim();
        return Task.CompletedTask;
    }

    public Task AwaitAsync(Guid requestId, string key, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        _awaited[requestId] = (key, now + AwaitLifetime);
        if (_awaited.Count > options.Value.MaxEntries)
        {
            // Requests that never ended (cancelled, failed): their keys are dropped once they are past waiting for.
            foreach (var stale in _awaited.Where(a => a.Value.Until <= now).Select(a => a.Key).ToList())
            {
                _awaited.TryRemove(stale, out _);
            }
        }

        return Task.CompletedTask;
    }

    public Task<string?> TakeAwaitedAsync(Guid requestId, CancellationToken cancellationToken) =>
        Task.FromResult(_awaited.TryRemove(requestId, out var awaited) && awaited.Until > time.GetUtcNow()
            ? awaited.Key
            : null);

    /// <summary>The oldest kept answers go until the cap holds (an answer kept again counts from its newest keeping).</summary>
    private void Trim()
    {
        while (_answers.Count > options.Value.MaxEntries && _order.TryDequeue(out var oldest))
        {
            if (_answers.TryGetValue(oldest.Key, out var entry) && entry.Number == oldest.Kept)
            {
                _answers.TryRemove(new KeyValuePair<string, Entry>(oldest.Key, entry));
            }
        }

        // Keys kept again leave entries in the order behind them; the queue is kept to about twice the cap.
        while (_order.Count > 2 * options.Value.MaxEntries && _order.TryPeek(out var head)
               && (!_answers.TryGetValue(head.Key, out var current) || current.Number != head.Kept))
        {
            _order.TryDequeue(out _);
        }
    }

    private sealed record Entry(CachedAnswer Answer, DateTimeOffset Until, long Number);
}
