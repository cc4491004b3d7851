using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Relay;

public sealed class RelayKeyConfigurationTests
{
    private static readonly string s_key32 = Convert.ToBase64String(RelayTestKit.Key(0));
    private static readonly string s_otherKey32 = Convert.ToBase64String(RelayTestKit.Key(64));

    [Test]
    public void KeysWithActiveId_BuildARingThatSealsWithTheActiveKey()
    {
        var ring = Build(new()
        {
            ["Relay:Keys:0:Id"] = "1", ["Relay:Keys:0:Key"] = s_key32,
            ["Relay:Keys:1:Id"] = "2", ["Relay:Keys:1:Key"] = s_otherKey32,
            ["Relay:ActiveKeyId"] = "2",
        });

        Assert.Multiple(() =>
        {
            Assert.That(ring.ActiveKeyId, Is.EqualTo(2));
            Assert.That(ring.KeyIds, Is.EquivalentTo(new byte[] { 1, 2 }));
            Assert.That(ring.IsEphemeral, Is.False);
        });
    }

    [Test]
    public void SingleKeyWithoutActiveId_IsActive()
    {
        var ring = Build(new() { ["Relay:Keys:0:Id"] = "9", ["Relay:Keys:0:Key"] = s_key32 });

        Assert.That(ring.ActiveKeyId, Is.EqualTo(9));
    }

    [Test]
    public void NoKeys_WhenEphemeralAllowed_MakesOneRandomKeyForTheProcess()
    {
        var ring = Build([], allowEphemeralKey: true);

        Assert.That(ring.IsEphemeral, Is.True);
        Assert.That(ring.KeyIds, Has.Count.EqualTo(1));
    }

