
namespace MeatLizard.Application.Backups;

/// <summary>
/// Backs the database up into the object store (with a checksum beside each backup, and old backups pruned by the
/// retention settings) and restores one. The storage provider decides the format: pg_dump's custom format for
/// PostgreSQL, SQLite's online backup for the embedded database.
/// </summary>
public interface IDatabaseBackups
{
    Task<BackupDto> CreateAsync(CancellationToken cancellationToken);

    /// <summary>Stored backups of the configured provider, newest first.</summary>
    Task<IReadOnlyList<BackupDto>> ListAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the configured database's content with the backup's, after checking its checksum.
    /// Throws <see cref="InvalidDataException"/> when the backup is missing or its checksum does not match.
    /// </summary>
    Task RestoreAsync(string key, CancellationToken cancellationToken);
}
