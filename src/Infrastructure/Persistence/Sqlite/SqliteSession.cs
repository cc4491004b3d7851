using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence.Sql;
using Microsoft.Data.Sqlite;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

/// <summary>
/// The database as one DI scope sees it, and the transaction in progress, if any. Repositories of the scope run their
/// statements through it, so work inside <see cref="InTransactionAsync{T}"/> is committed or rolled back as a whole.
/// Writes (and everything inside a transaction) run on the process's writer connection during its write turn; a read
/// outside a transaction rents an idle connection for that one statement, so a scope that waits (a request waiting for
/// its answer) holds no connection meanwhile.
/// </summary>
internal sealed class SqliteSession(SqliteDataSource dataSource) : IDatabaseSession, IUnitOfWork, IAsyncDisposable, IDisposable
{
    // The transaction's statements, run as prepared statements of the writer (Microsoft.Data.Sqlite's own transaction
    // object prepares BEGIN and COMMIT again every time).
    private const string Begin = "BEGIN IMMEDIATE";
    private const string Commit = "COMMIT";
    private const string Rollback = "ROLLBACK";

    /// <summary>The dispatchers' claims on this database's pending requests.</summary>
    public SqliteClaims Claims => dataSource.Claims;

    // The writer while this scope's transaction runs on it.
    private PreparedConnection? _writer;

    /// <summary>
    /// BEGIN IMMEDIATE takes the write lock up front: a transaction that reads first and writes later could
    /// otherwise fail with SQLITE_BUSY when it tries to upgrade, which no busy timeout can cure.
    /// A call made inside a running transaction joins it.
    /// </summary>
    public async Task<T> InTransactionAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (_writer is not null)
        {
            return await work(cancellationToken);
        }

        using var turn = await dataSource.EnterWriteAsync(cancellationToken);
        var writer = await turn.GetConnectionAsync(cancellationToken);
        await writer.ExecuteAsync(Begin, null, null, cancellationToken);
        _writer = writer;
        try
        {
            var result = await work(cancellationToken);
            await writer.ExecuteAsync(Commit, null, null, cancellationToken);
            return result;
        }
        catch (SqliteException exception) when (OneUnfinishedRequestPerChat.IsViolatedBy(exception))
        {
            throw OneUnfinishedRequestPerChat.Conflict();
        }
        finally
        {
            _writer = null;
            // Whatever did not commit (the work failed, was cancelled, or the commit itself failed) is rolled back
            // before the turn passes on: the writer never carries an open transaction to the next writer.
            if (writer.InTransaction)
            {
                await writer.ExecuteAsync(Rollback, null, null, CancellationToken.None);
            }
        }
    }

    /// <summary>One writer runs one statement at a time, so a write waits for nothing else: it runs at once.</summary>
    public Task ExecuteLaterAsync(string sql, object parameters, CancellationToken cancellationToken) =>
        ExecuteAsync(sql, parameters, cancellationToken);

    /// <summary>One command holding every statement: one write turn, as one text.</summary>
    public Task ExecuteInOrderAsync(IReadOnlyList<string> statements, object parameters, CancellationToken cancellationToken) =>
        ExecuteAsync(string.Join(";\n", statements) + ";", parameters, cancellationToken);

    public async Task<int> ExecuteAsync(string sql, object? parameters, CancellationToken cancellationToken)
    {
        if (_writer is not null)
        {
            return await _writer.ExecuteAsync(sql, parameters, null, cancellationToken);
        }

        using var turn = await dataSource.EnterWriteAsync(cancellationToken);
        var writer = await turn.GetConnectionAsync(cancellationToken);
        return await writer.ExecuteAsync(sql, parameters, null, cancellationToken);
    }

    /// <summary>A write that returns rows (UPDATE … RETURNING): it takes the write turn like any other write.</summary>
    public async Task<IReadOnlyList<T>> WriteReturningAsync<T>(
        string sql, object parameters, CancellationToken cancellationToken)
    {
        if (_writer is not null)
        {
            return await _writer.QueryAsync<T>(sql, parameters, null, int.MaxValue, cancellationToken);
        }

        using var turn = await dataSource.EnterWriteAsync(cancellationToken);
        var writer = await turn.GetConnectionAsync(cancellationToken);
        return await writer.QueryAsync<T>(sql, parameters, null, int.MaxValue, cancellationToken);
    }

    /// <summary>A write that returns one value (INSERT … RETURNING): on the writer, in its write turn.</summary>
    public async Task<T> WriteScalarAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        (await WriteReturningAsync<T>(sql, parameters ?? new { }, cancellationToken)).Single();

    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        await QueryAsync<T>(sql, parameters, int.MaxValue, cancellationToken);

    public async Task<T?> QuerySingleOrDefaultAsync<T>(
        string sql, object? parameters, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync<T>(sql, parameters, 2, cancellationToken);
        return rows.Count switch
        {
            0 => default,
            1 => rows[0],
            _ => throw new InvalidOperationException("The query returned more than one row where at most one was expected."),
        };
    }

    /// <summary>A transaction here holds the write lock from its start: nothing more to lock.</summary>
    public Task<T> ExecuteScalarLockingAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        ExecuteScalarAsync<T>(sql, parameters, cancellationToken);

    public async Task<T> ExecuteScalarAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        (await ReadAsync(connection => connection.ExecuteScalarAsync<T>(sql, parameters, null, cancellationToken),
            cancellationToken))!;

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    public void Dispose()
    {
        // Nothing is held between statements; a transaction gives its turn back when it ends.
    }

    private Task<List<T>> QueryAsync<T>(string sql, object? parameters, int maxRows, CancellationToken cancellationToken) =>
        ReadAsync(connection => connection.QueryAsync<T>(sql, parameters, null, maxRows, cancellationToken),
            cancellationToken);

    /// <summary>
    /// A read: inside this scope's transaction on its writer; outside one, on the writer when no write holds or awaits
    /// it, else on an idle reader. In WAL mode a connection drops its whole page cache when another connection
    /// committed since its last read, so a reader reads its pages from the file again after every write of the
    /// process; the writer's stay cached.
    /// </summary>
    private async Task<T> ReadAsync<T>(Func<PreparedConnection, Task<T>> read, CancellationToken cancellationToken)
    {
        if (_writer is not null)
        {
            return await read(_writer);
        }

        using var turn = dataSource.TryEnterWrite();
        if (turn is not null)
        {
            return await read(await turn.GetConnectionAsync(cancellationToken));
        }

        var reader = await dataSource.RentAsync(cancellationToken);
        try
        {
            return await read(reader);
        }
        finally
        {
            dataSource.Return(reader);
        }
    }
}
