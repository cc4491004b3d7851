using Dapper;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Persistence.Sql;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Postgres;

/// <summary>
/// A usage figure written while the account it names is being deleted leaves no row naming the deleted user (seen in
/// CI: an answer's usage, recorded just after the answer, reached PostgreSQL while the account's deletion ran, read the
/// user before the deletion committed, and wrote its row after the deletion had deleted the usage).
/// </summary>
[TestFixture]
public sealed class PostgresUsageErasureTests
{
    [Test]
    public async Task AFigureWrittenWhileTheAccountIsBeingDeleted_LeavesNoRowNamingTheUser()
    {
        await using var db = await PostgresTestDatabase.CreateAsync();
        Guid userId;
        await using (var scope = db.Scope())
        {
            userId = (await AddUserAsync(scope.ServiceProvider)).Id.Value;
        }

        // The account's deletion, statement by statement in its open transaction, with a figure written after each.
        await using var deleting = new NpgsqlConnection(db.ConnectionString);
        await deleting.OpenAsync();
        await using var transaction = await deleting.BeginTransactionAsync();
        var figures = new List<Task>();
        var scopes = new List<AsyncServiceScope>();
        foreach (var statement in AccountErasure.Statements)
        {
            await deleting.ExecuteAsync(statement, AccountErasure.Parameters(new UserId(userId), DateTimeOffset.UtcNow), transaction);
            var scope = db.Scope();
            scopes.Add(scope);
            figures.Add(scope.ServiceProvider.GetRequiredService<IUsageRecorder>().RecordAsync(
                new UsageFigure(userId, DateTimeOffset.UtcNow, UsageKinds.Chat, 0, 12, 34), CancellationToken.None));
            // Time to write its row, were it not waiting for the deletion.
            await Task.WhenAny(figures[^1], Task.Delay(TimeSpan.FromMilliseconds(200)));
        }

        await transaction.CommitAsync();
        await Task.WhenAll(figures);
        foreach (var scope in scopes)
        {
            await scope.DisposeAsync();
        }

        Assert.That(await db.ScalarAsync<long>($"SELECT COUNT(*) FROM user_usage WHERE user_id = '{userId}'"), Is.Zero,
            "no usage row names the deleted user");
    }
}
