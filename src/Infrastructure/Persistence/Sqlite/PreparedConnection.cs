using System.Data.Common;
using Dapper;
using MeatLizard.Infrastructure.Persistence.Sql;
using Microsoft.Data.Sqlite;

namespace MeatLizard.Infrastructure.Persistence.Sqlite;

/// <summary>
/// An open connection that keeps its statements prepared. Microsoft.Data.Sqlite prepares a command's SQL on every
/// new command, and preparing costs about as much as running the short statements MeatLizard uses; a connection kept
/// open with one command per SQL text prepares each statement once. Used by one DI scope at a time
/// (<see cref="SqliteDataSource.RentAsync"/>). A text of one statement whose values are of the usual kinds runs on its
/// own native statement (<see cref="NativeStatement"/>) when it writes or reads single values; rows go through the
/// command's reader to Dapper's parser.
/// </summary>
internal sealed partial class PreparedConnection(SqliteConnection connection) : IDisposable
{
    // Every statement is a constant in a repository, so the cache stays small; the bound is a guard only.
    private const int MaxStatements = 512;

    private readonly Dictionary<string, Statement> _statements = new(StringComparer.Ordinal);

    public SqliteConnection Connection { get; } = connection;

    /// <summary>Whether a transaction is open on the connection (SQLite is not in autocommit mode).</summary>
    public bool InTransaction => Connection.Handle is { } handle && SQLitePCL.raw.sqlite3_get_autocommit(handle) == 0;

