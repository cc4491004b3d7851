using System.Data;
using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;

namespace MeatLizard.Infrastructure.Persistence.Sql;

/// <summary>
/// One spelling of ids and instants for both databases, so rows and parameters hold <see cref="Guid"/> and
/// <see cref="DateTimeOffset"/> as the domain does. SQLite stores a Guid as lower-case TEXT and an instant as INTEGER
/// unix milliseconds (UTC); PostgreSQL as uuid and timestamptz, written as UTC (Npgsql accepts only offset zero) and
/// read as a UTC <see cref="DateTime"/>. Dapper's type handlers are process-wide, so each one looks at the value (or the
/// parameter) it is given to know which database it serves.
/// </summary>
internal static class SqlValueHandlers
{
    private static int _registered;

    /// <summary>Registers the handlers once per process; both databases' registrations call it.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1)
        {
            return;
        }

        SqlMapper.AddTypeHandler(new GuidHandler());
        SqlMapper.AddTypeHandler(new InstantHandler());
    }

    /// <summary>The value SQLite stores for a parameter: ids as text, instants as milliseconds; others as they are.</summary>
    public static object ForSqlite(object value) => value switch
    {
        Guid id => SqlValues.Text(id),
        DateTimeOffset instant => SqlValues.Millis(instant),
        _ => value,
    };

    /// <summary>The value Npgsql is given for a parameter: instants at offset zero; others as they are.</summary>
    public static object ForPostgres(object value) => value is DateTimeOffset instant ? instant.ToUniversalTime() : value;

    private sealed class GuidHandler : SqlMapper.TypeHandler<Guid>
    {
        public override Guid Parse(object value) => value switch
        {
            Guid id => id,
            string text => SqlValues.ToGuid(text),
            _ => throw new DataException($"A {value.GetType().Name} cannot be read as an id."),
        };

        public override void SetValue(IDbDataParameter parameter, Guid value)
        {
            if (parameter is SqliteParameter)
            {
                parameter.DbType = DbType.String;
                parameter.Value = SqlValues.Text(value);
            }
            else
            {
                parameter.DbType = DbType.Guid;
                parameter.Value = value;
            }
        }
    }

    private sealed class InstantHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override DateTimeOffset Parse(object value) => value switch
        {
            long millis => SqlValues.ToInstant(millis),
            DateTime utc => new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc), TimeSpan.Zero),
            DateTimeOffset instant => instant,
            _ => SqlValues.ToInstant(Convert.ToInt64(value, CultureInfo.InvariantCulture)),
        };

        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value)
        {
            if (parameter is SqliteParameter)
            {
                parameter.DbType = DbType.Int64;
                parameter.Value = SqlValues.Millis(value);
            }
            else
            {
                parameter.DbType = DbType.DateTimeOffset;
                parameter.Value = value.ToUniversalTime();
            }
        }
    }
}