    [Test]
    public void NoKeys_WhenEphemeralNotAllowed_FailsNamingRelayKeysAndTheTransport()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            Build(new() { ["Relay:Transport"] = "Discord" }, allowEphemeralKey: false));

        Assert.That(error!.Message, Does.StartWith("Relay:Keys is required when Relay:Transport is Discord"));
    }

    [TestCase("AAECAwQFBgcICQoLDA0ODw==", "Relay:Keys:0:Key must be 32 bytes in base64 (got 16).")]
    [TestCase("not*base64!", "Relay:Keys:0:Key is not valid base64.")]
    [TestCase("", "Relay:Keys:0:Key is required (32 random bytes in base64).")]
    public void BadKeyValue_FailsWithOneLineNamingTheKey(string key, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            Build(new() { ["Relay:Keys:0:Id"] = "1", ["Relay:Keys:0:Key"] = key }));

        Assert.That(error!.Message, Is.EqualTo(expected));
    }

    [TestCase("256", "Relay:Keys:1:Id must be between 0 and 255 (got 256).")]
    [TestCase("-1", "Relay:Keys:1:Id must be between 0 and 255 (got -1).")]
    [TestCase("1", "Relay:Keys:1:Id 1 is listed twice in Relay:Keys.")]
    public void BadKeyId_FailsWithOneLineNamingTheKey(string id, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => Build(new()
        {
            ["Relay:Keys:0:Id"] = "1", ["Relay:Keys:0:Key"] = s_key32,
            ["Relay:Keys:1:Id"] = id, ["Relay:Keys:1:Key"] = s_otherKey32,
            ["Relay:ActiveKeyId"] = "1",
        }));

        Assert.That(error!.Message, Is.EqualTo(expected));
    }

    [Test]
    public void MissingKeyId_FailsNamingTheId()
    {
        var error = Assert.Throws<ConfigurationException>(() => Build(new() { ["Relay:Keys:0:Key"] = s_key32 }));

        Assert.That(error!.Message, Is.EqualTo("Relay:Keys:0:Id is required (0–255)."));
    }

    [Test]
    public void KeyIdNotANumber_FailsNamingTheSetting()
    {
        var error = Assert.Throws<ConfigurationException>(() =>
            Build(new() { ["Relay:Keys:0:Id"] = "one", ["Relay:Keys:0:Key"] = s_key32 }));

        Assert.That(error!.Message, Does.Contain("Relay:Keys:0:Id"));
    }

    [Test]
    public void ActiveKeyIdNotInTheRing_FailsNamingIt()
    {
        var error = Assert.Throws<ConfigurationException>(() => Build(new()
        {
            ["Relay:Keys:0:Id"] = "1", ["Relay:Keys:0:Key"] = s_key32, ["Relay:ActiveKeyId"] = "3",
        }));

        Assert.That(error!.Message, Is.EqualTo("Relay:ActiveKeyId 3 is not one of Relay:Keys."));
    }

    [Test]
    public void SeveralKeysWithoutActiveId_FailsAskingForIt()
    {
        var error = Assert.Throws<ConfigurationException>(() => Build(new()
        {
            ["Relay:Keys:0:Id"] = "1", ["Relay:Keys:0:Key"] = s_key32,
            ["Relay:Keys:1:Id"] = "2", ["Relay:Keys:1:Key"] = s_otherKey32,
        }));

        Assert.That(error!.Message, Is.EqualTo("Relay:ActiveKeyId is required when Relay:Keys lists more than one key."));
    }

    [Test]
    public void ErrorMessages_NeverContainKeyMaterial()
    {
        var shortKey = Convert.ToBase64String(RelayTestKit.Key(7).AsSpan(0, 31));

        var error = Assert.Throws<ConfigurationException>(() =>
            Build(new() { ["Relay:Keys:0:Id"] = "1", ["Relay:Keys:0:Key"] = shortKey }));

        Assert.That(error!.Message, Does.Not.Contain(shortKey).And.Contain("got 31"));
    }

    [Test]
    public void AddEnvelopeCipher_WithBadSettings_FailsAtRegistration()
    {
        var configuration = Configuration(new() { ["Relay:Transport"] = "Discord" });

        Assert.Throws<ConfigurationException>(() =>
            new ServiceCollection().AddEnvelopeCipher(configuration, allowEphemeralKey: false));
    }

    [Test]
    public async Task AddEnvelopeCipher_ResolvesOneCipherAndGuard_ThatRoundTripWithTheConfiguredKey()
    {
        var configuration = Configuration(new() { ["Relay:Keys:0:Id"] = "4", ["Relay:Keys:0:Key"] = s_key32 });
        var services = new ServiceCollection().AddLogging().AddSingleton<IClock>(new TestClock(RelayTestKit.Now));
        services.AddEnvelopeCipher(configuration, allowEphemeralKey: false)
            .AddSingleton<IReplayGuard, MemoryReplayGuard>(); // the shared-state group's, in embedded mode
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });

        var cipher = provider.GetRequiredService<IEnvelopeCipher>();
        using var reference = RelayTestKit.Cipher(RelayTestKit.Ring(4, RelayTestKit.Key(0)), new TestClock(RelayTestKit.Now));
        var opened = await cipher.OpenAsync(reference.Seal(RelayTestKit.Envelope(), RelayDirection.ServerToClient),
            RelayDirection.ServerToClient, RelayTestKit.ChatId, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(cipher, Is.SameAs(provider.GetRequiredService<IEnvelopeCipher>()));
            Assert.That(provider.GetRequiredService<IReplayGuard>(), Is.InstanceOf<MemoryReplayGuard>());
            Assert.That(opened.Rejection, Is.EqualTo(EnvelopeRejection.None));
        });
    }

    private static RelayKeyRing Build(Dictionary<string, string?> settings, bool allowEphemeralKey = false)
    {
        var configuration = Configuration(settings);
        var services = new ServiceCollection().AddEnvelopeCipher(configuration, allowEphemeralKey);
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<RelayKeyRing>();
    }

    private static IConfiguration Configuration(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
}
