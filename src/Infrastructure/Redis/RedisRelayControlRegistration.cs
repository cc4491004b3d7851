using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Infrastructure.Redis;

public static class RedisRelayControlRegistration
{
    /// <summary>
    /// An API instance beside a server bot: cancels and stream progress are asked of the relay server over Redis
    /// (call after <see cref="RedisRegistration.AddRedisCache"/>).
    /// </summary>
    public static IServiceCollection AddRedisRelayControlClient(this IServiceCollection services)
    {
        // One reply channel per process: a singleton, disposed with the process, never with a request's scope.
        services.AddSingleton<RedisRelayControl>();
        services.Replace(ServiceDescriptor.Scoped<IRelayControl, RemoteRelayControl>());
        return services;
    }

    /// <summary>A process that runs the relay server answers those calls (call after <see cref="RedisRegistration.AddRedisCache"/>).</summary>
    public static IServiceCollection AddRedisRelayControlServer(this IServiceCollection services)
    {
        services.AddSingleton<RedisRelayControlServer>();
        services.AddHostedService(provider => provider.GetRequiredService<RedisRelayControlServer>());
        return services;
    }
}
