namespace MeatLizard.Infrastructure.Persistence;

/// <summary>What the configured database is and how far its schema is from this build's migrations (read only).</summary>
public interface IDatabaseStatus
{
    /// <summary>Connects and reads; throws what the driver throws when the database cannot be reached.</summary>
    Task<DatabaseStatus> ReadAsync(CancellationToken cancellationToken);
}

/// <param name="Server">The engine and its version, e.g. "PostgreSQL 15.14" or "SQLite 3.46.1".</param>
/// <param name="Where">Where it is, without credentials: host:port/database, or the file.</param>
/// <param name="Pending">Migrations of this build not yet applied (the host applies them at start).</param>
/// <param name="Unknown">Applied versions this build does not carry: the database was migrated by a newer build.</param>
public sealed record DatabaseStatus(string Server, string Where, int Known, IReadOnlyList<int> Pending, IReadOnlyList<int> Unknown);
