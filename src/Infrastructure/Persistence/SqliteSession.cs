using MeatLizard.Application.Abstractions;
using Microsoft.Data.Sqlite;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// The database as one DI scope sees it: one connection (rented on first use with its prepared statements, given
/// back with the scope) and the transaction in progress, if any. Repositories of the scope run their statements through it, so work
/// inside <see cref="InTransactionAsync{T}"/> is committed or rolled back as a whole.
/// </summary>
internal sealed class SqliteSession(SqliteDataSource dataSource) : IUnitOfWork, IAsyncDisposable, IDisposable
{
    private PreparedConnection? _connection;
    private SqliteTransaction? _transaction;

    /// <summary>
    /// BEGIN IMMEDIATE takes the write lock up front: a transaction that reads first and writes later could
    /// otherwise fail with SQLITE_BUSY when it tries to upgrade, which no busy timeout can cure.
    /// A call made inside a running transaction joins it.
    /// </summary>
    public async Task<T> InTransactionAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (_transaction is not null)
        {
            return await work(cancellationToken);
        }

        var connection = await GetConnectionAsync(cancellationToken);
        using var turn = await dataSource.EnterWriteAsync(cancellationToken);
        await using var transaction = connection.Connection.BeginTransaction(deferred: false);
        _transaction = transaction;
        try
        {
            var result = await work(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return result;
        }
        finally
        {
            // Disposing an uncommitted transaction rolls it back.
            _transaction = null;
        }
    }

    public async Task<int> ExecuteAsync(string sql, object parameters, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        if (_transaction is not null)
        {
            return await connection.ExecuteAsync(sql, parameters, _transaction, cancellationToken);
        }

        using var turn = await dataSource.EnterWriteAsync(cancellationToken);
        return await connection.ExecuteAsync(sql, parameters, null, cancellationToken);
    }

    /// <summary>A write that returns rows (UPDATE … RETURNING): it takes the write turn like any other write.</summary>
    public async Task<IReadOnlyList<T>> WriteReturningAsync<T>(
        string sql, object parameters, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        if (_transaction is not null)
        {
            return await connection.QueryAsync<T>(sql, parameters, _transaction, int.MaxValue, cancellationToken);
        }

        using var turn = await dataSource.EnterWriteAsync(cancellationToken);
        return await connection.QueryAsync<T>(sql, parameters, null, int.MaxValue, cancellationToken);
    }

    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        return await connection.QueryAsync<T>(sql, parameters, _transaction, int.MaxValue, cancellationToken);
    }

    public async Task<T?> QuerySingleOrDefaultAsync<T>(
        string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<T>(sql, parameters, _transaction, 2, cancellationToken);
        return rows.Count switch
        {
            0 => default,
            1 => rows[0],
            _ => throw new InvalidOperationException("The query returned more than one row where at most one was expected."),
        };
    }

    public async Task<T> ExecuteScalarAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        return (await connection.ExecuteScalarAsync<T>(sql, parameters, _transaction, cancellationToken))!;
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    public void Dispose()
    {
        if (_connection is not null)
        {
            dataSource.Return(_connection);
            _connection = null;
        }
    }

    private async ValueTask<PreparedConnection> GetConnectionAsync(CancellationToken cancellationToken) =>
        _connection ??= await dataSource.RentAsync(cancellationToken);
}
