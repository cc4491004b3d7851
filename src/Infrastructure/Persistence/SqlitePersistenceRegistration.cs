using MeatLizard.Application.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeatLizard.Infrastructure.Persistence;

public static class SqlitePersistenceRegistration
{
    /// <summary>
    /// The SQLite adapter: repositories, unit of work, metrics and read model share one connection per DI scope;
    /// the migrator (<see cref="IDatabaseInitializer"/>) is a singleton the host runs at start-up.
    /// </summary>
    public static IServiceCollection AddSqlitePersistence(this IServiceCollection services, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);

        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(_ => new SqliteDataSource(connectionString));
        services.AddSingleton<IDatabaseInitializer, SqliteMigrator>();

        services.AddScoped<SqliteSession>();
        services.AddScoped<IUnitOfWork>(provider => provider.GetRequiredService<SqliteSession>());
        services.AddScoped<IUserRepository, SqliteUserRepository>();
        services.AddScoped<IApiKeyRepository, SqliteApiKeyRepository>();
        services.AddScoped<IChatSessionRepository, SqliteChatSessionRepository>();
        services.AddScoped<IMessageRepository, SqliteMessageRepository>();
        services.AddScoped<IRelayRequestRepository, SqliteRelayRequestRepository>();
        services.AddScoped<IMetricsRecorder, SqliteMetricsRecorder>();
        services.AddScoped<IChatReadModel, SqliteChatReadModel>();
        return services;
    }
}
