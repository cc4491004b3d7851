using Dapper;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Persistence.Sqlite;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>
/// SQLite's search index takes new messages and chats in batches (migration 0049, <see cref="SqliteSearchIndex"/>), not
/// in the transaction that stores them; edits, deletes and renames keep it whole whether a row was indexed yet or not.
/// (That a search finds everything stored before it is the search contract's, on both databases.)
/// </summary>
[TestFixture]
public sealed class SqliteSearchIndexTests
{
    private SqliteTestDatabase _db = null!;
    private SqliteConnection _connection = null!;
    private SqliteSearchIndex _index = null!;
    private readonly Guid _user = Guid.NewGuid();

    [SetUp]
    public async Task SetUp()
    {
        _db = await SqliteTestDatabase.CreateAsync();
        _index = _db.Services.GetRequiredService<SqliteSearchIndex>();
        _connection = new SqliteConnection(_db.ConnectionString);
        await _connection.OpenAsync();
        await _connection.ExecuteAsync(
            "INSERT INTO users (id, username, password_hash, role, status, created_at) VALUES (@Id, 'indexer', 'x', 'user', 'active', 0)",
            new { Id = _user.ToString() });
    }

    [TearDown]
    public async Task TearDown()
    {
        await _connection.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Test]
    public async Task AStoredMessageAndChat_AreIndexedByTheBatch_NotByTheWriteThatStoresThem()
    {
        var chat = await AddChatAsync("basilisk plans");
        await AddMessageAsync(chat, "an axolotl question");

        Assert.That(await MessagesMatchingAsync("axolotl"), Is.Empty, "indexed by the write that stored it");
        Assert.That(await ChatsMatchingAsync("basilisk"), Is.Empty, "indexed by the write that stored it");

        await _index.CatchUpAsync(CancellationToken.None);

        Assert.That(await MessagesMatchingAsync("axolotl"), Has.Count.EqualTo(1));
        Assert.That(await ChatsMatchingAsync("basilisk"), Has.Count.EqualTo(1));
        Assert.That(await MarkAsync("messages"), Is.EqualTo(await _connection.ExecuteScalarAsync<long>("SELECT max(seq) FROM messages")));
        Assert.That(await MarkAsync("chats"), Is.EqualTo(await _connection.ExecuteScalarAsync<long>("SELECT max(seq) FROM chat_search_rows")));
    }

    /// <summary>
    /// Edits, deletes and renames of rows indexed and rows still waiting, and a message whose row number is used again
    /// below the mark (the highest rows deleted): the index holds exactly the table's content (FTS5's own integrity
    /// check against the messages table) and each chat's title as it stands.
    /// </summary>
    [Test]
    public async Task EditsDeletesAndRenames_OfIndexedAndWaitingRows_LeaveTheIndexWhole()
    {
        var indexedChat = await AddChatAsync("old gecko chat");
        var goneChat = await AddChatAsync("doomed iguana chat");
        var indexed = new List<long>();
        for (var i = 0; i < 6; i++)
        {
            indexed.Add(await AddMessageAsync(indexedChat, $"indexed word{i} gecko"));
        }

        await _index.CatchUpAsync(CancellationToken.None);
        var waitingChat = await AddChatAsync("new monitor chat");
        var alsoWaitingChat = await AddChatAsync("short lived tegu chat");
        var waiting = new List<long>();
        for (var i = 0; i < 6; i++)
        {
            waiting.Add(await AddMessageAsync(waitingChat, $"waiting word{i} monitor"));
        }

        await _connection.ExecuteAsync("UPDATE messages SET content = 'edited chameleon' WHERE seq IN @Seqs",
            new { Seqs = new[] { indexed[0], waiting[0] } });
        await _connection.ExecuteAsync("DELETE FROM messages WHERE seq IN @Seqs", new { Seqs = new[] { indexed[1], waiting[1] } });
        await _connection.ExecuteAsync("UPDATE chat_sessions SET title = 'renamed skink chat' WHERE id IN @Ids",
            new { Ids = new[] { indexedChat, waitingChat } });
        await _connection.ExecuteAsync("DELETE FROM chat_sessions WHERE id IN @Ids", new { Ids = new[] { goneChat, alsoWaitingChat } });

        await _index.CatchUpAsync(CancellationToken.None);
        // The highest rows go (indexed, all of them), so the next message takes a row number the mark has passed.
        await _connection.ExecuteAsync("DELETE FROM messages WHERE seq >= @From", new { From = waiting[4] });
        var reused = await AddMessageAsync(indexedChat, "reused salamander");
        Assert.That(reused, Is.LessThanOrEqualTo(await MarkAsync("messages")), "the row number was used again below the mark");
        Assert.That(await MessagesMatchingAsync("salamander"), Is.EqualTo(new[] { reused }), "a row below the mark is indexed at once");
        await AddMessageAsync(indexedChat, "late salamander");
        await _index.CatchUpAsync(CancellationToken.None);

        await _connection.ExecuteAsync("INSERT INTO message_search (message_search, rank) VALUES ('integrity-check', 1)");
        await _connection.ExecuteAsync("INSERT INTO chat_search (chat_search) VALUES ('integrity-check')");
        foreach (var word in new[] { "gecko", "monitor", "chameleon", "salamander", "word1", "word5" })
        {
            Assert.That(await MessagesMatchingAsync(word), Is.EquivalentTo(await MessagesHoldingAsync(word)), word);
        }

        var titles = await _connection.QueryAsync<(long, string)>("SELECT rowid, title FROM chat_search ORDER BY rowid");
        var expected = await _connection.QueryAsync<(long, string)>(
            "SELECT r.seq, s.title FROM chat_search_rows r JOIN chat_sessions s ON s.id = r.session_id ORDER BY r.seq");
        Assert.That(titles, Is.EqualTo(expected));
        Assert.That(await ChatsMatchingAsync("skink"), Has.Count.EqualTo(2));
        Assert.That(await ChatsMatchingAsync("iguana OR tegu OR monitor OR old"), Is.Empty);
    }

