using MeatLizard.Presentation.Api;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.ObjectStorage;
using MeatLizard.Infrastructure.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Redis;

/// <summary>Cache:Provider=Redis and ObjectStore:Provider=S3 wire the real adapters; bad settings name their key.</summary>
public sealed class DistributedAdaptersConfigurationTests
{
    [Test]
    public void Composition_WithRedisAndS3_ResolvesTheirAdapters()
    {
        var data = Directory.CreateTempSubdirectory("meatlizard-config-").FullName;
        try
        {
            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Data:Root"] = data,
                ["Cache:Provider"] = "Redis",
                ["ConnectionStrings:Redis"] = "127.0.0.1:1",
                ["Cache:Redis:FailMode"] = "Closed",
                ["ObjectStore:Provider"] = "S3",
                ["ObjectStore:S3:ServiceUrl"] = "http://127.0.0.1:1",
                ["ObjectStore:S3:Bucket"] = "b",
                ["ObjectStore:S3:AccessKey"] = "k",
                ["ObjectStore:S3:SecretKey"] = "s",
            });
            builder.Services.AddLogging();
            builder.AddPlatform();
            using var provider = builder.Services.BuildServiceProvider();

            Assert.Multiple(() =>
            {
                Assert.That(provider.GetRequiredService<IRateLimiter>(), Is.InstanceOf<RedisRateLimiter>());
                Assert.That(provider.GetRequiredService<IChatEvents>(), Is.InstanceOf<RedisChatEvents>());
                Assert.That(provider.GetRequiredService<IReplayGuard>(), Is.InstanceOf<RedisReplayGuard>());
                Assert.That(provider.GetRequiredService<IHostPresence>(), Is.InstanceOf<RedisHostPresence>());
                Assert.That(provider.GetRequiredService<IObjectStore>(), Is.InstanceOf<S3ObjectStore>());
                Assert.That(provider.GetRequiredService<IObjectLinks>(), Is.InstanceOf<S3ObjectStore>());
                Assert.That(provider.GetRequiredService<PlatformDescription>().Cache, Is.EqualTo("Redis"));
                Assert.That(provider.GetRequiredService<PlatformDescription>().ObjectStore, Is.EqualTo("S3"));
            });
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [TestCase(null, null, "ConnectionStrings:Redis is not set")]
    [TestCase("", null, "ConnectionStrings:Redis is not set")]
    [TestCase("127.0.0.1:6379,connectTimeout=soon", null, "ConnectionStrings:Redis is not a valid Redis configuration")]
    [TestCase("127.0.0.1:6379", "Sometimes", "Cache:Redis:FailMode")]
    public void Redis_BadSetting_NamesTheKey(string? connection, string? failMode, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => RedisRegistration.ReadOptions(Settings(
            ("ConnectionStrings:Redis", connection), ("Cache:Redis:FailMode", failMode))));

        Assert.That(error!.Message, Does.Contain(expected).And.Not.Contain("\n"));
    }

    [TestCase("-00:00:01")]
    [TestCase("2.00:00:00")]
    [TestCase("soon")]
    public void Redis_BadChatSubscriptionLinger_NamesTheKey(string linger)
    {
        var error = Assert.Throws<ConfigurationException>(() => RedisRegistration.ReadOptions(Settings(
            ("ConnectionStrings:Redis", "127.0.0.1:6379"), ("Cache:Redis:ChatSubscriptionLinger", linger))));

        Assert.That(error!.Message, Does.Contain("Cache:Redis:ChatSubscriptionLinger").And.Not.Contain("\n"));
    }

    [TestCase(null, 30_000)]
    [TestCase("00:00:05", 5_000)]
    [TestCase("00:00:00", 0)]
    public void Redis_ChatSubscriptionLinger_IsRead(string? linger, int expectedMs)
    {
        var options = RedisRegistration.ReadOptions(Settings(
            ("ConnectionStrings:Redis", "127.0.0.1:6379"), ("Cache:Redis:ChatSubscriptionLinger", linger)));

        Assert.That(options.ChatSubscriptionLinger, Is.EqualTo(TimeSpan.FromMilliseconds(expectedMs)));
    }

    [TestCase(null, "k", "s", "http://h:1", "ObjectStore:S3:Bucket is not set; ObjectStore:Provider=S3 needs a bucket name.")]
    [TestCase("b", null, "s", "http://h:1", "ObjectStore:S3:AccessKey and ObjectStore:S3:SecretKey must both be set.")]
    [TestCase("b", "k", "s", "ftp://h", "ObjectStore:S3:ServiceUrl 'ftp://h' is not an http(s) URL.")]
    public void S3_BadSetting_NamesTheKey(string? bucket, string? access, string? secret, string? url, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => ObjectStorageRegistration.ReadS3Options(Settings(
            ("ObjectStore:S3:Bucket", bucket), ("ObjectStore:S3:AccessKey", access), ("ObjectStore:S3:SecretKey", secret),
            ("ObjectStore:S3:ServiceUrl", url))));

        Assert.That(error!.Message, Is.EqualTo(expected));
    }

    private static IConfiguration Settings(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Where(v => v.Value is not null)
                .Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build();
}
