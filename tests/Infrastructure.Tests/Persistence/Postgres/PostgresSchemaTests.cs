using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Persistence.Postgres;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Postgres;

/// <summary>What migration 0007 (cheaper chat-message writes) keeps guaranteeing, and that it applies to a live database.</summary>
[TestFixture]
public sealed class PostgresSchemaTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [TestCase("chat_sessions", "status")]
    [TestCase("messages", "role")]
    [TestCase("messages", "source")]
    [TestCase("relay_requests", "status")]
    [TestCase("relay_requests", "timeout_reason")]
    public async Task AValueOutsideTheEnum_IsRefused_WhenSentAsText(string table, string column)
    {
        await using var db = await PostgresTestDatabase.CreateAsync();
        var ids = await AddChatWithRequestAsync(db);
        var id = table switch
        {
            "chat_sessions" => ids.Session,
            "messages" => ids.Message,
            _ => ids.Request,
        };

        var ex = Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(db,
            $"UPDATE {table} SET {column} = @Value WHERE id = @Id", ("Value", "bogus"), ("Id", id)));

        Assert.That(ex!.SqlState, Is.EqualTo(PostgresErrorCodes.CheckViolation), ex.Message);
    }

    [Test]
    public async Task AMessageWithAnUnknownRole_IsRefused_OnInsert()
    {
        await using var db = await PostgresTestDatabase.CreateAsync();
        var ids = await AddChatWithRequestAsync(db);

        var ex = Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(db, """
            INSERT INTO messages (id, session_id, role, content, source, created_at)
            VALUES (gen_random_uuid(), @Session, @Role, 'hi', 'user', now())
            """, ("Session", ids.Session), ("Role", "robot")));

        Assert.That(ex!.SqlState, Is.EqualTo(PostgresErrorCodes.CheckViolation), ex.Message);
    }

    [Test]
    public async Task NoTimeoutReason_IsAccepted()
    {
        await using var db = await PostgresTestDatabase.CreateAsync();
        var ids = await AddChatWithRequestAsync(db);

        var updated = await ExecuteAsync(db, "UPDATE relay_requests SET timeout_reason = @Reason WHERE id = @Id",
            ("Reason", DBNull.Value), ("Id", ids.Request));

        Assert.That(updated, Is.EqualTo(1));
    }

    [Test]
    public async Task MessagesPrimaryKey_IsTheId()
    {
        await using var db = await PostgresTestDatabase.CreateAsync();

        Assert.That(await db.ScalarAsync<string>("""
            SELECT string_agg(a.attname, ',')
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = 'messages'::regclass AND i.indisprimary
            """), Is.EqualTo("id"));
    }

    [Test]
    public async Task Migration0007_OnADatabaseWithRowsFromEarlierVersions_KeepsThemReadable_AndRunsOnce()
    {
        await using var db = await PostgresTestDatabase.CreateAsync(initialize: false);
        await ApplyUpToAsync(db, 6);
        var chatId = ChatId.New();
        var requestId = RelayRequestId.New();
        await ExecuteAsync(db, """
            INSERT INTO users (id, username, password_hash, role, status, created_at)
            VALUES (@User, 'early', 'hash', 'user', 'active', now());
            INSERT INTO chat_sessions (id, owner_id, title, status, created_at, updated_at)
            VALUES (@Session, @User, 'Before 0007', 'active', now(), now());
            INSERT INTO messages (id, session_id, role, content, source, created_at)
            VALUES (@Question, @Session, 'user', 'asked before', 'user', now());
            INSERT INTO relay_requests (id, session_id, user_id, user_message_id, status, attempts, last_seq, created_at)
            VALUES (@Request, @Session, @User, @Question, 'pending', 0, 0, now());
            """, ("User", Guid.NewGuid()), ("Session", chatId.Value), ("Question", Guid.NewGuid()),
            ("Request", requestId.Value));

        await db.Services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(None);
        await db.StartHost().GetRequiredService<IDatabaseInitializer>().InitializeAsync(None);

        Assert.That(await db.ScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations"),
            Is.EqualTo(PostgresMigrator.Migrations.Count), "each migration recorded once");
        await using var scope = db.Scope();
        var state = await scope.ServiceProvider.GetRequiredService<IChatRepository>()
            .GetWithAnswerStateAsync(chatId, None);
        Assert.That(state!.IsAnswering, Is.True, "the request queued before 0007 is found by its chat");
        var requests = scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>();
        var unfinished = await requests.GetUnfinishedForSessionAsync(chatId, None);
        Assert.That(unfinished!.Id, Is.EqualTo(requestId));
        var claimed = await requests.ClaimPendingAsync(10, 10, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(1), "test:1:run", None);
        Assert.That(claimed.Select(c => c.Request.Id), Is.EqualTo(new[] { requestId }));
        Assert.That(claimed.Single().History.Select(t => t.Content), Is.EqualTo(new[] { "asked before" }));
        var question = await scope.ServiceProvider.GetRequiredService<IMessageRepository>()
            .GetAsync(unfinished.UserMessageId, None);
        Assert.That(question!.Content, Is.EqualTo("asked before"));
    }

    /// <summary>A user, a chat, its question and a pending request, stored by the repositories.</summary>
    private static async Task<(Guid Session, Guid Message, Guid Request)> AddChatWithRequestAsync(PostgresTestDatabase db)
    {
        await using var scope = db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chat = await AddSessionAsync(scope.ServiceProvider, owner);
        RelayRequest request = await AddRequestAsync(scope.ServiceProvider, chat, owner, At(1));
        return (chat.Id.Value, request.UserMessageId.Value, request.Id.Value);
    }

    /// <summary>The migrations up to <paramref name="version"/>, recorded as the migrator records them.</summary>
    internal static async Task ApplyUpToAsync(PostgresTestDatabase db, int version)
    {
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await Run(connection, """
            CREATE TABLE schema_migrations (
                version    integer     NOT NULL PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL
            );
            """);
        foreach (var migration in PostgresMigrator.Migrations.Where(m => m.Version <= version))
        {
            await Run(connection, migration.Sql);
            await Run(connection,
                $"INSERT INTO schema_migrations VALUES ({migration.Version}, '{migration.Name}', now())");
        }

        await transaction.CommitAsync();

        static async Task Run(NpgsqlConnection connection, string sql)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }

    private static async Task<int> ExecuteAsync(
        PostgresTestDatabase db, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(value is string text
                ? new NpgsqlParameter(name, NpgsqlTypes.NpgsqlDbType.Text) { Value = text }
                : new NpgsqlParameter(name, value));
        }

        return await command.ExecuteNonQueryAsync();
    }
}
