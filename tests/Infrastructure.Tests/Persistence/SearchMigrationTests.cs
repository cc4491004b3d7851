using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Search;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using MeatLizard.Infrastructure.Tests.Persistence.Postgres;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>Migration 0029 indexes the chats and messages stored before it, on both databases.</summary>
[TestFixture]
public sealed class SearchMigrationTests
{
    private const int Search = 29;

    private static readonly Guid User = Guid.NewGuid();
    private static readonly Guid Chat = Guid.NewGuid();
    private static readonly Guid Message = Guid.NewGuid();

    [Test]
    public async Task Sqlite_RowsStoredBeforeTheMigration_AreFound()
    {
        await using var db = await SqliteTestDatabase.CreateAsync(initialize: false);
        await MigrationSteps.SqliteBeforeAsync(db, Search, $"""
                INSERT INTO users (id, username, password_hash, role, status, created_at) VALUES ('{User}', 'early', 'x', 'user', 'active', 0);
                INSERT INTO chat_sessions (id, owner_id, title, status, created_at, updated_at) VALUES ('{Chat}', '{User}', 'Old basilisk chat', 'closed', 0, 0);
                INSERT INTO messages (id, session_id, role, content, source, created_at) VALUES ('{Message}', '{Chat}', 'user', 'an old axolotl question', 'user', 1);
                """);

        await db.StartHost().GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);

        await AssertFoundAsync(db);
    }

    [Test]
    public async Task Postgres_RowsStoredBeforeTheMigration_AreFound()
    {
        await using var db = await PostgresTestDatabase.CreateAsync(initialize: false);
        await PostgresSchemaTests.ApplyUpToAsync(db, Search - 1);
        await using (var connection = new NpgsqlConnection(db.ConnectionString))
        {
            await connection.OpenAsync();
            await MigrationSteps.ExecuteAsync(connection, $"""
                INSERT INTO users (id, username, password_hash, role, status, created_at) VALUES ('{User}', 'early', 'x', 'user', 'active', now());
                INSERT INTO chat_sessions (id, owner_id, title, status, created_at, updated_at) VALUES ('{Chat}', '{User}', 'Old basilisk chat', 'closed', now(), now());
                INSERT INTO messages (id, session_id, role, content, source, created_at) VALUES ('{Message}', '{Chat}', 'user', 'an old axolotl question', 'user', now());
                """);
        }

        await db.Services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);

        await AssertFoundAsync(db);
    }

    private static async Task AssertFoundAsync(ITestDatabase db)
    {
        await using var scope = db.Scope();
        var search = scope.ServiceProvider.GetRequiredService<IChatSearch>();
        var byContent = await search.SearchAsync(new UserId(User), SearchWords.From("axolotl"), 0, 10, CancellationToken.None);
        var byTitle = await search.SearchAsync(new UserId(User), SearchWords.From("basilisk"), 0, 10, CancellationToken.None);

        Assert.That(byContent.Select(h => (h.ChatId, h.MessageId)), Is.EqualTo(new[] { (Chat, (Guid?)Message) }));
        Assert.That(byTitle.Select(h => (h.ChatId, h.MessageId)), Is.EqualTo(new[] { (Chat, (Guid?)null) }));
    }
}
