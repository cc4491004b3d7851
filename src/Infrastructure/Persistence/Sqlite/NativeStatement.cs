using System.Diagnostics;
using MeatLizard.Infrastructure.Persistence.Sql;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

/// <summary>
/// A SQL text of one statement, prepared once on the connection and run as <see cref="SqliteCommand.ExecuteNonQuery"/>
/// runs it, without the command. On every run the command binds each parameter by its name again (the name turned
/// into UTF-8 and looked up in each statement), wraps the values, and builds a reader to step the statements through:
/// measured with <c>perf</c> in the <c>/v1</c> window of <c>bench/openai.sh --part 2</c>, Microsoft.Data.Sqlite was 2.9 %
/// of the process for the 11 statements a completion runs, and 0.9 % with the writes and single-value reads here. Here each parameter's position is found once per parameter type, and the values are
/// bound by position with the calls Microsoft.Data.Sqlite makes for them, for the kinds of value repositories pass (text,
/// integers, booleans, reals, null); any other kind, or a parameter without a value, is left to the command
/// (<see cref="TryRun"/> returns null), and so is a text of several statements: the command prepares each just before
/// it runs it (a later one may need what an earlier one creates) and binds each as it comes.
/// </summary>
internal sealed class NativeStatement : IDisposable
{
    private readonly sqlite3 _database;
    private readonly sqlite3_stmt _statement;
    private readonly string[] _names;

    // Whether it writes: a write's run returns the rows it changed, anything else's -1.
    private readonly bool _writes;

    // For the last parameter type: the property read for each parameter position (null: the type has none of that name).
    private Type? _parameterType;
    private Func<object, object?>?[] _reads = [];

    private NativeStatement(sqlite3 database, sqlite3_stmt statement)
    {
        _database = database;
        _statement = statement;
        _writes = raw.sqlite3_stmt_readonly(statement) == 0;
        _names = [.. Enumerable.Range(1, raw.sqlite3_bind_parameter_count(statement))
            .Select(position => raw.sqlite3_bind_parameter_name(statement, position).utf8_to_string() ?? "")];
    }

    /// <summary>The text prepared as one statement; null when it holds several, or none, or does not prepare.</summary>
    public static NativeStatement? TryPrepare(sqlite3 database, string sql)
    {
        if (raw.sqlite3_prepare_v2(database, sql, out var statement, out var tail) != raw.SQLITE_OK
            || statement is null || statement.IsInvalid)
        {
            statement?.Dispose();
            return null;
        }

        // What follows the statement may be only blanks and comments: SQLite prepares those as no statement.
        while (!string.IsNullOrWhiteSpace(tail))
        {
            var rc = raw.sqlite3_prepare_v2(database, tail, out var next, out tail);
            var another = next is not null && !next.IsInvalid;
            next?.Dispose();
            if (rc != raw.SQLITE_OK || another)
            {
                statement.Dispose();
                return null;
            }
        }

        return new NativeStatement(database, statement);
    }

    /// <summary>
    /// Runs the statement and returns the rows it changed (-1 when it writes nothing), or null, having run nothing,
    /// when a value is of a kind not bound here or a parameter has none.
    /// </summary>
    public int? TryRun(object? parameters, int timeoutSeconds)
    {
        if (!TryBindAll(parameters))
        {
            return null;
        }

        var rc = Step(timeoutSeconds);
        try
        {
            if (rc is not (raw.SQLITE_DONE or raw.SQLITE_ROW))
            {
                SqliteException.ThrowExceptionForRC(rc, _database);
            }
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }

        // Read after the reset: a write that returns rows (RETURNING) counts its changes only when it is done.
        return _writes ? raw.sqlite3_changes(_database) : -1;
    }

