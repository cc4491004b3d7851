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
/// A round is a few passive checkpoints. The first copies the log beside the writers, on a thread of its own: it blocks
/// in SQLite for its copy and fsyncs, which on a pool thread held up the requests queued behind it. Each next one copies
/// what was committed during the one before, still beside the writers, until little is left (<see cref="HeldCopyFrames"/>);
/// the last runs in this process's write turn and copies only that little, so the log is then wholly in the file and the
/// next write starts it over from its beginning. Without a held copy the log never started over under steady writes (a
/// write mostly came during the copy) and grew to the commits' own backstop (<see cref="InlineCheckpointPages"/>), whose
/// checkpoint kept every writer waiting ~100 ms; a held copy of all that came during one long copy kept them waiting
/// 12–23 ms once a second. The README's issue 35 section has the measurements (sessions 66, 71 and 72).
/// </para>
/// </summary>
internal sealed partial class SqliteCheckpoints(SqliteDataSource dataSource, ILogger<SqliteCheckpoints> logger) : BackgroundService
{
    /// <summary>How often the log is copied into the database file.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>The log's length, in pages (4 KB each), at which a commit checkpoints by itself.</summary>
    public const int InlineCheckpointPages = 16_000;

    /// <summary>
    /// A round's copies beside the writers go on until one copied at most this many frames (pages), or
    /// <see cref="CopiesBesideWriters"/> of them ran: the held copy then has only what was committed during the last one
    /// (in the benchmark at 300 completions a second, 50–250 frames, 1–8 ms with its fsyncs).
    /// </summary>
    internal const int HeldCopyFrames = 64;

    /// <summary>Copies beside the writers in a round, at most: under writes heavier than the copies keep up with, the
    /// round ends with a held copy of whatever is left.</summary>
    internal const int CopiesBesideWriters = 4;

    /// <summary>
    /// Copies the log into the database file now, as far as no reader holds it back: beside the writers while much is
    /// left to copy, then what they committed meanwhile, in the write turn — unless nothing was committed all through a
    /// copy, when the log is wholly in the file already. Returns whether the round held the write turn.
    /// </summary>
    public async Task<bool> CheckpointAsync(CancellationToken cancellationToken)
    {
        var connection = await dataSource.RentAsync(cancellationToken);
        try
        {
            // A copy answers the log's length as it found it, and copies that much: what is committed during it is left.
            var last = await CopyAsync(connection, cancellationToken);
            for (var copy = 1; copy < CopiesBesideWriters; copy++)
            {
                var next = await CopyAsync(connection, cancellationToken);
                if (next.Log == last.Log && next.Checkpointed == next.Log)
                {
                    return false; // nothing committed since the copy before this one: the next write starts the log over
                }

                // A log the writers started over since (the copy before left it whole) was copied from its beginning.
                var copied = next.Log < last.Log ? next.Checkpointed : next.Checkpointed - last.Checkpointed;
                last = next;
                if (copied <= HeldCopyFrames)
                {
                    break;
                }
            }

            using var turn = await dataSource.EnterWriteAsync(cancellationToken);
            await CopyAsync(connection, cancellationToken);
            return true;
        }
        finally
        {
            dataSource.Return(connection);
        }
    }

    /// <summary>One passive copy: the log's frames when it began (-1 with no log), and how many are in the file now.</summary>
    private static async Task<CopyResult> CopyAsync(PreparedConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<CopyResult>(Passive, null, null, 1, cancellationToken)).Single();

    // Waits for no reader and no writer: it copies what no reader still needs from the log.
    private const string Passive = "PRAGMA wal_checkpoint(PASSIVE)";

    /// <summary>What <c>wal_checkpoint</c> answers (beside whether it was blocked): the log's frames, and how many are copied.</summary>
    private sealed class CopyResult
    {
        public long Log { get; set; }

        public long Checkpointed { get; set; }
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
