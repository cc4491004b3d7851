namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// What the repositories shared by both databases need of a DI scope's database session. Values go in and come out as
/// the domain has them (Guid, DateTimeOffset); each database converts them where they cross (<see cref="SqlValueHandlers"/>).
/// </summary>
internal interface IDatabaseSession
{
    /// <summary>Runs at once and returns the number of rows changed.</summary>
    Task<int> ExecuteAsync(string sql, object? parameters, CancellationToken cancellationToken);

    /// <summary>
    /// A write whose row count nobody checks: PostgreSQL sends it inside a unit of work with the next statement (one
    /// round trip); SQLite runs it at once.
    /// </summary>
    Task ExecuteLaterAsync(string sql, object parameters, CancellationToken cancellationToken);

    /// <summary>
    /// Statements that share their parameters, run in order: SQLite runs them as one command in one write turn;
    /// PostgreSQL one after the other, since inside a unit of work a batch command must hold a single statement.
    /// </summary>
    Task ExecuteInOrderAsync(IReadOnlyList<string> statements, object parameters, CancellationToken cancellationToken);

    Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? parameters, CancellationToken cancellationToken);

    Task<T?> QuerySingleOrDefaultAsync<T>(string sql, object? parameters, CancellationToken cancellationToken);

    Task<T> ExecuteScalarAsync<T>(string sql, object? parameters, CancellationToken cancellationToken);

    /// <summary>A write that returns one value (<c>INSERT … RETURNING</c>): it runs as a write, at once (inside a unit
    /// of work, in its transaction).</summary>
    Task<T> WriteScalarAsync<T>(string sql, object? parameters, CancellationToken cancellationToken);

    /// <summary>
    /// A read that locks what it reads (<see cref="SqlDialect.ForUpdate"/>) for the rest of the unit of work: inside
    /// one, PostgreSQL's transaction begins before it (it otherwise begins lazily, with the first write); SQLite's
    /// holds the database already.
    /// </summary>
    Task<T> ExecuteScalarLockingAsync<T>(string sql, object? parameters, CancellationToken cancellationToken);
}
