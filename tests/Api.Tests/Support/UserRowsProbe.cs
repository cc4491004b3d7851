using System.Data.Common;
using MeatLizard.Application.Abstractions;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests.Support;

/// <summary>
/// Reads the host's database directly, on either storage, for what an API cannot show: every row that still names a
/// user or one of their chats. The columns are found in the schema, not listed here, so a table added later is
/// searched too.
/// </summary>
public static class UserRowsProbe
{
    /// <summary>Columns that name a user (or an actor as <c>user:ID</c>) or a chat.</summary>
    private static readonly string[] UserColumns = ["user_id", "owner_id", "used_by", "created_by", "actor_id", "updated_by"];

    private static readonly string[] ChatColumns = ["session_id"];

    /// <summary>
    /// Kept on purpose, with why: the audit log records what admins did (this deletion included), the metrics are per
    /// request with no user and no text.
    /// </summary>
    private static readonly HashSet<string> KeptTables = new(StringComparer.Ordinal) { "audit_log", "metrics" };

    /// <summary>"table.column: n" for every column of every table that still holds the user's or their chats' ids.</summary>
    public static async Task<IReadOnlyList<string>> LeftoversAsync(ApiHost host, Guid userId, IReadOnlyCollection<Guid> chatIds)
    {
        await using var connection = Open(host);
        await connection.OpenAsync();
        var found = new List<string>();
        var ids = new[] { userId.ToString("D"), $"user:{userId:D}" };
        foreach (var (table, column) in await ColumnsAsync(connection))
        {
            if (KeptTables.Contains(table))
            {
                continue;
            }

            var values = UserColumns.Contains(column) || (table == "users" && column == "id") ? ids
                : ChatColumns.Contains(column) ? chatIds.Select(c => c.ToString("D")).ToArray()
                : [];
            foreach (var value in values)
            {
                await using var command = connection.CreateCommand();
                command.CommandText = $"SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) = @v";
                var parameter = command.CreateParameter();
                parameter.ParameterName = "v";
                parameter.Value = value;
                command.Parameters.Add(parameter);
                var count = Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
                if (count > 0)
                {
                    found.Add($"{table}.{column}: {count}");
                }
            }
        }

        return found;
    }

    /// <summary>The keys stored under <paramref name="prefix"/> in the host's object store.</summary>
    public static async Task<IReadOnlyList<string>> ObjectsAsync(ApiHost host, string prefix)
    {
        var keys = new List<string>();
        await foreach (var key in host.Services.GetRequiredService<IObjectStore>().ListAsync(prefix, CancellationToken.None))
        {
            keys.Add(key);
        }

        return keys;
    }

    private static DbConnection Open(ApiHost host)
    {
        var configuration = host.Services.GetRequiredService<IConfiguration>();
        return configuration["Storage:Provider"] == "Postgres"
            ? new Npgsql.NpgsqlConnection(configuration.GetConnectionString("Postgres"))
            : new SqliteConnection($"Data Source={Path.Combine(host.DataRoot, "meatlizard.db")}");
    }

    private static async Task<List<(string Table, string Column)>> ColumnsAsync(DbConnection connection)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = connection is SqliteConnection
            ? """
              SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
              WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.sql NOT LIKE 'CREATE VIRTUAL%'
              """
            : "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'";
        var columns = new List<(string, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            columns.Add((reader.GetString(0), reader.GetString(1)));
        }

        return columns;
    }
}
