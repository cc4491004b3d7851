using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// The settings table held for <see cref="Lifetime"/>: every rate-limit check and fallback reads settings, so they
/// are loaded at most once per lifetime (one query for all keys). A write in this process calls
/// <see cref="Invalidate"/>, so its own change applies at once; other processes (the API beside the server bot) see
/// it within the lifetime. When the table cannot be read the last snapshot stays in use (or none: configuration).
/// </summary>
internal sealed class CachedRuntimeSettings(IServiceScopeFactory scopes, TimeProvider clock) : IRuntimeSettings
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _loading = new(1, 1);
    private Snapshot? _snapshot;
    private long _generation;

    public async ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if (snapshot is null || clock.GetUtcNow() >= snapshot.ExpiresAt)
        {
            snapshot = await LoadAsync(cancellationToken);
        }

        return snapshot.Values.GetValueOrDefault(key);
    }

    public void Invalidate()
    {
        Interlocked.Increment(ref _generation);
        Volatile.Write(ref _snapshot, null);
    }

    private async Task<Snapshot> LoadAsync(CancellationToken cancellationToken)
    {
        await _loading.WaitAsync(cancellationToken);
        try
        {
            // Another caller may have loaded it while this one waited.
            var current = Volatile.Read(ref _snapshot);
            if (current is not null && clock.GetUtcNow() < current.ExpiresAt)
            {
                return current;
            }

            var generation = Interlocked.Read(ref _generation);
            IReadOnlyList<SettingEntry> entries;
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                entries = await scope.ServiceProvider.GetRequiredService<ISettingsStore>().ListAsync(cancellationToken);
            }
            catch (Exception) when (current is not null && !cancellationToken.IsCancellationRequested)
            {
                // Keep serving what we had rather than failing every request while the database is away.
                return current;
            }

            var loaded = new Snapshot(
                entries.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal), clock.GetUtcNow() + Lifetime);

            // A write that invalidated meanwhile may not be in what was just read: use it once, do not keep it.
            if (Interlocked.Read(ref _generation) == generation)
            {
                Volatile.Write(ref _snapshot, loaded);
            }

            return loaded;
        }
        finally
        {
            _loading.Release();
        }
    }

    private sealed record Snapshot(IReadOnlyDictionary<string, string> Values, DateTimeOffset ExpiresAt);
}

public static class RuntimeSettingsRegistration
{
    /// <summary>The admins' settings from the database, cached in this process (no Redis to share a cache in).</summary>
    public static IServiceCollection AddCachedRuntimeSettings(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IRuntimeSettings, CachedRuntimeSettings>();
        return services;
    }
}
