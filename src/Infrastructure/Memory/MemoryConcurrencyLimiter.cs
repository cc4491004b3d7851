using MeatLizard.Application.Abstractions;

namespace MeatLizard.Infrastructure.Memory;

/// <summary>
/// Places per (scope, key) counted in this process (embedded mode: one process holds every stream). Nothing can die
/// without this process dying too, so a place needs no lease: it is held until disposed.
/// </summary>
public sealed class MemoryConcurrencyLimiter : IConcurrencyLimiter
{
    private readonly Dictionary<(ConcurrencyScope Scope, string Key), int> _held = [];
    private readonly Lock _gate = new();

    public ValueTask<IAsyncDisposable?> TryEnterAsync(
        ConcurrencyScope scope, string key, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        if (limit <= 0)
        {
            return ValueTask.FromResult<IAsyncDisposable?>(NoPlace.Instance);
        }

        lock (_gate)
        {
            var held = _held.GetValueOrDefault((scope, key));
            if (held >= limit)
            {
                return ValueTask.FromResult<IAsyncDisposable?>(null);
            }

            _held[(scope, key)] = held + 1;
        }

        return ValueTask.FromResult<IAsyncDisposable?>(new Place(this, (scope, key)));
    }

    private void Leave((ConcurrencyScope, string) id)
    {
        lock (_gate)
        {
            if (_held.TryGetValue(id, out var held) && held > 1)
            {
                _held[id] = held - 1;
            }
            else
            {
                _held.Remove(id);
            }
        }
    }

    private sealed class Place(MemoryConcurrencyLimiter owner, (ConcurrencyScope, string) id) : IAsyncDisposable
    {
        private int _left;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                owner.Leave(id);
            }

            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>What an uncapped scope (or a limiter failing open) hands out: nothing to give back.</summary>
internal sealed class NoPlace : IAsyncDisposable
{
    public static readonly NoPlace Instance = new();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
