using MeatLizard.Infrastructure.Persistence.Sqlite;
using Microsoft.Data.Sqlite;
using NUnit.Framework;
using SQLitePCL;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>
/// A write, or a read of single values, run through <see cref="PreparedConnection"/> goes to SQLite on its own prepared
/// statement (<see cref="NativeStatement"/>), not through Microsoft.Data.Sqlite's command: whatever it stores, returns or
/// throws must be what the command stores, returns or throws. Each test runs the same SQL both ways, each on its own
/// database.
/// </summary>
[TestFixture]
public sealed class NativeStatementTests
{
    private const string Schema =
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, value ANY, note TEXT NOT NULL DEFAULT '');" +
        "CREATE TABLE log (entry TEXT);" +
        "CREATE TRIGGER items_logged AFTER INSERT ON items BEGIN INSERT INTO log (entry) VALUES (new.name); END;" +
        "INSERT INTO items (name, value) VALUES ('one', 1), ('two', 2), ('three', 3);";

    private SqliteConnection _commandSide = null!;
    private SqliteConnection _nativeSide = null!;
    private PreparedConnection _prepared = null!;

    [SetUp]
    public async Task SetUp()
    {
        _commandSide = new SqliteConnection("Data Source=:memory:");
        await _commandSide.OpenAsync();
        await CommandAsync(Schema, null);
        _nativeSide = new SqliteConnection("Data Source=:memory:");
        await _nativeSide.OpenAsync();
        _nativeSide.Handle!.enable_sqlite3_next_stmt(true);
        _prepared = new PreparedConnection(_nativeSide);
        await _prepared.ExecuteAsync(Schema, null, null, CancellationToken.None);
    }

    [TearDown]
    public void TearDown()
    {
        _prepared.Dispose();
        _commandSide.Dispose();
    }

    [TestCase("UPDATE items SET value = 10 WHERE value > 1")]
    [TestCase("UPDATE items SET value = 10 WHERE value > 99")]
    [TestCase("DELETE FROM items WHERE name = 'one'")]
    [TestCase("INSERT INTO items (name, value) VALUES ('four', 4)")]
    [TestCase("INSERT INTO items (name, value) VALUES ('five', 5);\n-- a comment\n;")]
    [TestCase("INSERT INTO items (name, value) VALUES ('five', 5); UPDATE items SET value = 0;")]
    [TestCase("INSERT INTO items (name, value) VALUES ('six', 6) RETURNING id")]
    [TestCase("SELECT count(*) FROM items")]
    [TestCase("CREATE TABLE more (a INTEGER)")]
    [TestCase("BEGIN IMMEDIATE; UPDATE items SET value = 2; COMMIT")]
    [TestCase("SAVEPOINT s; DELETE FROM items; ROLLBACK TO s; RELEASE s")]
    public async Task TheRowsChanged_AreWhatTheCommandSays(string sql)
    {
        var expected = await CommandAsync(sql, null);

        var changed = await _prepared.ExecuteAsync(sql, null, null, CancellationToken.None);

        Assert.That(changed, Is.EqualTo(expected));
        await AssertBothHoldAsync("SELECT group_concat(name || '=' || value, ',') FROM items");
        Assert.That(Unfinished(), Is.Empty, "statements left running");
    }

    [Test]
    public async Task EachKindOfValue_IsStoredAsTheCommandStoresIt()
    {
        const string insert = "INSERT INTO items (name, value) VALUES (@Name, @Value)";
        object?[] values =
        [
            null, DBNull.Value, "", "plain", "a\0b after a NUL", "üñí €, 😀", long.MaxValue, long.MinValue, 42, (short)-7,
            (byte)200, true, false, 0.1, -1e300, 2.5f, double.PositiveInfinity, Guid.CreateVersion7(),
            DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123), 12.345m, DayOfWeek.Friday, new byte[] { 0, 1, 255 },
            Array.Empty<byte>(), 'x', 3u, 9UL, (sbyte)-3, (ushort)65535, new DateTime(2026, 12, 1, 13, 0, 0, DateTimeKind.Utc),
            TimeSpan.FromMinutes(90),
        ];

        for (var i = 0; i < values.Length; i++)
        {
            var parameters = new Row("v" + i, values[i]);
            var expected = await CommandAsync(insert, parameters);
            Assert.That(await _prepared.ExecuteAsync(insert, parameters, null, CancellationToken.None), Is.EqualTo(expected),
                $"rows changed storing {values[i]?.GetType().Name ?? "null"}");
        }

        await AssertBothHoldAsync("SELECT group_concat(name || ':' || typeof(value) || ':' || quote(value), ' | ') FROM items");
    }

    [Test]
    public async Task AStatementBoundAndRunHere_IsNotPreparedByTheCommandToo()
    {
        const string insert = "INSERT INTO items (name, value) VALUES (@Name, @Value)";
        for (var i = 0; i < 3; i++)
        {
            await _prepared.ExecuteAsync(insert, new Row("n" + i, i), null, CancellationToken.None);
        }

        // A value of a kind left to the command: the command prepares the text as well, and stores it as it would.
        var statementsBefore = Prepared(insert);
        await _prepared.ExecuteAsync(insert, new Row("money", 1.5m), null, CancellationToken.None);
        await CommandAsync(insert, new Row("money", 1.5m));

        Assert.That(statementsBefore, Is.EqualTo(1), "the statement run three times, prepared once and only here");
        Assert.That(Prepared(insert), Is.EqualTo(2), "the command's own, for the decimal");
        await AssertBothHoldAsync("SELECT typeof(value) || ':' || quote(value) FROM items WHERE name = 'money'");
    }

    [Test]
    public async Task AConstraintRefused_ThrowsWhatTheCommandThrows_AndLeavesNothingRunning()
    {
        const string insert = "INSERT INTO items (name, value) VALUES (@Name, @Value)";
        var parameters = new Row("one", 1);
        var expected = Assert.ThrowsAsync<SqliteException>(() => CommandAsync(insert, parameters))!;

        var thrown = Assert.ThrowsAsync<SqliteException>(() =>
            _prepared.ExecuteAsync(insert, parameters, null, CancellationToken.None))!;

        Assert.That((thrown.SqliteErrorCode, thrown.SqliteExtendedErrorCode, thrown.Message),
            Is.EqualTo((expected.SqliteErrorCode, expected.SqliteExtendedErrorCode, expected.Message)));
        Assert.That(Unfinished(), Is.Empty, "statements left running");
        Assert.That(await _prepared.ExecuteAsync(insert, new Row("seven", 7), null, CancellationToken.None), Is.EqualTo(1),
            "the statement runs again after the refusal");
    }

    [Test]
    public void AParameterWithoutAValue_IsRefusedAsTheCommandRefusesIt()
    {
        const string update = "UPDATE items SET value = @Value WHERE name = @Missing";
        var expected = Assert.ThrowsAsync<InvalidOperationException>(() => CommandAsync(update, new Row("one", 1)))!;

        var thrown = Assert.ThrowsAsync<InvalidOperationException>(() =>
            _prepared.ExecuteAsync(update, new Row("one", 1), null, CancellationToken.None))!;

        Assert.That(thrown.Message, Is.EqualTo(expected.Message));
    }

    [TestCase("SELECT value FROM items ORDER BY id", int.MaxValue)]
    [TestCase("SELECT value FROM items ORDER BY id", 2)]
    [TestCase("SELECT value FROM items WHERE id < 0", int.MaxValue)]
    [TestCase("SELECT NULL", 1)]
    [TestCase("UPDATE items SET note = 'x' WHERE id > 1 RETURNING name", 1)]
    [TestCase("DELETE FROM log", int.MaxValue)]
    public async Task AFirstColumnRead_IsWhatTheCommandsReaderGives(string sql, int maxRows)
    {
        const string kinds = "INSERT INTO items (name, value) VALUES ('int', 7), ('real', 2.5), ('text', 'a\u00e9b'), " +
            "('blob', x'00ff'), ('empty', x''), ('null', NULL)";
        await CommandAsync(kinds, null);
        await _prepared.ExecuteAsync(kinds, null, null, CancellationToken.None);
        var expected = new List<object?>();
        await using (var command = _commandSide.CreateCommand())
        {
            command.CommandText = sql;
            await using var reader = await command.ExecuteReaderAsync();
            while (expected.Count < maxRows && await reader.ReadAsync())
            {
                expected.Add(reader.IsDBNull(0) ? null : reader.GetValue(0));
            }
        }

        var values = new List<object?>();
        using var statement = NativeStatement.TryPrepare(_nativeSide.Handle!, sql)!;
        Assert.That(statement.TryReadFirstColumn(null, 30, maxRows, values), Is.True);

        Assert.That(values.Select(v => v?.GetType()), Is.EqualTo(expected.Select(v => v?.GetType())));
        Assert.That(values, Is.EqualTo(expected));
        await AssertBothHoldAsync("SELECT group_concat(name || note, ',') || (SELECT count(*) FROM log) FROM items");
        Assert.That(Unfinished(), Is.Empty, "statements left running");
    }

    [Test]
    public async Task SingleValues_AreReadHere_AndConvertedAsFromTheCommandsReader()
    {
        const string count = "SELECT count(*) FROM items WHERE value >= @Value AND name <> @Name";
        var parameters = new Row("two", 1);

        Assert.That(await _prepared.ExecuteScalarAsync<long>(count, parameters, null, CancellationToken.None), Is.EqualTo(2));
        Assert.That(await _prepared.QueryAsync<int?>(count, parameters, null, int.MaxValue, CancellationToken.None),
            Is.EqualTo(new int?[] { 2 }));
        Assert.That(await _prepared.QueryAsync<string>("SELECT name FROM items ORDER BY id", null, null, 2,
            CancellationToken.None), Is.EqualTo(new[] { "one", "two" }));
        Assert.That(await _prepared.QueryAsync<long?>("SELECT NULL", null, null, 1, CancellationToken.None),
            Is.EqualTo(new long?[] { null }));
        Assert.That(await _prepared.ExecuteScalarAsync<string>("SELECT name FROM items WHERE id < 0", null, null,
            CancellationToken.None), Is.Null);
        var preparedBefore = Prepared(count);
        // A value of a kind left to the command: the command prepares the text only now.
        Assert.That(await _prepared.ExecuteScalarAsync<long>(count, new Row("two", 1.5m), null, CancellationToken.None),
            Is.EqualTo(1));

        Assert.That(preparedBefore, Is.EqualTo(1), "the reads before, prepared once and only here");
        Assert.That(Prepared(count), Is.EqualTo(2), "the command's own, for the decimal");
    }

    public sealed record Row(string Name, object? Value);

    // The same SQL through Microsoft.Data.Sqlite's command, with each property of parameters bound by its name.
    private async Task<int> CommandAsync(string sql, Row? parameters)
    {
        await using var command = _commandSide.CreateCommand();
        command.CommandText = sql;
        if (parameters is not null)
        {
            command.Parameters.AddWithValue("@Name", parameters.Name);
            command.Parameters.AddWithValue("@Value", parameters.Value is { } value
                ? MeatLizard.Infrastructure.Persistence.Sql.SqlValueHandlers.ForSqlite(value)
                : DBNull.Value);
        }

        return await command.ExecuteNonQueryAsync();
    }

    // What query reads on each side is the same.
    private async Task AssertBothHoldAsync(string query)
    {
        await using var command = _commandSide.CreateCommand();
        command.CommandText = query;
        var commandSide = (await command.ExecuteScalarAsync())?.ToString();

        Assert.That(await _prepared.ExecuteScalarAsync<string>(query, null, null, CancellationToken.None),
            Is.EqualTo(commandSide), query);
    }

    // The statements on the native side's connection whose text is sql.
    private int Prepared(string sql) => Statements().Count(statement => raw.sqlite3_sql(statement).utf8_to_string() == sql);

    private IEnumerable<string> Unfinished() =>
        Statements().Where(statement => raw.sqlite3_stmt_busy(statement) != 0)
            .Select(statement => raw.sqlite3_sql(statement).utf8_to_string());

    private List<sqlite3_stmt> Statements() => PreparedConnectionTests.StatementsOf(_nativeSide);
}
