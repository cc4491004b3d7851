using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Inference.Fallback;
using MeatLizard.Infrastructure.Memory;
using MeatLizard.Infrastructure.ObjectStorage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Memory;

public sealed class EmbeddedAdaptersRegistrationTests
{
    [Test]
    public void AddMemoryAdapters_RegistersEveryEmbeddedPortAsASingleton()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddOptions<RateLimitOptions>();
        services.AddOptions<RelayOptions>();
        services.AddOptions<FallbackOptions>();
        services.AddSingleton(Mock.Of<IRuntimeSettings>()); // the stores' port, which these adapters read

        services.AddMemoryAdapters();
        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });

        Assert.Multiple(() =>
        {
            Assert.That(provider.GetRequiredService<IRateLimiter>(), Is.InstanceOf<MemoryRateLimiter>()
                .And.SameAs(provider.GetRequiredService<IRateLimiter>()));
            Assert.That(provider.GetRequiredService<IChatEvents>(), Is.InstanceOf<MemoryChatEvents>()
                .And.SameAs(provider.GetRequiredService<IChatEvents>()));
            Assert.That(provider.GetRequiredService<IHostPresence>(), Is.InstanceOf<MemoryHostPresence>());
            Assert.That(provider.GetRequiredService<IClock>(), Is.InstanceOf<SystemClock>());
            Assert.That(provider.GetRequiredService<IPasswordHasher>(), Is.Not.Null);
            Assert.That(provider.GetRequiredService<IFallbackResponder>(), Is.InstanceOf<FallbackResponder>()
                .And.SameAs(provider.GetRequiredService<IFallbackResponder>()));
            Assert.That(provider.GetRequiredService<UserFallbackChains>(), Is.SameAs(provider.GetRequiredService<UserFallbackChains>()));
            Assert.That(provider.GetRequiredService<IAnswerCacheStore>(), Is.InstanceOf<MemoryAnswerCache>()
                .And.SameAs(provider.GetRequiredService<IAnswerCacheStore>()));
        });
    }

    [Test]
    public async Task AddFileSystemObjectStore_StoresObjectsUnderTheGivenRoot()
    {
        var root = Path.Combine(Path.GetTempPath(), "meatlizard-registration-" + Guid.NewGuid().ToString("N"));
        try
        {
            var services = new ServiceCollection();
            services.AddFileSystemObjectStore(root);
            await using var provider = services.BuildServiceProvider();
            var store = provider.GetRequiredService<IObjectStore>();

            await store.PutAsync("a/b.txt", new MemoryStream([1, 2]), "text/plain", CancellationToken.None);

            Assert.Multiple(() =>
            {
                Assert.That(store, Is.InstanceOf<FileSystemObjectStore>());
                Assert.That(File.ReadAllBytes(Path.Combine(root, "a", "b.txt")), Is.EqualTo(new byte[] { 1, 2 }));
            });
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }
}
