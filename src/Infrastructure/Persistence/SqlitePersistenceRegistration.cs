using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence.Sql;
using MeatLizard.Infrastructure.Persistence.Sqlite;
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

        SqlValueHandlers.Register();
        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(_ => new SqliteDataSource(connectionString));
        services.AddSingleton<IDatabaseInitializer, SqliteMigrator>();

        services.AddScoped<SqliteSession>();
        services.AddScoped<IUnitOfWork>(provider => provider.GetRequiredService<SqliteSession>());
        services.AddScoped<ISqlSession>(provider => provider.GetRequiredService<SqliteSession>());
        services.AddSingleton(SqlDialect.Sqlite);
        services.AddScoped<IUserRepository, SqlUserRepository>();
        services.AddScoped<IApiKeyRepository, SqlApiKeyRepository>();
        services.AddScoped<IChatSessionRepository, SqliteChatSessionRepository>();
        services.AddScoped<IMessageRepository, SqliteMessageRepository>();
        services.AddScoped<IRelayRequestRepository, SqliteRelayRequestRepository>();
        services.AddScoped<SqliteMetricsRecorder>();
        services.AddScoped<IMetricsRecorder>(provider => provider.GetRequiredService<SqliteMetricsRecorder>());
        services.AddScoped<IMetricsBatchWriter>(provider => provider.GetRequiredService<SqliteMetricsRecorder>());
        services.AddScoped<IChatReadModel, SqliteChatReadModel>();
        services.AddScoped<IChatHistoryEditor, SqliteChatHistoryEditor>();
        services.AddScoped<IAuditLog, SqlAuditLog>();
        services.AddScoped<ISettingsStore, SqlSettingsStore>();
        services.AddScoped<IMetricsSummaryQuery, SqliteMetricsSummary>();
        services.AddScoped<IAdminReadModel, SqlAdminReadModel>();
        services.AddScoped<IRelayCursorStore, SqliteRelayCursorStore>();
        services.AddSingleton<IRuntimeSettings, CachedRuntimeSettings>();
        return services;
    }

    /// <summary>
    /// Replaces the direct metrics writer with <see cref="BatchedMetricsRecorder"/> (a hosted service), so figures are
    /// written in batches off the answer's path. For hosts; needs a storage provider's registration (SQLite or PostgreSQL) first.
    /// </summary>
    public static IServiceCollection AddBatchedMetrics(this IServiceCollection services)
    {
        services.AddSingleton<BatchedMetricsRecorder>();
        services.AddSingleton<IMetricsRecorder>(provider => provider.GetRequiredService<BatchedMetricsRecorder>());
        services.AddHostedService(provider => provider.GetRequiredService<BatchedMetricsRecorder>());
        return services;
    }
}