    [Test]
    public async Task MoreRowsThanABatch_AreAllIndexed()
    {
        var chat = await AddChatAsync("a long chat");
        var count = SqliteSearchIndex.MaxBatch * 2 + 17;
        await _connection.ExecuteAsync("""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @Count)
            INSERT INTO messages (id, session_id, role, content, source, created_at)
            SELECT lower(hex(randomblob(16))), @Chat, 'user', 'many newt ' || i, 'user', 1 FROM n
            """, new { Chat = chat, Count = count });

        await _index.CatchUpAsync(CancellationToken.None);

        Assert.That(await MessagesMatchingAsync("newt"), Has.Count.EqualTo(count));
    }

    [Test]
    public async Task TheBackground_IndexesWithoutASearch()
    {
        var chat = await AddChatAsync("a quiet chat");
        await AddMessageAsync(chat, "a background anole");
        IHostedService background = _index;
        await background.StartAsync(CancellationToken.None);
        try
        {
            var deadline = DateTime.UtcNow + SqliteSearchIndex.Interval * 10;
            while ((await MessagesMatchingAsync("anole")).Count == 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            Assert.That(await MessagesMatchingAsync("anole"), Has.Count.EqualTo(1));
        }
        finally
        {
            await background.StopAsync(CancellationToken.None);
        }
    }

    [Test]
    public async Task TheBackground_WaitsForTheSchema_InAProcessThatDoesNotMigrateIt()
    {
        // The client bot registers the stores and runs no migration: its SQLite default is a file with no tables, and
        // the background warned "Could not index…" every second on every model host (seen in the fault suite's logs).
        var folder = Directory.CreateTempSubdirectory("meatlizard-unmigrated-");
        try
        {
            var logs = new CapturedLogs();
            var services = new ServiceCollection().AddLogging(b => b.AddProvider(logs));
            services.AddSqlitePersistence($"Data Source={Path.Combine(folder.FullName, "host.db")};Pooling=False");
            await using var provider = services.BuildServiceProvider();
            var index = provider.GetRequiredService<SqliteSearchIndex>();
            IHostedService background = index;
            await background.StartAsync(CancellationToken.None);
            try
            {
                await Task.Delay(SqliteSearchIndex.Interval * 2.5);
                lock (logs.Messages)
                {
                    Assert.That(logs.Messages, Is.Empty, "nothing to index, nothing to warn of, before the schema is there");
                }

                // (Once this process migrates, it indexes: TheBackground_IndexesWithoutASearch, whose database was.)
            }
            finally
            {
                await background.StopAsync(CancellationToken.None);
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }

    private async Task<string> AddChatAsync(string title)
    {
        var id = Guid.NewGuid().ToString();
        await _connection.ExecuteAsync(
            "INSERT INTO chat_sessions (id, owner_id, title, status, created_at, updated_at) VALUES (@Id, @Owner, @Title, 'active', 0, 0)",
            new { Id = id, Owner = _user.ToString(), Title = title });
        return id;
    }

    private Task<long> AddMessageAsync(string chat, string content) => _connection.ExecuteScalarAsync<long>(
        "INSERT INTO messages (id, session_id, role, content, source, created_at) VALUES (@Id, @Chat, 'user', @Content, 'user', 1) RETURNING seq",
        new { Id = Guid.NewGuid().ToString(), Chat = chat, Content = content });

    private async Task<List<long>> MessagesMatchingAsync(string word) =>
        [.. await _connection.QueryAsync<long>("SELECT rowid FROM message_search WHERE message_search MATCH @Word ORDER BY rowid", new { Word = word })];

    private async Task<List<long>> MessagesHoldingAsync(string word) =>
        [.. await _connection.QueryAsync<long>("SELECT seq FROM messages WHERE ' ' || content || ' ' LIKE @Like ORDER BY seq", new { Like = $"% {word} %" })];

    private async Task<List<long>> ChatsMatchingAsync(string words) =>
        [.. await _connection.QueryAsync<long>("SELECT rowid FROM chat_search WHERE chat_search MATCH @Words", new { Words = words })];

    private Task<long> MarkAsync(string index) =>
        _connection.ExecuteScalarAsync<long>("SELECT indexed_through FROM search_index_marks WHERE name = @Index", new { Index = index });
}
