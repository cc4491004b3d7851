using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Auth;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Users;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Persistence.Postgres;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Redis;

/// <summary>
/// The user read cache of two instances (each its own DI container and multiplexer, as two API processes) over one
/// database (a SQLite file, or PostgreSQL where transactions of two instances overlap) and one Redis. A change written straight into the table, past the repositories, is what
/// shows an instance is answering from its cache; a change through the repositories must reach both at once.
/// </summary>
[NonParallelizable]
public sealed class RedisUserCacheTests
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private SqliteTestDatabase _db = null!;
    private readonly List<ServiceProvider> _instances = [];

    [SetUp]
    public async Task SetUp() => _db = await SqliteTestDatabase.CreateAsync();

    [TearDown]
    public async Task TearDown()
    {
        foreach (var instance in _instances)
        {
            await instance.DisposeAsync();
        }

        _instances.Clear();
        await _db.DisposeAsync();
    }

    // A race: without the confirmation about one run in twenty let a request through (measured), so run it ten times.
    [Test]
    [Repeat(10)]
    public async Task ABanOnOneInstance_RefusesTheUsersNextRequestOnTheOther_LongBeforeTheLifetimeEnds()
    {
        await using var redis = new RedisTestServer();
        var admin = Instance(redis.Endpoint, redis.KeyPrefix);
        var other = Instance(redis.Endpoint, redis.KeyPrefix);
        var user = await AddUserAsync("mallory");
        await WarmAsync(other, user.Id);
        await WarmAsync(admin, user.Id);

        // Past the repositories: the other instance keeps answering from its copy.
        await WriteStraightIntoTheTableAsync($"UPDATE users SET system_prompt = 'unseen' WHERE id = '{user.Id.Value}'");
        Assert.That((await RequestAsync(other, user.Id)).Preferences.SystemPrompt, Is.Null, "answered from the cache");

        var clock = Stopwatch.StartNew();
        await using (var scope = admin.CreateAsyncScope())
        {
            await new BanUserHandler(scope.ServiceProvider.GetRequiredService<IUserRepository>())
                .Handle(new BanUser(new AdminActor("test:1", "admin", true), "mallory"), None);
        }

        // The command returns once every instance that heard of the ban has dropped its copy.
        Assert.That(() => RequestAsync(other, user.Id), Throws.InstanceOf<BusinessRuleViolationException>(),
            "the other instance refuses the banned user's very next request");
        Assert.That(() => RequestAsync(admin, user.Id), Throws.InstanceOf<BusinessRuleViolationException>(),
            "and so does the instance that banned");
        Assert.That(clock.Elapsed, Is.LessThan(RedisCacheInvalidations.ConfirmationWait),
            "every instance confirmed: the ban did not wait for a missing answer, let alone the 30 s lifetime");
    }

    [Test]
    public async Task ARevocationOnOneInstance_RefusesTheKeyOnTheOther_AtOnce()
    {
        await using var redis = new RedisTestServer();
        var revoking = Instance(redis.Endpoint, redis.KeyPrefix);
        var other = Instance(redis.Endpoint, redis.KeyPrefix);
        var user = await AddUserAsync("grace");
        var (secret, prefix) = ApiKeyFormat.Generate();
        var key = ApiKey.Issue(user, "script", prefix, ApiKeyFormat.Hash(secret), PersistenceTestData.T0);
        await using (var scope = revoking.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IApiKeyRepository>().AddAsync(key, None);
        }

        var cached = await EventuallyAsync(async () =>
        {
            await LookUpKeyAsync(other, prefix);
            return other.GetRequiredService<UserReadCache>().KeyCount == 1;
        });
        Assert.That(cached, Is.True, "the other instance started caching the key");

        await using (var scope = revoking.CreateAsyncScope())
        {
            var keys = scope.ServiceProvider.GetRequiredService<IApiKeyRepository>();
            var loaded = await keys.GetByPrefixAsync(prefix, None);
            loaded!.Revoke(PersistenceTestData.T0);
            await keys.UpdateAsync(loaded, None);
        }

        // The revocation returns once every instance that heard of it has dropped its copy.
        Assert.That((await LookUpKeyAsync(other, prefix))!.IsRevoked, Is.True,
            "the other instance's very next lookup sees the revocation, not its copy");
    }

    private static async Task<ApiKey?> LookUpKeyAsync(ServiceProvider instance, string prefix)
    {
        await using var scope = instance.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IApiKeyRepository>().GetByPrefixAsync(prefix, None);
    }

    [Test]
    public async Task WhileRedisIsDown_EveryRequestReadsTheDatabase_TheFallbackIsCounted_AndCachingResumesWhenItReturns()
    {
        using var server = new OwnRedisServer();
        await server.StartAsync();
        await using var redis = new RedisTestServer(server.Endpoint);
        var instance = Instance(redis.Endpoint, redis.KeyPrefix, "connectTimeout=1000,syncTimeout=1000");
        var user = await AddUserAsync("erin");
        await WarmAsync(instance, user.Id);

        server.Kill();
        var deaf = await EventuallyAsync(() =>
            Task.FromResult(!instance.GetRequiredService<RedisCacheInvalidations>().IsListening));
        Assert.That(deaf, Is.True, "the lost connection was noticed");

        // A ban another process made while Redis was away could not be announced: it must be seen all the same.
        await WriteStraightIntoTheTableAsync($"UPDATE users SET status = 'banned' WHERE id = '{user.Id.Value}'");
        Assert.That(() => RequestAsync(instance, user.Id), Throws.InstanceOf<BusinessRuleViolationException>(),
            "read through, not served from the copy made before the outage");
        Assert.That(instance.GetRequiredService<RedisOutages>().Total, Is.GreaterThanOrEqualTo(1));
        Assert.That(instance.GetRequiredService<UserReadCache>().Count, Is.Zero, "nothing kept while deaf");

        await server.StartAsync();
        await WriteStraightIntoTheTableAsync($"UPDATE users SET status = 'active' WHERE id = '{user.Id.Value}'");
        var cachingAgain = await EventuallyAsync(async () =>
        {
            await RequestAsync(instance, user.Id);
            return instance.GetRequiredService<UserReadCache>().Count == 1;
        }, TimeSpan.FromSeconds(30));
        Assert.That(cachingAgain, Is.True, "the same host caches again once Redis is back, with no restart");
    }

    [Test]
    public async Task SettingsAndUsers_ShareTheInvalidationChannel_AndEachHearsOnlyItsOwnTopic()
    {
        await using var redis = new RedisTestServer();
        var writer = Instance(redis.Endpoint, redis.KeyPrefix);
        var reader = Instance(redis.Endpoint, redis.KeyPrefix);
        var user = await AddUserAsync("frank");
        await WarmAsync(reader, user.Id);
        await WarmAsync(writer, user.Id);

        // A settings write is announced on the same channel: the user copies stay.
        writer.GetRequiredService<IRuntimeSettings>().Invalidate();
        await Task.Delay(200);
        Assert.That(reader.GetRequiredService<UserReadCache>().Count, Is.EqualTo(1));

        await using (var scope = writer.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<IUserRepository>();
            var loaded = await users.GetAsync(user.Id, None);
            loaded!.PromoteToAdmin();
            await users.UpdateAsync(loaded, None);
        }

        var seen = await EventuallyAsync(async () => (await RequestAsync(reader, user.Id)).IsAdmin);
        Assert.That(seen, Is.True, "a role change reaches the other instance");
    }

    [Test]
    public async Task OnPostgres_ARequestThatReadTheOldRowWhileABanWasBeingCommitted_DoesNotKeepIt()
    {
        await using var postgres = await PostgresTestDatabase.CreateAsync();
        await using var redis = new RedisTestServer();
        var admin = Instance(redis.Endpoint, redis.KeyPrefix, storage: s => s.AddPostgresPersistence(postgres.ConnectionString));
        var other = Instance(redis.Endpoint, redis.KeyPrefix, storage: s => s.AddPostgresPersistence(postgres.ConnectionString));
        User user;
        await using (var scope = postgres.Scope())
        {
            user = await PersistenceTestData.AddUserAsync(scope.ServiceProvider, "mallory");
        }

        await WarmAsync(other, user.Id);
        await using (var scope = admin.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<IUserRepository>();
            await scope.ServiceProvider.GetRequiredService<IUnitOfWork>().InTransactionAsync(async ct =>
            {
                var loaded = await users.GetAsync(user.Id, ct);
                loaded!.Ban();
                await users.UpdateAsync(loaded, ct);

                // Between the write and the commit the other instance reads the row again: the old one.
                var meanwhile = await RequestAsync(other, user.Id);
                Assert.That(meanwhile.IsBanned, Is.False, "the ban is not committed yet");
                Assert.That(other.GetRequiredService<UserReadCache>().Count, Is.EqualTo(1), "and the old row is kept for now");
                return 0;
            }, None);
        }

        Assert.That(() => RequestAsync(other, user.Id), Throws.InstanceOf<BusinessRuleViolationException>(),
            "the commit dropped the row read before it");
    }

    /// <summary>An API instance: SQLite on the shared file (unless told), Redis with the test's key prefix, the user cache.</summary>
    private ServiceProvider Instance(
        string endpoint, string keyPrefix, string? extra = null, Action<IServiceCollection>? storage = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = extra is null ? endpoint : $"{endpoint},{extra}",
            ["Cache:Redis:KeyPrefix"] = keyPrefix,
            ["Cache:Users:Lifetime"] = "00:00:30",
        }).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddRedisCache(configuration);
        if (storage is null)
        {
            services.AddSqlitePersistence(_db.ConnectionString);
        }
        else
        {
            storage(services);
        }

        services.AddRedisRuntimeSettings();
        services.AddUserReadCache(configuration);
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        _instances.Add(provider);
        return provider;
    }

    private async Task<User> AddUserAsync(string name)
    {
        await using var scope = _db.Scope();
        return await PersistenceTestData.AddUserAsync(scope.ServiceProvider, name);
    }

    /// <summary>One API request's first step, in a scope of its own.</summary>
    private static async Task<User> RequestAsync(ServiceProvider instance, UserId id)
    {
        await using var scope = instance.CreateAsyncScope();
        var current = new Mock<ICurrentUser>();
        current.Setup(c => c.Id).Returns(id);
        var access = new UserAccess(current.Object, scope.ServiceProvider.GetRequiredService<IUserRepository>(),
            scope.ServiceProvider.GetRequiredService<IChatRepository>());
        return await access.RequireActiveUserAsync(None);
    }

    /// <summary>Requests until the instance keeps the row (it reads through until it hears its own probe).</summary>
    private static async Task WarmAsync(ServiceProvider instance, UserId id)
    {
        var cached = await EventuallyAsync(async () =>
        {
            await RequestAsync(instance, id);
            return instance.GetRequiredService<UserReadCache>().Count == 1;
        });
        Assert.That(cached, Is.True, "the instance started caching");
    }

    private async Task WriteStraightIntoTheTableAsync(string sql) => Assert.That(await _db.ExecuteAsync(sql), Is.EqualTo(1));

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan? within = null)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < (within ?? Patience))
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(10);
        }

        return false;
    }
}
