using System.Data.Common;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence.Sql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

public static class PostgresPersistenceRegistration
{
    /// <summary>
    /// The PostgreSQL adapter: one <see cref="NpgsqlDataSource"/> (connection pool) for the process; repositories, unit
    /// of work, metrics and read model share one connection per DI scope; the migrator (<see cref="IDatabaseInitializer"/>)
    /// is a singleton the host runs at start-up; the queue signal listens for inserts from every process
    /// (<see cref="IRelayQueueSignal"/>; registered last, it replaces the in-process one).
    /// </summary>
    public static IServiceCollection AddPostgresPersistence(this IServiceCollection services, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);

        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(_ => NpgsqlDataSource.Create(WithPoolDefaults(connectionString)));
        services.AddSingleton<PostgresMigrator>();
        services.AddSingleton<IDatabaseInitializer>(provider => provider.GetRequiredService<PostgresMigrator>());
        services.AddSingleton<IDatabaseStatus>(provider => provider.GetRequiredService<PostgresMigrator>());
        services.AddSingleton<PostgresAnswerWriter>();
        services.AddSingleton<PostgresQueueWriter>();
        services.AddSingleton<PostgresRelayQueueSignal>();
        services.AddSingleton<IRelayQueueSignal>(provider => provider.GetRequiredService<PostgresRelayQueueSignal>());

        services.AddScoped<IRelayRequestRepository, PostgresRelayRequestRepository>();
        services.AddScoped<PostgresMetricsRecorder>();
        services.AddScoped<IMetricsRecorder>(provider => provider.GetRequiredService<PostgresMetricsRecorder>());
        services.AddScoped<IMetricsBatchWriter>(provider => provider.GetRequiredService<PostgresMetricsRecorder>());
        services.AddScoped<IMetricsSummaryQuery, PostgresMetricsSummary>();
        services.AddScoped<IChatSearch, PostgresChatSearch>();
        return services.AddSqlLayer<PostgresSession>(SqlDialect.Postgres);
    }

    /// <summary>
    /// What the adapter asks of the pool unless the connection string says otherwise: no reset on close (nothing here
    /// leaves session state behind — transactions, advisory locks and LISTEN are scoped — so the <c>DISCARD ALL</c>
    /// the server would otherwise run on each reuse is pure cost, a third of the statements of a message),
    /// automatic preparation of the statements used most, and generic plans for them
    /// (<c>plan_cache_mode=force_generic_plan</c>): every statement here looks rows up by key or by a literal status,
    /// where the plan does not depend on the values, yet PostgreSQL kept planning some of them again on every
    /// execution (5% of its CPU in the distributed benchmark; its CPU per message fell from 0.75 to 0.64 ms); and
    /// <c>random_page_cost=1.1</c> (an index probe costs about as much as reading the next page, as on SSDs and with a
    /// cached working set; PostgreSQL's default of 4 assumes spinning disks). With the default, the send's queueing
    /// statement joined its few chats by scanning all of <c>chat_sessions</c>: in the distributed benchmark 0.6
    /// scans per message, about 1,400 rows each, once the table held 2,000 chats.
    /// Both settings go in the connection's startup <c>Options</c>; an operator who writes <c>Options</c> keeps theirs.
    /// </summary>
    internal static string WithPoolDefaults(string connectionString)
    {
        // NpgsqlConnectionStringBuilder answers ContainsKey for every keyword it knows, so what the operator wrote is
        // read from the plain form (keywords compared without spaces or case, as Npgsql does).
        var written = new DbConnectionStringBuilder { ConnectionString = connectionString }.Keys.Cast<string>()
            .Select(key => key.Replace(" ", string.Empty, StringComparison.Ordinal).ToUpperInvariant())
            .ToHashSet();
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!written.Contains("NORESETONCLOSE"))
        {
            builder.NoResetOnClose = true;
        }

        if (!written.Contains("MAXAUTOPREPARE"))
        {
            builder.MaxAutoPrepare = 64;
        }

        if (!written.Contains("OPTIONS"))
        {
            builder.Options = "-c plan_cache_mode=force_generic_plan -c random_page_cost=1.1";
        }

        return builder.ConnectionString;
    }
}
