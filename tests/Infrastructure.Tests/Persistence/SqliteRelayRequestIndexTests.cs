using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Data.Sqlite;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>
/// SQLite's relay_requests indexes (migration 0050): the reads by a request's message and by its chat find their rows
/// through an index, never by reading the whole table, and a status change rewrites no index by chat.
/// </summary>
[TestFixture]
public sealed class SqliteRelayRequestIndexTests
{
    [TestCase("SELECT generation FROM relay_requests WHERE user_message_id = 'm' ORDER BY created_at DESC, rowid DESC LIMIT 1",
        TestName = "TheOptionsAQuestionWasAskedWith_AreFoundByItsMessage")]
    [TestCase("DELETE FROM relay_requests WHERE session_id = 'c'", TestName = "AChatsRequests_AreFoundByTheChat")]
    [TestCase("SELECT 1 FROM relay_requests WHERE session_id = 'c' AND status IN ('pending', 'dispatched', 'streaming')",
        TestName = "AChatsUnansweredRequest_IsFoundByTheChat")]
    public async Task ReadsOfRelayRequests_UseAnIndex(string sql)
    {
        await using var db = await SqliteTestDatabase.CreateAsync();
        var plan = await PlanAsync(db, sql);
        Assert.That(plan, Has.None.StartsWith("SCAN relay_requests"), string.Join(Environment.NewLine, plan));
        Assert.That(plan, Has.Some.Contains("USING INDEX").Or.Some.Contains("USING COVERING INDEX"),
            string.Join(Environment.NewLine, plan));
    }

    [Test]
    public async Task RemovingAMessage_ChecksItsRequestsByAnIndex()
    {
        // The foreign key relay_requests.user_message_id → messages.id is checked by looking up the requests that name
        // the removed message: SQLite plans that lookup as a query on the child table's column.
        await using var db = await SqliteTestDatabase.CreateAsync();
        var plan = await PlanAsync(db, "SELECT 1 FROM relay_requests WHERE user_message_id = 'm'");
        Assert.That(plan, Has.None.StartsWith("SCAN relay_requests"), string.Join(Environment.NewLine, plan));
    }

    [Test]
    public async Task NoIndexOfRelayRequests_HoldsTheChatAndTheStatusTogether()
    {
        // An index keyed by chat and status takes a new entry at each status change of a request (its dispatch, its end).
        await using var db = await SqliteTestDatabase.CreateAsync();
        var names = await ColumnAsync(db, """
            SELECT m.name FROM sqlite_master m, pragma_index_info(m.name) a, pragma_index_info(m.name) b
            WHERE m.type = 'index' AND m.tbl_name = 'relay_requests' AND a.name = 'session_id' AND b.name = 'status'
            """, 0);

        Assert.That(names, Is.Empty);
    }

    /// <summary>The query plan of <paramref name="sql"/>, one line per step (EXPLAIN QUERY PLAN's detail column).</summary>
    private static Task<List<string>> PlanAsync(SqliteTestDatabase db, string sql) =>
        ColumnAsync(db, "EXPLAIN QUERY PLAN " + sql, 3);

    private static async Task<List<string>> ColumnAsync(SqliteTestDatabase db, string sql, int column)
    {
        await using var connection = new SqliteConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(column));
        }

        return values;
    }
}
