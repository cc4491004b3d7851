using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Npgsql;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence.Postgres;

/// <summary>
/// PostgreSQL's relay_requests indexes (migration 0050): the reads by a request's chat and by its message have an index
/// to take (the plans are asked with sequential scans turned off: a scan then means no index serves the read, whatever
/// the table's size), and no two indexes are the same.
/// </summary>
[TestFixture]
public sealed class PostgresRelayRequestIndexTests
{
    private const string Chat = "'00000000-0000-0000-0000-000000000001'";

    [TestCase("DELETE FROM relay_requests WHERE session_id = " + Chat, TestName = "AChatsRequests_AreFoundByTheChat")]
    [TestCase("SELECT 1 FROM relay_requests WHERE session_id = " + Chat + " AND status IN ('pending', 'dispatched', 'streaming')",
        TestName = "AChatsUnansweredRequest_IsFoundByTheChat")]
    [TestCase("SELECT 1 FROM relay_requests WHERE user_message_id = " + Chat, TestName = "AMessagesRequests_AreFoundByTheMessage")]
    public async Task ReadsOfRelayRequests_HaveAnIndex(string sql)
    {
        await using var db = await PostgresTestDatabase.CreateAsync();
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var off = new NpgsqlCommand("SET LOCAL enable_seqscan = off", connection, transaction))
        {
            await off.ExecuteNonQueryAsync();
        }

        var plan = await ColumnAsync(connection, transaction, "EXPLAIN (COSTS OFF) " + sql);

        Assert.That(plan, Has.None.Contains("Seq Scan on relay_requests"), string.Join(Environment.NewLine, plan));
    }

    [Test]
    public async Task NoTwoIndexesOfRelayRequests_AreTheSame()
    {
        // The same columns under the same condition: each row version goes into both, for reads one of them serves.
        await using var db = await PostgresTestDatabase.CreateAsync();
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();

        var twins = await ColumnAsync(connection, null, """
            SELECT string_agg(indexrelid::regclass::text, ' = ') FROM pg_index
            WHERE indrelid = 'relay_requests'::regclass
            GROUP BY indkey::text, coalesce(pg_get_expr(indpred, indrelid), '')
            HAVING count(*) > 1
            """);

        Assert.That(twins, Is.Empty);
    }

    private static async Task<List<string>> ColumnAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }
}
