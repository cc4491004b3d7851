using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// The settings table held for <see cref="Lifetime"/>: every rate-limit check and fallback reads settings, so they
/// are loaded at most once per lifetime (one query for all keys). A write in this process calls
/// <see cref="Invalidate"/>, so its own change applies at once; other processes (the API beside the server bot) see
/// it within the lifetime. When the table cannot be read the last settings stay in use (<see cref="SettingsSnapshot"/>;
/// with none yet, the failure is the caller's).
/// </summary>
internal sealed class CachedRuntimeSettings(IServiceScopeFactory scopes, TimeProvider clock) : IRuntimeSettings, IDisposable
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(5);

    private readonly SettingsSnapshot _snapshot = new(clock, Lifetime, token => SettingsSnapshot.ReadTableAsync(scopes, token));

    public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken) => _snapshot.GetAsync(key, cancellationToken);

    public void Invalidate() => _snapshot.Drop();

    public void Dispose() => _snapshot.Dispose();
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
