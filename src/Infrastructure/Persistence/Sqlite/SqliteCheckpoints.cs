using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

/// <summary>
/// Copies what the write-ahead log holds into the database file in the background, about once every
/// <see cref="Interval"/>. SQLite's own checkpoint runs in the commit that takes the log past <c>wal_autocheckpoint</c>
/// pages — here the process's one writer, so every write waited for it — and at its default of 1,000 pages it ran
/// several times a second under load: two fsyncs and a read of every frame each time, one sixth of the process's file
/// I/O (bench/openai.sh part 2: 123 fsyncs in 5 s of <c>/v1</c> completions, 12 with checkpoints this far apart). Once a
/// second, a page written again and again in between (an index's last leaf) is copied once.
/// <para>
/// A round is two passive checkpoints. The first copies the log beside the writers, on a thread of its own: it blocks
/// in SQLite for its copy and fsyncs (~120 ms on a slow disk), which on a pool thread held up the requests queued
/// behind it (on two cores, half the pool). The second runs in this process's write turn and copies only what was
/// committed meanwhile, so the log is then wholly in the file and the next write starts it over from its beginning.
/// Without it the log never started over under steady writes (a write mostly came during the copy): it grew to the
/// commits' own backstop (<see cref="InlineCheckpointPages"/>, <see cref="SqliteDataSource"/>), and the commit that
/// reached it checkpointed for ~100 ms with every writer waiting — at 300 completions a second, every 1.8 s: the
/// <c>/v1</c> benchmark's p99 (alternated pairs) was 75–107 ms for tool calls and 73–105 ms for text answers with that,
/// 29–38 ms and 62–75 ms with rounds of two (the second holds the turn ~20 ms).
/// </para>
/// </summary>
internal sealed partial class SqliteCheckpoints(SqliteDataSource dataSource, ILogger<SqliteCheckpoints> logger) : BackgroundService
{
    /// <summary>How often the log is copied into the database file.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>The log's length, in pages (4 KB each), at which a commit checkpoints by itself.</summary>
    public const int InlineCheckpointPages = 16_000;

    /// <summary>
    /// Copies the log into the database file now, as far as no reader holds it back: first beside the writers, then what
    /// they committed meanwhile, in the write turn.
    /// </summary>
    public async Task CheckpointAsync(CancellationToken cancellationToken)
    {
        var connection = await dataSource.RentAsync(cancellationToken);
        try
        {
            await connection.ExecuteAsync(Passive, null, null, cancellationToken);
            using var turn = await dataSource.EnterWriteAsync(cancellationToken);
            await connection.ExecuteAsync(Passive, null, null, cancellationToken);
        }
        finally
        {
            dataSource.Return(connection);
        }
    }

    // Waits for no reader and no writer: it copies what no reader still needs from the log.
    private const string Passive = "PRAGMA wal_checkpoint(PASSIVE)";

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
                // SQLite's calls complete synchronously: the round's first copy runs on the thread started here.
                await Task.Factory.StartNew(() => CheckpointAsync(stoppingToken), stoppingToken,
                    TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
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
