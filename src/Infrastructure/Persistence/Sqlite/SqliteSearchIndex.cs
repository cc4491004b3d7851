using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

/// <summary>
/// Indexes new messages and chat titles for full-text search in batches (migration 0049): in the background about once
/// every <see cref="Interval"/>, and before every search (<see cref="CatchUpAsync"/>), so a search finds everything
/// stored before it. Storing a message or a chat no longer writes the FTS5 index in the same transaction: each of those
/// commits wrote a new index segment, most of what a short answer wrote to disk. A batch indexes the rows above its
/// index's mark and moves the mark up, in one write transaction; rows already indexed are kept in step by triggers.
/// </summary>
internal sealed partial class SqliteSearchIndex(SqliteDataSource dataSource, SqliteMigrator schema, ILogger<SqliteSearchIndex> logger)
    : BackgroundService
{
    /// <summary>How often the background catches up when rows are waiting.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>The most rows of one index a write transaction indexes, so the write turn is never held for long.</summary>
    internal const int MaxBatch = 500;

    private const string Waiting = """
        SELECT EXISTS (SELECT 1 FROM messages
                       WHERE seq > (SELECT indexed_through FROM search_index_marks WHERE name = 'messages'))
            OR EXISTS (SELECT 1 FROM chat_search_rows
                       WHERE seq > (SELECT indexed_through FROM search_index_marks WHERE name = 'chats'))
        """;

    private static readonly Index Messages = new("messages", "messages", """
        INSERT INTO message_search (rowid, content)
        SELECT seq, content FROM messages WHERE seq > @From AND seq <= @Through
        """);

    private static readonly Index Chats = new("chats", "chat_search_rows", """
        INSERT INTO chat_search (rowid, title)
        SELECT r.seq, s.title FROM chat_search_rows r JOIN chat_sessions s ON s.id = r.session_id
        WHERE r.seq > @From AND r.seq <= @Through
        """);

    // One catch-up at a time: a search and the background finding the same rows waiting do not both index them (the
    // second would find them indexed anyway, after waiting for the first's write turn).
    private readonly SemaphoreSlim _one = new(1, 1);

    /// <summary>Indexes every row stored so far that is not indexed yet; reads only, when none is waiting.</summary>
    public async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        using var session = new SqliteSession(dataSource);
        if (await session.ExecuteScalarAsync<long>(Waiting, null, cancellationToken) == 0)
        {
            return;
        }

        await _one.WaitAsync(cancellationToken);
        try
        {
            bool more;
            do
            {
                more = await session.InTransactionAsync(async ct =>
                {
                    var moreMessages = await IndexBatchAsync(session, Messages, ct);
                    var moreChats = await IndexBatchAsync(session, Chats, ct);
                    return moreMessages || moreChats;
                }, cancellationToken);
            }
            while (more);
        }
        finally
        {
            _one.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Only where this process brought the schema up to date (the API, the server bot). The client bot registers the
        // stores too, and its SQLite default is a file nobody migrates: its background found no tables and warned every
        // second on every model host.
        await schema.Migrated.WaitAsync(stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await CatchUpAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The rows stay above the mark: the next round, or the next search, indexes them.
                LogCatchUpFailed(logger, ex);
            }

            await Task.Delay(Interval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Indexes up to <see cref="MaxBatch"/> rows above the index's mark; whether it found a full batch.</summary>
    private static async Task<bool> IndexBatchAsync(SqliteSession session, Index index, CancellationToken cancellationToken)
    {
        var from = await session.ExecuteScalarAsync<long>(
            "SELECT indexed_through FROM search_index_marks WHERE name = @Name", new { index.Name }, cancellationToken);
        var rows = await session.QueryAsync<long>(
            $"SELECT seq FROM {index.Table} WHERE seq > @From ORDER BY seq LIMIT @MaxBatch", new { From = from, MaxBatch },
            cancellationToken);
        if (rows.Count == 0)
        {
            return false;
        }

        await session.ExecuteAsync(index.Insert + ";\nUPDATE search_index_marks SET indexed_through = @Through WHERE name = @Name",
            new { From = from, Through = rows[^1], index.Name }, cancellationToken);
        return rows.Count == MaxBatch;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not index new messages and chats for search; the next round tries again")]
    private static partial void LogCatchUpFailed(ILogger logger, Exception exception);

    /// <summary>A search index: its name in search_index_marks, the table whose seq numbers its rows, and its batch insert.</summary>
    private sealed record Index(string Name, string Table, string Insert);
}
