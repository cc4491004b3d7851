using System.Collections.Concurrent;
using System.Data;
using System.Reflection;
using Dapper;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence.Sql;
using Npgsql;

namespace MeatLizard.Infrastructure.Persistence.Postgres;

/// <summary>
/// The database as one DI scope sees it: one connection from the pool (opened on first use, returned with the scope)
/// and the unit of work in progress, if any. Repositories of the scope run their statements through it, so work inside
/// <see cref="InTransactionAsync{T}"/> is committed or rolled back as a whole. Unlike SQLite, PostgreSQL admits many
/// writers at once, so nothing is serialised here.
/// A unit of work costs as few round trips as its statements allow:
/// <list type="bullet">
/// <item>Writes whose row count nobody checks (<see cref="ExecuteLaterAsync"/>) wait for the next statement or the end
/// and go with it in one batch.</item>
/// <item>The transaction begins lazily, with the first write that must run at once (its row count decides what
/// happens next) or the first statement after waiting writes: <c>BEGIN</c> goes in that statement's batch, and
/// <c>COMMIT</c> in the batch of the writes still waiting at the end. Reads before it run on their own, which under
/// READ COMMITTED sees exactly what they would see inside (every statement takes a fresh snapshot). A read that must
/// lock rows (<c>FOR UPDATE</c>) begins the transaction first (<see cref="ExecuteScalarLockingAsync{T}"/>).</item>
/// <item>A unit that only reads and then writes without checking (a chat message: read the chat, then insert the
/// message and the request, update the chat) sends its writes as one batch without <c>BEGIN</c>: PostgreSQL runs the
/// statements before a batch's single Sync as one implicit transaction, all or nothing.</item>
/// </list>
/// The transaction is plain SQL on the connection (no <see cref="NpgsqlTransaction"/>), so <c>BEGIN</c> and
/// <c>COMMIT</c> can share a batch with other statements; a failure rolls it back, and a connection that still had one
/// open is rolled back by Npgsql when it returns to the pool.
/// </summary>
internal sealed class PostgresSession(NpgsqlDataSource dataSource) : IDatabaseSession, IUnitOfWork, IAsyncDisposable, IDisposable
{
    private NpgsqlConnection? _connection;

    private readonly List<NpgsqlBatchCommand> _pending = [];
    private bool _inUnit;
    private bool _begun;

    /// <summary>Whether a unit of work is running: its statements must go through this scope's connection.</summary>
    public bool InUnitOfWork => _inUnit;

    /// <summary>A call made inside a running unit of work joins it.</summary>
    public async Task<T> InTransactionAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (_inUnit)
        {
            return await work(cancellationToken);
        }

