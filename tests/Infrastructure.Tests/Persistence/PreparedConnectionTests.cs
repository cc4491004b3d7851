using MeatLizard.Infrastructure.Persistence.Sqlite;
using Microsoft.Data.Sqlite;
using NUnit.Framework;
using SQLitePCL;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>
/// A statement run again and again on one connection is prepared once (<see cref="PreparedConnection"/>), including
/// one with a LIMIT and an OFFSET taken from parameters, which SQLite would otherwise prepare again on every run.
/// </summary>
[TestFixture]
public sealed class PreparedConnectionTests
{
    // SQLITE_STMTSTATUS_REPREPARE (sqlite3.h): how often the statement was prepared again since its first preparation.
    private const int Reprepare = 5;

    private const string Page = "SELECT n AS N FROM numbers WHERE n > @From ORDER BY n LIMIT @Max OFFSET @Skip";

    private SqliteConnection _connection = null!;
    private PreparedConnection _prepared = null!;

    [SetUp]
    public async Task SetUp()
    {
        _connection = new SqliteConnection("Data Source=:memory:");
        await _connection.OpenAsync();
        // SQLitePCL lists a connection's statements only when told so before the first is prepared.
        _connection.Handle!.enable_sqlite3_next_stmt(true);
        _prepared = new PreparedConnection(_connection);
        await _prepared.ExecuteAsync("CREATE TABLE numbers (n INTEGER NOT NULL PRIMARY KEY)", null, null, CancellationToken.None);
        for (var n = 1; n <= 20; n++)
        {
            await _prepared.ExecuteAsync("INSERT INTO numbers (n) VALUES (@N)", new { N = n }, null, CancellationToken.None);
        }
    }

    [TearDown]
    public void TearDown() => _prepared.Dispose();

    [Test]
    public async Task AStatementWithItsLimitAndOffsetInParameters_IsPreparedOnce_AndPagesAsWritten()
    {
        for (var max = 1; max <= 6; max++)
        {
            var rows = await _prepared.QueryAsync<Row>(Page, new { From = 3, Max = max, Skip = max - 1 }, null, int.MaxValue,
                CancellationToken.None);
            Assert.That(rows.Select(r => r.N), Is.EqualTo(Enumerable.Range(3 + max, max)), $"LIMIT {max} OFFSET {max - 1}");
        }

        Assert.That(Reprepared(), Is.Zero, "statements SQLite prepared again after their first run");
    }

    [Test]
    public async Task EachKindOfParameter_IsBoundAsItsValue_AndBoundAfreshOnEveryRun()
    {
        await _prepared.ExecuteAsync("CREATE TABLE kinds (id TEXT, at INTEGER, note TEXT, count INTEGER, ratio REAL)",
            null, null, CancellationToken.None);
        const string insert = "INSERT INTO kinds (id, at, note, count, ratio) VALUES (@Id, @At, @Note, @Count, @Ratio)";
        var first = new Kinds(Guid.CreateVersion7(), DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123), "first", 3, 0.5);
        var second = new Kinds(Guid.CreateVersion7(), DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_456), null, null, null);
        await _prepared.ExecuteAsync(insert, first, null, CancellationToken.None);
        await _prepared.ExecuteAsync(insert, second, null, CancellationToken.None);
        // The same statement with another parameter type (an anonymous one, internal to this assembly).
        await _prepared.ExecuteAsync(insert, new { Id = (Guid?)null, At = 7L, Note = "third", Count = (int?)9, Ratio = 1.5 },
            null, CancellationToken.None);

        var rows = await _prepared.QueryAsync<KindsRow>(
            "SELECT id AS Id, at AS At, note AS Note, count AS Count, ratio AS Ratio FROM kinds ORDER BY rowid", null, null,
            int.MaxValue, CancellationToken.None);

        Assert.That(rows, Is.EqualTo(new[]
        {
            new KindsRow(first.Id.ToString(), 1_700_000_000_123, "first", 3, 0.5),
            new KindsRow(second.Id.ToString(), 1_700_000_000_456, null, null, null),
            new KindsRow(null, 7, "third", 9, 1.5),
        }));
    }

    [Test]
    public void ABareLimitOrOffsetParameter_IsWrittenAsAnExpression_AndNothingElseChanges()
    {
        Assert.Multiple(() =>
        {
            Assert.That(PreparedConnection.WithLimitsAsExpressions(Page),
                Is.EqualTo("SELECT n AS N FROM numbers WHERE n > @From ORDER BY n LIMIT +@Max OFFSET +@Skip"));
            Assert.That(PreparedConnection.WithLimitsAsExpressions("SELECT 1 FROM t WHERE a IN (SELECT b FROM u limit\n  @Take)"),
                Is.EqualTo("SELECT 1 FROM t WHERE a IN (SELECT b FROM u limit +@Take)"));
            Assert.That(PreparedConnection.WithLimitsAsExpressions("SELECT limited FROM t LIMIT 1 OFFSET @Offset"),
                Is.EqualTo("SELECT limited FROM t LIMIT 1 OFFSET +@Offset"));
            Assert.That(PreparedConnection.WithLimitsAsExpressions("SELECT @Limit AS x FROM t WHERE y = @Max LIMIT 5"),
                Is.EqualTo("SELECT @Limit AS x FROM t WHERE y = @Max LIMIT 5"));
        });
    }

    [Test]
    public void SQLiteItself_PreparesABareLimitParameter_AgainOnEveryRun()
    {
        // Why the rewrite exists: the same page with the parameters bare, run through SQLite directly.
        var db = _connection.Handle!;
        Assert.That(raw.sqlite3_prepare_v2(db, Page, out var statement), Is.EqualTo(raw.SQLITE_OK));
        using (statement)
        {
            for (var max = 1; max <= 6; max++)
            {
                raw.sqlite3_bind_int(statement, raw.sqlite3_bind_parameter_index(statement, "@From"), 3);
                raw.sqlite3_bind_int(statement, raw.sqlite3_bind_parameter_index(statement, "@Max"), max);
                raw.sqlite3_bind_int(statement, raw.sqlite3_bind_parameter_index(statement, "@Skip"), 0);
                while (raw.sqlite3_step(statement) == raw.SQLITE_ROW)
                {
                }

                raw.sqlite3_reset(statement);
            }

            // Every run, the first too: binding a parameter after the statement was prepared already marks it.
            Assert.That(raw.sqlite3_stmt_status(statement, Reprepare, 0), Is.EqualTo(6));
        }
    }

    // How often SQLite prepared the connection's statements again since their first preparation, all together.
    private int Reprepared() => StatementsOf(_connection).Sum(statement => raw.sqlite3_stmt_status(statement, Reprepare, 0));

    /// <summary>The connection's prepared statements (listed only when told so before the first was prepared).</summary>
    internal static List<sqlite3_stmt> StatementsOf(SqliteConnection connection)
    {
        var statements = new List<sqlite3_stmt>();
        for (var statement = raw.sqlite3_next_stmt(connection.Handle!, null);
             statement is not null && !statement.IsInvalid;
             statement = raw.sqlite3_next_stmt(connection.Handle!, statement))
        {
            statements.Add(statement);
        }

        return statements;
    }

    private sealed class Row
    {
        public long N { get; init; }
    }

    public sealed record Kinds(Guid Id, DateTimeOffset At, string? Note, int? Count, double? Ratio);

    public sealed record KindsRow(string? Id, long At, string? Note, long? Count, double? Ratio);
}
