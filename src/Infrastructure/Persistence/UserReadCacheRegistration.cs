using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Infrastructure.Persistence;

public static class UserReadCacheRegistration
{
    /// <summary>
    /// Puts <see cref="UserReadCache"/> in front of the registered <see cref="IUserRepository"/> and
    /// <see cref="IApiKeyRepository"/> (<see cref="CachedApiKeyRepository"/>) and makes the
    /// registered <see cref="IUnitOfWork"/> report the end of its transactions (call after a storage provider's
    /// registration). Reads section <c>Cache:Users</c>; <c>Lifetime</c> 0 leaves the repository as it is. Other
    /// processes are not told of writes until a peers registration (Redis) replaces <see cref="NoUserCachePeers"/>.
    /// </summary>
    public static IServiceCollection AddUserReadCache(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = ReadOptions(configuration);
        if (options.Lifetime == TimeSpan.Zero || services.Any(d => d.ServiceType == typeof(UserReadCache)))
        {
            return services;
        }

        var unitOfWork = Registered<IUnitOfWork>(services);
        var users = Registered<IUserRepository>(services);
        var keys = Registered<IApiKeyRepository>(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IUserCachePeers, NoUserCachePeers>();
        services.AddSingleton(provider => new UserReadCache(
            options, provider.GetRequiredService<IUserCachePeers>(), provider.GetRequiredService<TimeProvider>()));

        services.Remove(unitOfWork);
        services.AddScoped(provider => new AfterCommitUnitOfWork((IUnitOfWork)Create(unitOfWork, provider)));
        services.AddScoped<IUnitOfWork>(provider => provider.GetRequiredService<AfterCommitUnitOfWork>());

        services.Remove(users);
        services.Add(ServiceDescriptor.Describe(typeof(IUserRepository), provider => new CachedUserRepository(
            (IUserRepository)Create(users, provider), provider.GetRequiredService<UserReadCache>(),
            provider.GetRequiredService<AfterCommitUnitOfWork>()), users.Lifetime));

        services.Remove(keys);
        services.Add(ServiceDescriptor.Describe(typeof(IApiKeyRepository), provider => new CachedApiKeyRepository(
            (IApiKeyRepository)Create(keys, provider), provider.GetRequiredService<UserReadCache>(),
            provider.GetRequiredService<AfterCommitUnitOfWork>()), keys.Lifetime));
        return services;
    }

    public static UserCacheOptions ReadOptions(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new UserCacheOptions();
        try
        {
            configuration.GetSection(UserCacheOptions.Section).Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key and the value it could not convert.
            throw new ConfigurationException(ex.Message);
        }

        if (options.Lifetime < TimeSpan.Zero || options.Lifetime > UserCacheOptions.MaxLifetime)
        {
            throw new ConfigurationException(
                $"{UserCacheOptions.Section}:Lifetime must be from 00:00:00 (no cache) to {UserCacheOptions.MaxLifetime:c}.");
        }

        if (options.Capacity < 1)
        {
            throw new ConfigurationException($"{UserCacheOptions.Section}:Capacity must be at least 1.");
        }

        return options;
    }

    private static ServiceDescriptor Registered<TService>(IServiceCollection services) =>
        services.LastOrDefault(d => d.ServiceType == typeof(TService) && !d.IsKeyedService)
        ?? throw new InvalidOperationException($"Register a storage provider before the user cache: no {typeof(TService).Name}.");

    private static object Create(ServiceDescriptor descriptor, IServiceProvider provider) =>
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(provider)
        ?? ActivatorUtilities.CreateInstance(provider, descriptor.ImplementationType!);
}