        _inUnit = true;
        try
        {
            var result = await work(cancellationToken);
            if (_begun || _pending.Count > 0)
            {
                await RunBatchAsync(ending: true, last: null, cancellationToken);
            }

            return result;
        }
        catch (Exception exception) when (_begun || OneUnfinishedRequestPerChat.IsViolatedBy(exception))
        {
            if (_begun)
            {
                await RollBackAsync();
            }

            if (OneUnfinishedRequestPerChat.IsViolatedBy(exception))
            {
                throw OneUnfinishedRequestPerChat.Conflict();
            }

            throw;
        }
        finally
        {
            _pending.Clear();
            _inUnit = false;
            _begun = false;
        }
    }

    /// <summary>
    /// A write whose row count does not matter: inside a unit of work it is sent with the next statement of this
    /// scope or at the end (an error in it then surfaces there, and the unit is rolled back as a whole); outside one
    /// it runs at once. Parameters are the properties of <paramref name="parameters"/> (plain values).
    /// </summary>
    public async Task ExecuteLaterAsync(string sql, object parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!_inUnit)
        {
            await ExecuteAsync(sql, parameters, cancellationToken);
            return;
        }

        _pending.Add(BatchCommand(sql, parameters));
    }

    /// <summary>
    /// Runs at once and returns the row count. Inside a unit of work this begins the transaction (if it has not
    /// begun), in one round trip with the writes that wait.
    /// </summary>
    public async Task<int> ExecuteAsync(string sql, object? parameters, CancellationToken cancellationToken)
    {
        if (_inUnit)
        {
            return await RunBatchAsync(ending: false, BatchCommand(sql, parameters), cancellationToken);
        }

        var connection = await GetConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(Command(sql, parameters, cancellationToken));
    }

    /// <summary>One statement after the other: inside a unit of work a batch command must hold a single statement.</summary>
    public async Task ExecuteInOrderAsync(IReadOnlyList<string> statements, object parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(statements);
        foreach (var statement in statements)
        {
            await ExecuteAsync(statement, parameters, cancellationToken);
        }
    }

    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await ReadyForStatementAsync(cancellationToken);
        var rows = await connection.QueryAsync<T>(Command(sql, parameters, cancellationToken));
        return rows.AsList();
    }

    /// <summary>
    /// Rows that join three kinds of record, each read from its own run of columns: Dapper's multi-mapping, the runs
    /// beginning at the columns named in <paramref name="splitOn"/> (comma-separated, in order). A run whose first
    /// column is null is read as null (an outer join that found nothing).
    /// </summary>
    public async Task<IReadOnlyList<TResult>> QueryAsync<T1, T2, T3, TResult>(string sql, object? parameters,
        Func<T1, T2, T3, TResult> map, string splitOn, CancellationToken cancellationToken)
    {
        var connection = await ReadyForStatementAsync(cancellationToken);
        var rows = await connection.QueryAsync(Command(sql, parameters, cancellationToken), map, splitOn);
        return rows.AsList();
    }

    public async Task<T?> QuerySingleOrDefaultAsync<T>(
        string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await ReadyForStatementAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<T>(Command(sql, parameters, cancellationToken));
    }

    public async Task<T> ExecuteScalarAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await ReadyForStatementAsync(cancellationToken);
        return (await connection.ExecuteScalarAsync<T>(Command(sql, parameters, cancellationToken)))!;
    }

    /// <summary>A write that returns one value: inside a unit of work it runs in the unit's transaction, which begins
    /// before it (it otherwise begins lazily, with the first statement that returns nothing).</summary>
    public Task<T> WriteScalarAsync<T>(string sql, object? parameters, CancellationToken cancellationToken) =>
        ExecuteScalarLockingAsync<T>(sql, parameters, cancellationToken);

    public async Task<T> ExecuteScalarLockingAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        if (_inUnit && !_begun)
        {
            await RunBatchAsync(ending: false, last: null, cancellationToken);
        }

        return await ExecuteScalarAsync<T>(sql, parameters, cancellationToken);
    }

    /// <summary>
    /// A command on this scope's connection (for Npgsql-only features). Inside a unit of work the transaction has
    /// begun by then, since what the command does is not known here.
    /// </summary>
    public async Task<NpgsqlCommand> CreateCommandAsync(string sql, CancellationToken cancellationToken)
    {
        if (_inUnit && !_begun)
        {
            await RunBatchAsync(ending: false, last: null, cancellationToken);
        }

        var connection = await ReadyForStatementAsync(cancellationToken);
        return new NpgsqlCommand(sql, connection);
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

    private static CommandDefinition Command(string sql, object? parameters, CancellationToken cancellationToken) =>
        new(sql, WithUtcInstants(sql, parameters), cancellationToken: cancellationToken);

    // Npgsql writes a DateTimeOffset to timestamptz only at offset zero, and Dapper binds DateTimeOffset itself (its type
    // handler is not asked), so parameters holding instants are rebound here at UTC; the others go to Dapper as they are.
    private static object? WithUtcInstants(string sql, object? parameters)
    {
        if (parameters is null || !InstantProperties.GetOrAdd(parameters.GetType(), HasInstant))
        {
            return parameters;
        }

        var bound = new DynamicParameters();
        foreach (var reader in ParameterReaders.MentionedIn(sql, parameters.GetType()))
        {
            var value = reader.Read(parameters);
            var parameter = Parameter(reader.Property, value);
            bound.Add(reader.Name, parameter.Value, value is null ? parameter.DbType : null);
        }

        return bound;
    }

    private static readonly ConcurrentDictionary<Type, bool> InstantProperties = new();

    private static bool HasInstant(Type type) =>
        ParameterReaders.Of(type).Any(reader =>
            (Nullable.GetUnderlyingType(reader.Property.PropertyType) ?? reader.Property.PropertyType) == typeof(DateTimeOffset));

    private async ValueTask<NpgsqlConnection> GetConnectionAsync(CancellationToken cancellationToken) =>
        _connection ??= await dataSource.OpenConnectionAsync(cancellationToken);

    // A statement run through Dapper: writes still waiting go first (and begin the transaction), so it sees them.
    private async ValueTask<NpgsqlConnection> ReadyForStatementAsync(CancellationToken cancellationToken)
    {
        if (_pending.Count > 0)
        {
            await RunBatchAsync(ending: false, last: null, cancellationToken);
        }

        return await GetConnectionAsync(cancellationToken);
    }

    /// <summary>
    /// One round trip: <c>BEGIN</c> when the transaction has not begun and goes on after this batch, the writes that
    /// wait, then <paramref name="last"/> (whose row count is returned). At the end of the unit
    /// (<paramref name="ending"/>) a transaction that began gets its <c>COMMIT</c> here; one that never began is the
    /// waiting writes alone, which PostgreSQL runs as one implicit transaction.
    /// </summary>
    private async Task<int> RunBatchAsync(bool ending, NpgsqlBatchCommand? last, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        if (!_begun && !ending)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
            _begun = true;
        }

        foreach (var command in _pending)
        {
            batch.BatchCommands.Add(command);
        }

        _pending.Clear();
        if (last is not null)
        {
            batch.BatchCommands.Add(last);
        }

        var commit = ending && _begun;
        if (commit)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
        }

        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }

        if (commit)
        {
            _begun = false;
        }

        return last is null ? 0 : (int)Math.Min(last.RecordsAffected, int.MaxValue);
    }

    // After a failure the connection may be broken or cancelled; what cannot be rolled back here is rolled back by the
    // server when the connection closes, or by Npgsql when it returns to the pool.
    private async Task RollBackAsync()
    {
        _begun = false;
        if (_connection is not { State: ConnectionState.Open } connection)
        {
            return;
        }

        try
        {
            await using var rollback = new NpgsqlCommand("ROLLBACK", connection);
            await rollback.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (NpgsqlException)
        {
            // The connection is broken: nothing was committed, and the server ends the transaction with it.
        }
    }

    private static NpgsqlBatchCommand BatchCommand(string sql, object? parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        if (parameters is null)
        {
            return command;
        }

        foreach (var reader in ParameterReaders.Of(parameters.GetType()))
        {
            command.Parameters.Add(Parameter(reader.Property, reader.Read(parameters)));
        }

        return command;
    }

    // A null gets the type of its property, as Dapper would give it, so PostgreSQL need not guess.
    private static NpgsqlParameter Parameter(PropertyInfo property, object? value)
    {
        var parameter = new NpgsqlParameter(property.Name, value is null ? DBNull.Value : SqlValueHandlers.ForPostgres(value));
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
