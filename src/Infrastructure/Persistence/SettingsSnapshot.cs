using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// This process's copy of the admin settings, loaded at most once per lifetime by one caller at a time (the others wait
/// and take what it loaded). <see cref="Drop"/> makes the next read load again; a load that a drop overtook is used
/// once, not kept. When a load fails, the settings last loaded are served for <see cref="RetryAfterFailure"/> before the
/// next try: every rate-limit check reads settings, and while the database is away (a restart, a silent network) each
/// caller in turn would otherwise wait for a read that fails. With nothing loaded yet, the failure is the caller's.
/// </summary>
internal sealed class SettingsSnapshot(
    TimeProvider clock, TimeSpan lifetime, Func<CancellationToken, Task<IReadOnlyDictionary<string, string>>> load) : IDisposable
{
    /// <summary>How long the last settings are served after a failed load before the next load is tried.</summary>
    public static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _loading = new(1, 1);
    private Held? _held;
    private IReadOnlyDictionary<string, string>? _lastLoaded;
    private long _generation;

    public async ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var held = Volatile.Read(ref _held);
        if (held is null || clock.GetUtcNow() >= held.ExpiresAt)
        {
            held = await LoadAsync(cancellationToken);
        }

        return held.Values.GetValueOrDefault(key);
    }

    /// <summary>The settings changed (here or elsewhere): the next read loads them.</summary>
    public void Drop()
    {
        Interlocked.Increment(ref _generation);
        Volatile.Write(ref _held, null);
    }

    public void Dispose() => _loading.Dispose();

    /// <summary>The settings table, all keys in one query.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> ReadTableAsync(IServiceScopeFactory scopes, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var entries = await scope.ServiceProvider.GetRequiredService<ISettingsStore>().ListAsync(cancellationToken);
        return entries.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
    }

    private async Task<Held> LoadAsync(CancellationToken cancellationToken)
    {
        await _loading.WaitAsync(cancellationToken);
        try
        {
            // Another caller may have loaded it (or failed to) while this one waited.
            var current = Volatile.Read(ref _held);
            if (current is not null && clock.GetUtcNow() < current.ExpiresAt)
            {
                return current;
            }

            var generation = Interlocked.Read(ref _generation);
            Held loaded;
            try
            {
                var values = await load(cancellationToken);
                _lastLoaded = values;
                loaded = new Held(values, clock.GetUtcNow() + lifetime);
            }
            catch (Exception) when (_lastLoaded is { } last && !cancellationToken.IsCancellationRequested)
            {
                loaded = new Held(last, clock.GetUtcNow() + RetryAfterFailure);
            }

            // A drop that came meanwhile may not be in what was just read: use it once, do not keep it.
            if (Interlocked.Read(ref _generation) == generation)
            {
                Volatile.Write(ref _held, loaded);
            }

            return loaded;
        }
        finally
        {
            _loading.Release();
        }
    }

    private sealed record Held(IReadOnlyDictionary<string, string> Values, DateTimeOffset ExpiresAt);
}
