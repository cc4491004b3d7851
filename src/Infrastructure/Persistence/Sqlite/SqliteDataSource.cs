using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

/// <summary>
/// One SQLite database (singleton): opens connections with the pragmas every connection needs, keeps idle ones open
/// with their prepared statements (<see cref="RentAsync"/>), and holds the process-wide write gate. SQLite admits one
/// writer at a time; queueing writers here, asynchronously, keeps threads free and means a write transaction never
/// waits inside SQLite's busy handler for a writer of this process.
/// <para>
/// Every write of this process goes through one connection, the writer, handed over with the write turn. In WAL mode
/// a connection throws its whole page cache away when another connection committed since its last use; with one
/// writer, the pages writes need stay cached.
/// </para>
/// </summary>
internal sealed class SqliteDataSource : IDisposable
{
    // The log is copied into the database file in the background (SqliteCheckpoints); a commit does it itself only past
    // that backstop, and the log's file is cut back to as much after a copy.
    private static readonly string ConnectionPragmas =
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; " +
        $"PRAGMA wal_autocheckpoint = {SqliteCheckpoints.InlineCheckpointPages}; PRAGMA journal_size_limit = 67108864;";

    // Pragmas belong to the native connection, which the pool keeps open between uses: set them once per handle.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, object> _configured = [];

    private static readonly TimeSpan WriteGateTimeout = TimeSpan.FromSeconds(30);

    // Readers are rented per statement, so a few cover a small host; more are opened when needed and closed when returned.
    private const int MaxIdleConnections = 16;

    private readonly ConcurrentBag<PreparedConnection> _idle = [];
    private volatile bool _disposed;

    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly SemaphoreSlim _walGate = new(1, 1);
    private volatile bool _walEnabled;

    // Used only by the holder of the write turn.
    private PreparedConnection? _writer;

    public SqliteDataSource(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new SqliteConnectionStringBuilder(connectionString) { Pooling = true };
        ConnectionString = builder.ToString();
        DataSource = builder.DataSource;
        InMemory = builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:";
        // Shared by every data source on the same database in this process (a named in-memory one, or a file).
        Claims = builder.DataSource is "" or ":memory:" ? new SqliteClaims()
            : SqliteClaims.Of(builder.Mode == SqliteOpenMode.Memory ? "memory:" + builder.DataSource : Path.GetFullPath(builder.DataSource));
    }

    /// <summary>The dispatchers' claims on the database's pending requests (<see cref="SqliteClaims"/>).</summary>
    public SqliteClaims Claims { get; }

    /// <summary>Whether the database lives in memory only (no file, no write-ahead log).</summary>
    public bool InMemory { get; }

    public string ConnectionString { get; }

    /// <summary>The database file as configured (may be relative, or ":memory:").</summary>
    public string DataSource { get; }

    public async Task<SqliteConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            if (!_walEnabled)
            {
                await EnableWalAsync(connection, cancellationToken);
            }

            if (connection.Handle is { } handle && !_configured.TryGetValue(handle, out _))
            {
                await using var command = connection.CreateCommand();
                command.CommandText = ConnectionPragmas;
                await command.ExecuteNonQueryAsync(cancellationToken);
                _configured.AddOrUpdate(handle, handle);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>An open connection for one scope, with the statements it prepared before; give it back with
    /// <see cref="Return"/>.</summary>
    public async Task<PreparedConnection> RentAsync(CancellationToken cancellationToken) =>
        _idle.TryTake(out var idle) ? idle : new PreparedConnection(await OpenConnectionAsync(cancellationToken));

    public void Return(PreparedConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (_disposed || _idle.Count >= MaxIdleConnections)
        {
            connection.Dispose();
            return;
        }

        _idle.Add(connection);
        if (_disposed && _idle.TryTake(out var late))
        {
            late.Dispose();
        }
    }

    /// <summary>Waits for this process's turn to write; dispose the result to let the next writer in.</summary>
    public async Task<WriteTurn> EnterWriteAsync(CancellationToken cancellationToken)
    {
        if (!await _writeGate.WaitAsync(WriteGateTimeout, cancellationToken))
        {
            throw new TimeoutException(
                $"No SQLite write slot came free within {WriteGateTimeout.TotalSeconds:0} s; a write transaction is stuck.");
        }

        return new WriteTurn(this);
    }

    /// <summary>This process's turn to write if nobody holds or awaits it now; null otherwise.</summary>
    public WriteTurn? TryEnterWrite() => !_disposed && _writeGate.Wait(0) ? new WriteTurn(this) : null;

    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var connection))
        {
            connection.Dispose();
        }

        // A write still running owns the writer; it is closed with the process then.
        if (_writeGate.Wait(WriteGateTimeout))
        {
            _writer?.Dispose();
            _writer = null;
        }

        _writeGate.Dispose();
        _walGate.Dispose();
    }

    // The log is copied into the file beside the writer (SqliteCheckpoints); a commit checkpoints by itself only past
    // SqliteCheckpoints.InlineCheckpointPages, where it also lets the log start over under steady writes.
    private async ValueTask<PreparedConnection> GetWriterAsync(CancellationToken cancellationToken) =>
        _writer ??= new PreparedConnection(await OpenConnectionAsync(cancellationToken));

    private void Leave() => _writeGate.Release();

    // The journal mode is stored in the database file, so it is set once per database, not per connection.
    private async Task EnableWalAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await _walGate.WaitAsync(cancellationToken);
        try
        {
            if (_walEnabled)
            {
                return;
            }

            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode = WAL;";
            await command.ExecuteScalarAsync(cancellationToken);
            _walEnabled = true;
        }
        finally
        {
            _walGate.Release();
        }
    }

    /// <summary>This process's turn to write, and the writer connection that goes with it.</summary>
    public sealed class WriteTurn(SqliteDataSource dataSource) : IDisposable
    {
        private int _released;

        /// <summary>The writer connection: use it only until the turn is disposed.</summary>
        public ValueTask<PreparedConnection> GetConnectionAsync(CancellationToken cancellationToken) =>
            dataSource.GetWriterAsync(cancellationToken);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                dataSource.Leave();
            }
        }
    }
}
