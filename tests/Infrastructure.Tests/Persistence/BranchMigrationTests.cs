using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using MeatLizard.Infrastructure.Tests.Persistence.Postgres;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>Migration 0031 turns every chat stored before it into one path, on both databases.</summary>
[TestFixture]
public sealed class BranchMigrationTests
{
    private const int Branches = 31;

    private static readonly Guid User = Guid.NewGuid();
    private static readonly Guid Chat = Guid.NewGuid();
    private static readonly Guid Other = Guid.NewGuid();
    private static readonly Guid[] Messages = [Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid()];
    private static readonly Guid OtherMessage = Guid.NewGuid();

    /// <summary>Three messages in one chat, stored interleaved with one of another chat's.</summary>
    private static string Rows(string at) => $"""
        INSERT INTO users (id, username, password_hash, role, status, created_at) VALUES ('{User}', 'early', 'x', 'user', 'active', {at});
        INSERT INTO chat_sessions (id, owner_id, title, status, created_at, updated_at) VALUES ('{Chat}', '{User}', 'Old chat', 'active', {at}, {at});
        INSERT INTO chat_sessions (id, owner_id, title, status, created_at, updated_at) VALUES ('{Other}', '{User}', 'Other chat', 'active', {at}, {at});
        INSERT INTO messages (id, session_id, role, content, source, created_at) VALUES ('{Messages[0]}', '{Chat}', 'user', 'q1', 'user', {at});
        INSERT INTO messages (id, session_id, role, content, source, created_at) VALUES ('{OtherMessage}', '{Other}', 'user', 'elsewhere', 'user', {at});
        INSERT INTO messages (id, session_id, role, content, source, created_at) VALUES ('{Messages[1]}', '{Chat}', 'assistant', 'a1', 'model', {at});
        INSERT INTO messages (id, session_id, role, content, source, created_at) VALUES ('{Messages[2]}', '{Chat}', 'user', 'q2', 'user', {at});
        """;

    [Test]
    public async Task Sqlite_AChatStoredBeforeTheMigration_IsOnePath()
    {
        await using var db = await SqliteTestDatabase.CreateAsync(initialize: false);
        await MigrationSteps.SqliteBeforeAsync(db, Branches, Rows("0"));

        await db.StartHost().GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);

        await AssertOnePathAsync(db);
    }

    [Test]
    public async Task Postgres_AChatStoredBeforeTheMigration_IsOnePath()
    {
        await using var db = await PostgresTestDatabase.CreateAsync(initialize: false);
        await PostgresSchemaTests.ApplyUpToAsync(db, Branches - 1);
        await using (var connection = new NpgsqlConnection(db.ConnectionString))
        {
            await connection.OpenAsync();
            await MigrationSteps.ExecuteAsync(connection, Rows("now()"));
        }

        await db.Services.GetRequiredService<IDatabaseInitializer>().InitializeAsync(CancellationToken.None);

        await AssertOnePathAsync(db);
    }

    private static async Task AssertOnePathAsync(ITestDatabase db)
    {
        await using var scope = db.Scope();
        var reads = scope.ServiceProvider.GetRequiredService<IChatReadModel>();
        var page = await reads.GetMessagesPageAsync(new ChatId(Chat), null, 10, CancellationToken.None);
        var other = await reads.GetMessagesPageAsync(new ChatId(Other), null, 10, CancellationToken.None);

        Assert.That(page.Select(m => m.Id), Is.EqualTo(Messages));
        Assert.That(page.Select(m => m.ParentId), Is.EqualTo(new Guid?[] { null, Messages[0], Messages[1] }));
        Assert.That(page.Select(m => m.SiblingCount), Has.All.EqualTo(1));
        Assert.That(other.Select(m => (m.Id, m.ParentId)), Is.EqualTo(new[] { (OtherMessage, (Guid?)null) }));
    }
}
