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
        var innerUnitOfWork = Maker(unitOfWork);
        services.AddScoped(provider => new AfterCommitUnitOfWork((IUnitOfWork)innerUnitOfWork(provider)));
        services.AddScoped<IUnitOfWork>(provider => provider.GetRequiredService<AfterCommitUnitOfWork>());

        services.Remove(users);
        var innerUsers = Maker(users);
        services.Add(ServiceDescriptor.Describe(typeof(IUserRepository), provider => new CachedUserRepository(
            new Lazy<IUserRepository>(() => (IUserRepository)innerUsers(provider)),
            provider.GetRequiredService<UserReadCache>(), provider.GetRequiredService<AfterCommitUnitOfWork>()),
            users.Lifetime));

        services.Remove(keys);
        var innerKeys = Maker(keys);
        services.Add(ServiceDescriptor.Describe(typeof(IApiKeyRepository), provider => new CachedApiKeyRepository(
            new Lazy<IApiKeyRepository>(() => (IApiKeyRepository)innerKeys(provider)),
            provider.GetRequiredService<UserReadCache>(), provider.GetRequiredService<AfterCommitUnitOfWork>()),
            keys.Lifetime));
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

    /// <summary>
    /// How the replaced registration made its service, decided once: its instance, its factory, or its type's
    /// constructor found once (<see cref="ActivatorUtilities.CreateFactory(Type, Type[])"/>) — not looked up again by
    /// reflection at every resolution, which is every API request's key lookup.
    /// </summary>
    private static Func<IServiceProvider, object> Maker(ServiceDescriptor descriptor)
    {
        if (descriptor.ImplementationInstance is { } instance)
        {
            return _ => instance;
        }

        if (descriptor.ImplementationFactory is { } factory)
        {
            return factory;
        }

        var construct = ActivatorUtilities.CreateFactory(descriptor.ImplementationType!, Type.EmptyTypes);
        return provider => construct(provider, null);
    }
}
