using System.Collections.Concurrent;
using System.Data;
using System.Reflection;
using Dapper;
using MeatLizard.Application.Abstractions;
using Npgsql;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// The database as one DI scope sees it: one connection from the pool (opened on first use, returned with the scope)
/// and the transaction in progress, if any. Repositories of the scope run their statements through it, so work inside
/// <see cref="InTransactionAsync{T}"/> is committed or rolled back as a whole. Unlike SQLite, PostgreSQL admits many
/// writers at once, so nothing is serialised here.
/// Writes whose row count nobody checks (<see cref="ExecuteLaterAsync"/>) wait, inside a transaction, for the next
/// statement or the commit and go with the others in one batch: one round trip to the server instead of one each.
/// </summary>
internal sealed class PostgresSession(NpgsqlDataSource dataSource) : IUnitOfWork, IAsyncDisposable, IDisposable
{
    private NpgsqlConnection? _connection;
    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> ParameterProperties = new();

    private readonly List<NpgsqlBatchCommand> _pending = [];
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
            await FlushAsync(connection, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return result;
        }
        finally
        {
            // Disposing an uncommitted transaction rolls it back, with whatever writes still wait.
            _pending.Clear();
            _transaction = null;
        }
    }

    /// <summary>
    /// A write whose row count does not matter: inside a transaction it is sent with the next statement of this
    /// scope or with the commit (an error in it then surfaces there, and the transaction is rolled back as a whole);
    /// outside one it runs at once. Parameters are the properties of <paramref name="parameters"/> (plain values).
    /// </summary>
    public async Task ExecuteLaterAsync(string sql, object parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (_transaction is null)
        {
            await ExecuteAsync(sql, parameters, cancellationToken);
            return;
        }

        var command = new NpgsqlBatchCommand(sql);
        foreach (var property in ParameterProperties.GetOrAdd(parameters.GetType(), t => t.GetProperties()))
        {
            command.Parameters.Add(Parameter(property, property.GetValue(parameters)));
        }

        _pending.Add(command);
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

    // Every statement of the scope goes through here, so the writes that wait are sent before anything that could
    // read them.
    private async ValueTask<NpgsqlConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = _connection ??= await dataSource.OpenConnectionAsync(cancellationToken);
        if (_pending.Count > 0)
        {
            await FlushAsync(connection, cancellationToken);
        }

        return connection;
    }

    private async Task FlushAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        if (_pending.Count == 0)
        {
            return;
        }

        await using var batch = new NpgsqlBatch(connection, _transaction);
        foreach (var command in _pending)
        {
            batch.BatchCommands.Add(command);
        }

        _pending.Clear();
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    // A null gets the type of its property, as Dapper would give it, so PostgreSQL need not guess.
    private static NpgsqlParameter Parameter(PropertyInfo property, object? value)
    {
        var parameter = new NpgsqlParameter(property.Name, value ?? DBNull.Value);
        if (value is null)
        {
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            parameter.DbType = type == typeof(string) ? DbType.String
                : type == typeof(Guid) ? DbType.Guid
                : type == typeof(int) ? DbType.Int32
                : type == typeof(long) ? DbType.Int64
                : type == typeof(double) ? DbType.Double
                : type == typeof(DateTimeOffset) ? DbType.DateTimeOffset
                : type == typeof(bool) ? DbType.Boolean
                : throw new NotSupportedException($"A null {type.Name} cannot be sent in a batch; add its type here.");
        }

        return parameter;
    }
}