    /// <summary>Runs <paramref name="sql"/> and returns the number of rows it changed.</summary>
    public async Task<int> ExecuteAsync(
        string sql, object? parameters, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        var statement = StatementFor(sql);
        if (transaction is null
            && statement.TryRunNatively(Connection.Handle!, parameters, Connection.DefaultTimeout) is { } changed)
        {
            return changed;
        }

        return await statement.Ready(parameters, transaction).ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<T?> ExecuteScalarAsync<T>(
        string sql, object? parameters, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        var statement = StatementFor(sql);
        var value = transaction is null
            && statement.TryReadNatively(Connection.Handle!, parameters, Connection.DefaultTimeout, 1) is { } values
            ? values.FirstOrDefault()
            : await statement.Ready(parameters, transaction).ExecuteScalarAsync(cancellationToken);
        return value is null or DBNull ? default : (T)Convert.ChangeType(value, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Reads every row, mapped by column name as Dapper maps them.</summary>
    public async Task<List<T>> QueryAsync<T>(
        string sql, object? parameters, SqliteTransaction? transaction, int maxRows, CancellationToken cancellationToken)
    {
        var statement = StatementFor(sql);
        if (transaction is null && Statement.IsSingleValue(typeof(T))
            && statement.TryReadNatively(Connection.Handle!, parameters, Connection.DefaultTimeout, maxRows) is { } values)
        {
            return [.. values.Select(Statement.ValueAs<T>)];
        }

        await using var reader = await statement.Ready(parameters, transaction).ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        if (!await reader.ReadAsync(cancellationToken))
        {
            return rows;
        }

        var parse = statement.ParserFor<T>(reader);
        do
        {
            rows.Add(parse(reader));
        }
        while (rows.Count < maxRows && await reader.ReadAsync(cancellationToken));

        return rows;
    }

    public void Dispose()
    {
        foreach (var statement in _statements.Values)
        {
            statement.Dispose();
        }

        _statements.Clear();
        Connection.Dispose();
    }

    private Statement StatementFor(string sql)
    {
        if (!_statements.TryGetValue(sql, out var statement))
        {
            if (_statements.Count >= MaxStatements)
            {
                foreach (var old in _statements.Values)
                {
                    old.Dispose();
                }

                _statements.Clear();
            }

            var command = Connection.CreateCommand();
            command.CommandText = WithLimitsAsExpressions(sql);
            statement = new Statement(command);
            _statements.Add(sql, statement);
        }

        return statement;
    }

    /// <summary>
    /// <paramref name="sql"/> with each bare parameter of a LIMIT or OFFSET written as an expression (<c>LIMIT +@Max</c>).
    /// SQLite plans a statement with the value bound to a bare LIMIT or OFFSET parameter, so it marks the statement
    /// expired whenever that parameter is bound again, and prepares it again at its next step, every time it runs:
    /// measured, the dispatcher's claim (<c>ORDER BY … LIMIT @Max</c>) and the history read beside it were prepared again
    /// on every run, 13 % of the <c>/v1</c> benchmark's CPU (clients included). An expression is planned without its value,
    /// as a statement without a LIMIT is, and the statement stays prepared.
    /// </summary>
    internal static string WithLimitsAsExpressions(string sql) => BareLimitParameter().Replace(sql, "$1 +$2");

    [System.Text.RegularExpressions.GeneratedRegex(@"\b(LIMIT|OFFSET)\s+([@:$][A-Za-z_][A-Za-z0-9_]*)",
        System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex BareLimitParameter();

    private sealed class Statement(SqliteCommand command) : IDisposable
    {
        private readonly Dictionary<Type, Delegate> _parsers = [];
        private NativeStatement? _native;
        private bool _notNative;

        // The parameters of the last call, kept between calls: a repository passes the same anonymous type every time,
        // so only their values change. Properties the SQL does not mention are not bound at all (binding costs an
        // allocation or two per parameter and call).
        private Type? _parameterType;
        private (Func<object, object?> Read, SqliteParameter Parameter)[] _bindings = [];

        public SqliteCommand Command { get; } = command;

        /// <summary>
        /// Runs the statement as <see cref="SqliteCommand.ExecuteNonQuery"/> would, on its own prepared native statement:
        /// null, having run nothing, for what <see cref="NativeStatement"/> leaves to the command (several statements in
        /// the text, a value of another kind, a parameter without a value: the command runs it, or says what is wrong).
        /// </summary>
        public int? TryRunNatively(SQLitePCL.sqlite3 database, object? parameters, int timeoutSeconds) =>
            Native(database)?.TryRun(parameters, timeoutSeconds);

        /// <summary>
        /// The first column of up to <paramref name="maxRows"/> rows, read on the native statement as
        /// <see cref="TryRunNatively"/> runs it; null, having run nothing, for what it leaves to the command.
        /// </summary>
        public List<object?>? TryReadNatively(SQLitePCL.sqlite3 database, object? parameters, int timeoutSeconds, int maxRows)
        {
            if (Native(database) is not { } native)
            {
                return null;
            }

            var values = new List<object?>();
            return native.TryReadFirstColumn(parameters, timeoutSeconds, maxRows, values) ? values : null;
        }

        // Prepared on first use; a text it cannot take stays with the command.
        private NativeStatement? Native(SQLitePCL.sqlite3 database)
        {
            if (_native is null && !_notNative)
            {
                _native = NativeStatement.TryPrepare(database, Command.CommandText);
                _notNative = _native is null;
            }

            return _native;
        }

        public void Dispose()
        {
            _native?.Dispose();
            Command.Dispose();
        }

        /// <summary>The command, its parameters bound and its transaction set, to run through Microsoft.Data.Sqlite.</summary>
        public SqliteCommand Ready(object? parameters, SqliteTransaction? transaction)
        {
            Bind(parameters);
            Command.Transaction = transaction;
            return Command;
        }

        private void Bind(object? parameters)
        {
            var type = parameters?.GetType();
            if (type != _parameterType)
            {
                Command.Parameters.Clear();
                _bindings = type is null
                    ? []
                    : ParameterReaders.MentionedIn(Command.CommandText, type)
                        .Select(reader => (reader.Read, Command.Parameters.Add(new SqliteParameter("@" + reader.Name, DBNull.Value))))
                        .ToArray();
                _parameterType = type;
            }

            foreach (var (read, parameter) in _bindings)
            {
                parameter.Value = read(parameters!) is { } value ? SqlValueHandlers.ForSqlite(value) : DBNull.Value;
            }
        }

        // The SQL is fixed, so its columns are too: Dapper's row parser is built once per result type.
        public Func<DbDataReader, T> ParserFor<T>(DbDataReader reader)
        {
            if (!_parsers.TryGetValue(typeof(T), out var parser))
            {
                parser = IsSingleValue(typeof(T)) ? new Func<DbDataReader, T>(FirstColumn<T>) : reader.GetRowParser<T>();
                _parsers.Add(typeof(T), parser);
            }

            return (Func<DbDataReader, T>)parser;
        }

        /// <summary>A first column's value (null for SQL's NULL) as the single value of a row of type T.</summary>
        public static T ValueAs<T>(object? value) =>
            value is null
                ? default!
                : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T),
                    System.Globalization.CultureInfo.InvariantCulture);

        public static bool IsSingleValue(Type type)
        {
            var underlying = Nullable.GetUnderlyingType(type) ?? type;
            return underlying == typeof(string) || underlying.IsPrimitive || underlying == typeof(decimal);
        }

        private static T FirstColumn<T>(DbDataReader reader) => ValueAs<T>(reader.IsDBNull(0) ? null : reader.GetValue(0));
    }
}
