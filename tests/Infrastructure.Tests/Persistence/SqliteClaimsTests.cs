using Dapper;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>
/// On SQLite a dispatcher's claim is held in the process, not written (issue 35: the claim's UPDATE and its commit were
/// about a tenth of a /v1 completion's CPU). What the claim promises is the queue contract's, on both databases.
/// </summary>
[TestFixture]
public sealed class SqliteClaimsTests
{
    [Test]
    public async Task AClaim_WritesNothing_AndStillNoOtherHostOfTheDatabaseGetsTheRequest()
    {
        await using var db = await SqliteTestDatabase.CreateAsync();
        await using var setUp = db.Scope();
        var owner = await AddUserAsync(setUp.ServiceProvider);
        var chat = await AddSessionAsync(setUp.ServiceProvider, owner);
        var request = await AddRequestAsync(setUp.ServiceProvider, chat, owner, T0);
        var other = db.StartHost();
        await using var connection = new SqliteConnection(db.ConnectionString);
        await connection.OpenAsync();
        var versionBefore = await connection.ExecuteScalarAsync<long>("PRAGMA data_version");

        var claimed = await ClaimAsync(db.Services, "first-host:1:run");

        Assert.Multiple(async () =>
        {
            Assert.That(claimed, Is.EqualTo(new[] { request.Id.Value }));
            Assert.That(await connection.ExecuteScalarAsync<long>("PRAGMA data_version"), Is.EqualTo(versionBefore),
                "no other connection committed anything: the claim wrote nothing");
            Assert.That(await connection.ExecuteScalarAsync<string?>("SELECT claimed_by FROM relay_requests"), Is.Null);
            Assert.That(await ClaimAsync(other, "second-host:2:run"), Is.Empty, "another host of the same database skips it");
        });

        await using (var scope = db.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>().ReleaseClaimsAsync([request.Id], CancellationToken.None);
        }

        Assert.That(await ClaimAsync(other, "second-host:2:run"), Is.EqualTo(new[] { request.Id.Value }), "given back: claimable");
    }

    private static async Task<IReadOnlyList<Guid>> ClaimAsync(IServiceProvider host, string claimer)
    {
        await using var scope = host.CreateAsyncScope();
        var claims = await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
            .ClaimPendingAsync(5, 10, T0.AddSeconds(10), T0.AddSeconds(40), claimer, CancellationToken.None);
        return [.. claims.Select(c => c.Request.Id.Value)];
    }
}
