using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Memory;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Infrastructure.Redis;

public static class RedisRegistration
{
    /// <summary>
    /// Replaces the in-process rate limiter, chat-event bus, replay guard and worker presence with their Redis
    /// versions, and tells the user cache of other processes' writes (call after <see cref="EmbeddedAdaptersRegistration.AddMemoryAdapters"/> and
    /// <see cref="RelayRegistration.AddEnvelopeCipher"/>). Reads <c>ConnectionStrings:Redis</c> and section
    /// <c>Cache:Redis</c>; a bad value throws a <see cref="ConfigurationException"/> naming the key.
    /// </summary>
    public static IServiceCollection AddRedisCache(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = ReadOptions(configuration);

        services.AddMetrics();
        services.AddOptions<RedisOptions>().Configure(o =>
        {
            o.Configuration = options.Configuration;
            o.KeyPrefix = options.KeyPrefix;
            o.FailMode = options.FailMode;
            o.FailClosedRetryAfter = options.FailClosedRetryAfter;
            o.ChatSubscriptionLinger = options.ChatSubscriptionLinger;
        });
        services.TryAddSingleton<IClock, SystemClock>();
        services.AddSingleton<RedisConnection>();
        services.AddSingleton<RedisOutages>();
        services.TryAddSingleton<RedisCacheInvalidations>();
        services.TryAddSingleton<IRateLimitSettings, ConfiguredRateLimits>();
        services.TryAddSingleton<MemoryReplayGuard>();
        services.TryAddSingleton<MemoryWorkerPresence>();
        services.Replace(ServiceDescriptor.Singleton<IRateLimiter, RedisRateLimiter>());
        services.Replace(ServiceDescriptor.Singleton<IConcurrencyLimiter, RedisConcurrencyLimiter>());
        services.Replace(ServiceDescriptor.Singleton<IChatEvents, RedisChatEvents>());
        services.Replace(ServiceDescriptor.Singleton<IReplayGuard, RedisReplayGuard>());
        services.Replace(ServiceDescriptor.Singleton<IWorkerPresence, RedisWorkerPresence>());
        services.Replace(ServiceDescriptor.Singleton<IUserCachePeers, RedisUserCachePeers>());
        return services;
    }

    /// <summary>
    /// Admin settings read through the cache shared in Redis, invalidated in every process on a write (call after the
    /// persistence registration, whose per-process cache it replaces).
    /// </summary>
    public static IServiceCollection AddRedisRuntimeSettings(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.Replace(ServiceDescriptor.Singleton<IRuntimeSettings, RedisRuntimeSettings>());
        return services;
    }

    /// <summary>Reads and checks the Redis settings; the connection string is parsed now so a typo stops start-up.</summary>
    public static RedisOptions ReadOptions(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new RedisOptions();
        try
        {
            configuration.GetSection(RedisOptions.Section).Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key and the value it could not convert.
            throw new ConfigurationException(ex.Message);
        }

        options.Configuration = configuration.GetConnectionString("Redis") ?? string.Empty;
        RedisConnection.ParseConfiguration(options.Configuration);
        if (string.IsNullOrWhiteSpace(options.KeyPrefix))
        {
            throw new ConfigurationException($"{RedisOptions.Section}:KeyPrefix may not be empty.");
        }

        if (options.FailClosedRetryAfter <= TimeSpan.Zero)
        {
            throw new ConfigurationException($"{RedisOptions.Section}:FailClosedRetryAfter must be positive.");
        }

        if (options.ChatSubscriptionLinger < TimeSpan.Zero || options.ChatSubscriptionLinger > RedisOptions.MaxChatSubscriptionLinger)
        {
            throw new ConfigurationException(
                $"{RedisOptions.Section}:ChatSubscriptionLinger must be between 00:00:00 and 1.00:00:00 (a day), not {options.ChatSubscriptionLinger}.");
        }

        return options;
    }
}
