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
    /// the migrator (<see cref="IDatabaseInitializer"/>) is a singleton the host runs at start-up, and the search index's
    /// batches (<see cref="SqliteSearchIndex"/>) and the write-ahead log's checkpoints (<see cref="SqliteCheckpoints"/>)
    /// hosted services.
    /// </summary>
    public static IServiceCollection AddSqlitePersistence(this IServiceCollection services, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);

        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(_ => new SqliteDataSource(connectionString));
        services.AddSingleton<SqliteMigrator>();
        services.AddSingleton<IDatabaseInitializer>(provider => provider.GetRequiredService<SqliteMigrator>());
        services.AddSingleton<IDatabaseStatus>(provider => provider.GetRequiredService<SqliteMigrator>());

        services.AddScoped<IRelayRequestRepository, SqliteRelayRequestRepository>();
        services.AddScoped<SqliteMetricsRecorder>();
        services.AddScoped<IMetricsRecorder>(provider => provider.GetRequiredService<SqliteMetricsRecorder>());
        services.AddScoped<IMetricsBatchWriter>(provider => provider.GetRequiredService<SqliteMetricsRecorder>());
        services.AddScoped<IMetricsSummaryQuery, SqliteMetricsSummary>();
        services.AddScoped<IChatSearch, SqliteChatSearch>();
        services.AddSingleton<SqliteSearchIndex>();
        services.AddHostedService(provider => provider.GetRequiredService<SqliteSearchIndex>());
        services.AddSingleton<SqliteCheckpoints>();
        services.AddHostedService(provider => provider.GetRequiredService<SqliteCheckpoints>());
        return services.AddSqlLayer<SqliteSession>(SqlDialect.Sqlite);
    }

    /// <summary>
    /// Replaces the direct metrics and usage writers with <see cref="BatchedMetricsRecorder"/> and
    /// <see cref="BatchedUsageRecorder"/> (hosted services), so figures are written in batches off the answer's path.
    /// For hosts; needs a storage provider's registration (SQLite or PostgreSQL) first.
    /// </summary>
    public static IServiceCollection AddBatchedMetrics(this IServiceCollection services)
    {
        services.AddSingleton<BatchedMetricsRecorder>();
        services.AddSingleton<IMetricsRecorder>(provider => provider.GetRequiredService<BatchedMetricsRecorder>());
        services.AddHostedService(provider => provider.GetRequiredService<BatchedMetricsRecorder>());
        services.AddSingleton<BatchedUsageRecorder>();
        services.AddSingleton<IUsageRecorder>(provider => provider.GetRequiredService<BatchedUsageRecorder>());
        services.AddHostedService(provider => provider.GetRequiredService<BatchedUsageRecorder>());
        return services;
    }
}
