using MeatLizard.Presentation.Api;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>How the hosts' composition puts the user cache in place, and what section Cache:Users accepts.</summary>
public sealed class UserReadCacheRegistrationTests
{
    private string _data = null!;

    [SetUp]
    public void SetUp() => _data = Directory.CreateTempSubdirectory("meatlizard-user-cache-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_data, recursive: true);

    [Test]
    public async Task Embedded_CachesUsersInProcess_AndTheUnitOfWorkReportsItsCommits()
    {
        await using var provider = Compose(new() { ["Cache:Users:Lifetime"] = "00:01:00" });
        await using var scope = provider.CreateAsyncScope();

        Assert.Multiple(() =>
        {
            Assert.That(scope.ServiceProvider.GetRequiredService<IUserRepository>(), Is.InstanceOf<CachedUserRepository>());
            Assert.That(scope.ServiceProvider.GetRequiredService<IUnitOfWork>(),
                Is.SameAs(scope.ServiceProvider.GetRequiredService<AfterCommitUnitOfWork>()));
            Assert.That(provider.GetRequiredService<IUserCachePeers>(), Is.InstanceOf<NoUserCachePeers>());
        });
    }

    [Test]
    public async Task WithRedis_WritesAreToldToTheOtherProcesses()
    {
        await using var provider = Compose(new()
        {
            ["Cache:Provider"] = "Redis",
            ["ConnectionStrings:Redis"] = "127.0.0.1:1",
        });

        Assert.That(provider.GetRequiredService<IUserCachePeers>(), Is.InstanceOf<RedisUserCachePeers>());
    }

    [Test]
    public async Task ALifetimeOfZero_LeavesTheRepositoryAsItIs()
    {
        await using var provider = Compose(new() { ["Cache:Users:Lifetime"] = "00:00:00" });
        await using var scope = provider.CreateAsyncScope();

        Assert.That(scope.ServiceProvider.GetRequiredService<IUserRepository>(), Is.Not.InstanceOf<CachedUserRepository>());
        Assert.That(provider.GetService<UserReadCache>(), Is.Null);
    }

    [TestCase("Lifetime", "-00:00:01", "Cache:Users:Lifetime must be from 00:00:00 (no cache) to 00:10:00")]
    [TestCase("Lifetime", "01:00:00", "Cache:Users:Lifetime must be from 00:00:00 (no cache) to 00:10:00")]
    [TestCase("Lifetime", "soon", "Cache:Users:Lifetime")]
    [TestCase("Capacity", "0", "Cache:Users:Capacity must be at least 1")]
    [TestCase("Capacity", "many", "Cache:Users:Capacity")]
    public void ABadSetting_NamesTheKey(string key, string value, string expected)
    {
        Assert.That(() => Compose(new() { [$"Cache:Users:{key}"] = value }),
            Throws.InstanceOf<ConfigurationException>().With.Message.Contains(expected));
    }

    private ServiceProvider Compose(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        settings["Data:Root"] = _data;
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLogging();
        builder.AddPlatform();
        return builder.Services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }
}
