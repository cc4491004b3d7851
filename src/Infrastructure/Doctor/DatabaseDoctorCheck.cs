using System.Net.Sockets;
using MeatLizard.Infrastructure.Persistence;

namespace MeatLizard.Infrastructure.Doctor;

/// <summary>The configured database answers and its schema is this build's (pending migrations run at start).</summary>
public sealed class DatabaseDoctorCheck(IDatabaseStatus database, InfrastructureSettings settings) : IDoctorCheck
{
    private const string Check = "database";

    public async Task<IReadOnlyList<DoctorResult>> RunAsync(CancellationToken cancellationToken)
    {
        var setting = settings.StorageProvider == StorageProvider.Postgres ? "ConnectionStrings:Postgres" : "ConnectionStrings:Sqlite";
        DatabaseStatus status;
        try
        {
            status = await database.ReadAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or Microsoft.Data.Sqlite.SqliteException or SocketException
                                       or IOException or UnauthorizedAccessException or TimeoutException)
        {
            var what = ex is Npgsql.PostgresException postgres ? $"{postgres.SqlState} {postgres.MessageText}" : Innermost(ex).Message;
            return [DoctorResult.Fail(Check, $"{settings.StorageProvider} at {Where(settings)}: {what}",
                settings.StorageProvider == StorageProvider.Postgres ? $"start PostgreSQL or fix {setting}" : $"fix {setting} or the folder's permissions")];
        }

        if (status.Unknown.Count > 0)
        {
            return [DoctorResult.Fail(Check,
                $"{status.Server} at {status.Where} has migrations this build does not know ({string.Join(", ", status.Unknown)})",
                "run the newer build that applied them, or restore a backup made before it")];
        }

        var migrations = status.Pending.Count == 0
            ? "migrations current"
            : $"{status.Known - status.Pending.Count} of {status.Known} migrations applied, {status.Pending.Count} pending (the host applies them at start)";
        return [DoctorResult.Pass(Check, $"{status.Server} at {status.Where}, {migrations}")];
    }

    private static string Where(InfrastructureSettings settings)
    {
        if (settings.StorageProvider != StorageProvider.Postgres)
        {
            return new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(settings.SqliteConnectionString).DataSource;
        }

        var builder = new Npgsql.NpgsqlConnectionStringBuilder(settings.PostgresConnectionString);
        return $"{builder.Host}:{builder.Port}/{builder.Database}";
    }

    private static Exception Innermost(Exception ex) => ex.InnerException is { } inner ? Innermost(inner) : ex;
}
