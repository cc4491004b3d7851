using Dapper;
using MeatLizard.Application.Abstractions;
using Npgsql;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// The database as one DI scope sees it: one connection from the pool (opened on first use, returned with the scope)
/// and the transaction in progress, if any. Repositories of the scope run their statements through it, so work inside
/// <see cref="InTransactionAsync{T}"/> is committed or rolled back as a whole. Unlike SQLite, PostgreSQL admits many
/// writers at once, so nothing is serialised here.
/// </summary>
internal sealed class PostgresSession(NpgsqlDataSource dataSource) : IUnitOfWork, IAsyncDisposable, IDisposable
{
    private NpgsqlConnection? _connection;
    private NpgsqlTransaction? _transaction;

    /// <summary>A call made inside a running transaction joins it.</summary>
    public async Task<T> InTransactionAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (_transaction is not null)
        {
            return await work(cancellationToken);
        }

        var connection = await GetConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
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

    public async Task<int> ExecuteAsync(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(Command(sql, parameters, cancellationToken));
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

    /// <summary>A command on this scope's connection, in its transaction if one runs (for Npgsql-only features).</summary>
    public async Task<NpgsqlCommand> CreateCommandAsync(string sql, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        return new NpgsqlCommand(sql, connection, _transaction);
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

    private async ValueTask<NpgsqlConnection> GetConnectionAsync(CancellationToken cancellationToken) =>
        _connection ??= await dataSource.OpenConnectionAsync(cancellationToken);
}