    /// <summary>
    /// Runs the statement and adds the first column of up to <paramref name="maxRows"/> of its rows to
    /// <paramref name="values"/>, each as Microsoft.Data.Sqlite's reader gives it (<see cref="System.Data.Common.DbDataReader.GetValue"/>:
    /// a long, a double, a string, bytes, or null); false, having run nothing, as <see cref="TryRun"/> returns null.
    /// </summary>
    public bool TryReadFirstColumn(object? parameters, int timeoutSeconds, int maxRows, List<object?> values)
    {
        if (!TryBindAll(parameters))
        {
            return false;
        }

        try
        {
            var rc = Step(timeoutSeconds);
            while (rc == raw.SQLITE_ROW && values.Count < maxRows)
            {
                values.Add(raw.sqlite3_column_type(_statement, 0) switch
                {
                    raw.SQLITE_INTEGER => raw.sqlite3_column_int64(_statement, 0),
                    raw.SQLITE_FLOAT => raw.sqlite3_column_double(_statement, 0),
                    raw.SQLITE_TEXT => raw.sqlite3_column_text(_statement, 0).utf8_to_string(),
                    raw.SQLITE_BLOB => raw.sqlite3_column_blob(_statement, 0).ToArray(),
                    _ => null,
                });
                if (values.Count < maxRows)
                {
                    rc = raw.sqlite3_step(_statement);
                }
            }

            if (rc is not (raw.SQLITE_DONE or raw.SQLITE_ROW))
            {
                SqliteException.ThrowExceptionForRC(rc, _database);
            }

            return true;
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    public void Dispose() => _statement.Dispose();

    private bool TryBindAll(object? parameters)
    {
        var reads = ReadsFor(parameters?.GetType());
        for (var position = 0; position < reads.Length; position++)
        {
            if (reads[position] is not { } read || !TryBind(position + 1, Value(read(parameters!))))
            {
                return false;
            }
        }

        return true;
    }

    private static object? Value(object? value) => value is null ? null : SqlValueHandlers.ForSqlite(value);

    /// <summary>Binds as Microsoft.Data.Sqlite's value binder does; false for a kind left to it.</summary>
    private bool TryBind(int position, object? value)
    {
        var rc = value switch
        {
            null or DBNull => raw.sqlite3_bind_null(_statement, position),
            string text => raw.sqlite3_bind_text(_statement, position, text),
            long number => raw.sqlite3_bind_int64(_statement, position, number),
            int number => raw.sqlite3_bind_int64(_statement, position, number),
            short number => raw.sqlite3_bind_int64(_statement, position, number),
            byte number => raw.sqlite3_bind_int64(_statement, position, number),
            bool flag => raw.sqlite3_bind_int64(_statement, position, flag ? 1 : 0),
            double real when !double.IsNaN(real) => raw.sqlite3_bind_double(_statement, position, real),
            float real when !float.IsNaN(real) => raw.sqlite3_bind_double(_statement, position, real),
            _ => (int?)null,
        };
        if (rc is not { } bound)
        {
            return false;
        }

        SqliteException.ThrowExceptionForRC(bound, _database);
        return true;
    }

    /// <summary>
    /// Steps once, waiting out a database another connection holds as the command does: again every 150 ms until the
    /// command's timeout (SQLite's own busy timeout has already waited inside each step).
    /// </summary>
    private int Step(int timeoutSeconds)
    {
        var started = Stopwatch.GetTimestamp();
        int rc;
        while ((rc = raw.sqlite3_step(_statement)) is raw.SQLITE_BUSY or raw.SQLITE_LOCKED)
        {
            if (timeoutSeconds != 0 && Stopwatch.GetElapsedTime(started).TotalSeconds >= timeoutSeconds)
            {
                break;
            }

            raw.sqlite3_reset(_statement);
            Thread.Sleep(150);
        }

        return rc;
    }

    private Func<object, object?>?[] ReadsFor(Type? type)
    {
        if (type == _parameterType && _reads.Length == _names.Length)
        {
            return _reads;
        }

        var byName = type is null
            ? []
            : ParameterReaders.Of(type).ToDictionary(reader => "@" + reader.Name, reader => reader.Read, StringComparer.Ordinal);
        _reads = [.. _names.Select(name => byName.GetValueOrDefault(name))];
        _parameterType = type;
        return _reads;
    }
}
