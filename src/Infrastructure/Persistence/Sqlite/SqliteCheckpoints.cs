using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

/// <summary>
/// Copies what the write-ahead log holds into the database file in the background, about once every
/// <see cref="Interval"/> (a passive checkpoint: it waits for no reader and no writer). SQLite's own checkpoint runs in
/// the commit that takes the log past <c>wal_autocheckpoint</c> pages — here the process's one writer, so every write
/// waited for it — and at its default of 1,000 pages it ran several times a second under load: two fsyncs and a read of
/// every frame each time, one sixth of the process's file I/O (bench/openai.sh part 2: 123 fsyncs in 5 s of <c>/v1</c>
/// completions, 12 with checkpoints this far apart). Once a second, a page written again and again in between (an
/// index's last leaf) is copied once. The commit's own checkpoint stays as a backstop
/// (<see cref="SqliteDataSource"/> sets it at <see cref="InlineCheckpointPages"/>), for a process that writes faster
/// than this keeps up, or that runs without its hosted services.
/// </summary>
internal sealed partial class SqliteCheckpoints(SqliteDataSource dataSource, ILogger<SqliteCheckpoints> logger) : BackgroundService
{
    /// <summary>How often the log is copied into the database file.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>The log's length, in pages (4 KB each), at which a commit checkpoints by itself.</summary>
    public const int InlineCheckpointPages = 16_000;

    /// <summary>Copies the log into the database file now, as far as no reader or writer holds it back.</summary>
    public async Task CheckpointAsync(CancellationToken cancellationToken)
    {
        var connection = await dataSource.RentAsync(cancellationToken);
        try
        {
            await connection.ExecuteAsync("PRAGMA wal_checkpoint(PASSIVE)", null, null, cancellationToken);
        }
        finally
        {
            dataSource.Return(connection);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (dataSource.InMemory)
        {
            return; // no file, no log
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(Interval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            try
            {
                await CheckpointAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The next round copies what this one did not; the commits' own checkpoint is the backstop.
                LogCheckpointFailed(logger, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Copying the SQLite write-ahead log into the database file failed; trying again")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception);
}
