using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Users;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>
/// API keys looked up by prefix (once per API request) through the user cache, on a SQLite file. A change written
/// straight into the table, past the repositories, is what shows a lookup was answered from the cache; a change through
/// the repositories must be seen by the very next lookup.
/// </summary>
public sealed class ApiKeyReadCacheTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private SqliteTestDatabase _db = null!;
    private ServiceProvider _instance = null!;
    private User _owner = null!;

    [SetUp]
    public async Task SetUp()
    {
        _db = await SqliteTestDatabase.CreateAsync();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cache:Users:Lifetime"] = "00:00:30",
        }).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddSqlitePersistence(_db.ConnectionString);
        services.AddUserReadCache(configuration);
        _instance = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        await using var scope = _db.Scope();
        _owner = await PersistenceTestData.AddUserAsync(scope.ServiceProvider, "alice");
    }

    [TearDown]
    public async Task TearDown()
    {
        await _instance.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Test]
    public async Task AKeyLookedUpAgain_IsAnsweredFromTheCache()
    {
        var (key, _) = await IssueAsync("first");
        Assert.That((await LookUpAsync(key.Prefix))!.Name, Is.EqualTo("first"));

        await WriteStraightIntoTheTableAsync($"UPDATE api_keys SET name = 'unseen' WHERE id = '{key.Id.Value}'");

        Assert.That((await LookUpAsync(key.Prefix))!.Name, Is.EqualTo("first"), "answered from the cache");
        Assert.That(_instance.GetRequiredService<UserReadCache>().KeyCount, Is.EqualTo(1));
    }

    [Test]
    public async Task ARevocation_RefusesTheKeysVeryNextRequest()
    {
        var (key, secret) = await IssueAsync("script");
        Assert.That(await AuthenticateAsync(secret), Is.Not.Null);

        await using (var scope = _instance.CreateAsyncScope())
        {
            var current = new Mock<ICurrentUser>();
            current.Setup(c => c.Id).Returns(_owner.Id);
            var access = new UserAccess(current.Object, scope.ServiceProvider.GetRequiredService<IUserRepository>(),
                scope.ServiceProvider.GetRequiredService<IChatRepository>());
            await new RevokeApiKeyHandler(access, scope.ServiceProvider.GetRequiredService<IApiKeyRepository>(),
                new FixedClock(PersistenceTestData.T0)).Handle(new RevokeApiKey(key.Id.Value), None);
        }

        Assert.That(await AuthenticateAsync(secret), Is.Null, "revoked: refused at once, not when the copy expires");
    }

    [Test]
    public async Task RevokingEveryKeyInATransaction_IsSeenOnceItCommits_EvenByALookupThatRacedIt()
    {
        var (key, _) = await IssueAsync("ci");
        await LookUpAsync(key.Prefix);

        await using (var scope = _instance.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
            {
                await scope.ServiceProvider.GetRequiredService<IApiKeyRepository>()
                    .RevokeAllAsync(_owner.Id, PersistenceTestData.T0, ct);

                // Before the commit another request reads the key again: the old, still committed row.
                var meanwhile = await LookUpAsync(key.Prefix);
                Assert.That(meanwhile!.IsRevoked, Is.False, "not committed yet");
                Assert.That(_instance.GetRequiredService<UserReadCache>().KeyCount, Is.EqualTo(1), "and kept for now");
                return 0;
            }, None);
        }

        Assert.That((await LookUpAsync(key.Prefix))!.IsRevoked, Is.True, "the commit dropped the copy read before it");
    }

    [Test]
    public async Task AWriteOfTheOwner_DropsTheirKeys()
    {
        var (key, _) = await IssueAsync("first");
        await LookUpAsync(key.Prefix);
        await WriteStraightIntoTheTableAsync($"UPDATE api_keys SET name = 'renamed' WHERE id = '{key.Id.Value}'");

        await using (var scope = _instance.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<IUserRepository>();
            var owner = await users.GetAsync(_owner.Id, None);
            owner!.Ban();
            await users.UpdateAsync(owner, None);
        }

        Assert.That((await LookUpAsync(key.Prefix))!.Name, Is.EqualTo("renamed"), "read again after the ban");
    }

    [Test]
    public async Task AUseRecorded_IsReadBackByTheNextLookup_SoTheNextRequestDoesNotWriteAgain()
    {
        var (key, _) = await IssueAsync("first");
        Assert.That((await LookUpAsync(key.Prefix))!.LastUsedAt, Is.Null);

        await using (var scope = _instance.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IApiKeyRepository>()
                .MarkUsedAsync(key.Id, PersistenceTestData.T0, None);
        }

        Assert.That((await LookUpAsync(key.Prefix))!.LastUsedAt, Is.EqualTo(PersistenceTestData.T0));
    }

    [Test]
    public async Task AnUnknownPrefix_IsNotCached_SoAKeyIssuedNextWorksAtOnce()
    {
        var (secret, prefix) = ApiKeyFormat.Generate();
        Assert.That(await LookUpAsync(prefix), Is.Null);

        var issued = ApiKey.Issue(_owner, "new", prefix, ApiKeyFormat.Hash(secret), PersistenceTestData.T0);
        await using (var scope = _instance.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IApiKeyRepository>().AddAsync(issued, None);
        }

        Assert.That(await LookUpAsync(prefix), Is.Not.Null);
    }

    [Test]
    public async Task EachHit_IsACopy_SoRevokingItInMemoryChangesNoOtherRequestsKey()
    {
        var (key, _) = await IssueAsync("first");
        var first = await LookUpAsync(key.Prefix);

        first!.Revoke(PersistenceTestData.T0);

        Assert.That((await LookUpAsync(key.Prefix))!.IsRevoked, Is.False);
    }

    private async Task<(ApiKey Key, string Secret)> IssueAsync(string name)
    {
        var (secret, prefix) = ApiKeyFormat.Generate();
        var key = ApiKey.Issue(_owner, name, prefix, ApiKeyFormat.Hash(secret), PersistenceTestData.T0);
        await using var scope = _instance.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<IApiKeyRepository>().AddAsync(key, None);
        return (key, secret);
    }

    private async Task<ApiKey?> LookUpAsync(string prefix)
    {
        await using var scope = _instance.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IApiKeyRepository>().GetByPrefixAsync(prefix, None);
    }

    private async Task<AuthenticatedApiKey?> AuthenticateAsync(string secret)
    {
        await using var scope = _instance.CreateAsyncScope();
        return await new AuthenticateApiKeyHandler(scope.ServiceProvider.GetRequiredService<IApiKeyRepository>(),
                scope.ServiceProvider.GetRequiredService<IUserRepository>(), new FixedClock(PersistenceTestData.T0),
                new RefusedApiKeys())
            .Handle(new AuthenticateApiKey(secret), None);
    }

    private async Task WriteStraightIntoTheTableAsync(string sql) => Assert.That(await _db.ExecuteAsync(sql), Is.EqualTo(1));

    private sealed class FixedClock(DateTimeOffset now) : IClock
    {
        public DateTimeOffset UtcNow => now;
    }
}
