using Dapper;
using MeatLizard.Application.Abstractions;
using Microsoft.Data.Sqlite;

namespace MeatLizard.Infrastructure.Persistence;

/// <summary>
/// The database as one DI scope sees it: one connection (opened on first use, returned to the pool with the scope)
/// and the transaction in progress, if any. Repositories of the scope run their statements through it, so work
/// inside <see cref="InTransactionAsync{T}"/> is committed or rolled back as a whole.
/// </summary>
internal sealed class SqliteSession(SqliteDataSource dataSource) : IUnitOfWork, IAsyncDisposable, IDisposable
{
    private SqliteConnection? _connection;
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
        await using var transaction = connection.BeginTransaction(deferred: false);
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
            return await connection.ExecuteAsync(Command(sql, parameters, cancellationToken));
        }

        using var turn = await dataSource.EnterWriteAsync(cancellationToken);
        return await connection.ExecuteAsync(Command(sql, parameters, cancellationToken));
    }

    /// <summary>A write that returns rows (UPDATE … RETURNING): it takes the write turn like any other write.</summary>
    public async Task<IReadOnlyList<T>> WriteReturningAsync<T>(
        string sql, object parameters, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        if (_transaction is not null)
        {
            return (await connection.QueryAsync<T>(Command(sql, parameters, cancellationToken))).AsList();
        }

        using var turn = await dataSource.EnterWriteAsync(cancellationToken);
        return (await connection.QueryAsync<T>(Command(sql, parameters, cancellationToken))).AsList();
    }

    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<T>(Command(sql, parameters, cancellationToken));
        return rows.AsList();
    }

    public async Task<T?> QuerySingleOrDefaultAsync<T>(
        string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<T>(Command(sql, parameters, cancellationToken));
    }

    public async Task<T> ExecuteScalarAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        return (await connection.ExecuteScalarAsync<T>(Command(sql, parameters, cancellationToken)))!;
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }

    public void Dispose()
    {
        _connection?.Dispose();
        _connection = null;
    }

    private CommandDefinition Command(string sql, object? parameters, CancellationToken cancellationToken) =>
        new(sql, parameters, _transaction, cancellationToken: cancellationToken);

    private async ValueTask<SqliteConnection> GetConnectionAsync(CancellationToken cancellationToken) =>
        _connection ??= await dataSource.OpenConnectionAsync(cancellationToken);
}
