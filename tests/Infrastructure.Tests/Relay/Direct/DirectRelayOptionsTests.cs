using MeatLizard.Infrastructure.Relay.Direct;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Relay.Direct;

public sealed class DirectRelayOptionsTests
{
    private static DirectRelayOptions Read(bool clientBot, params (string Key, string Value)[] settings) =>
        DirectRelayOptions.Read(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.ToDictionary(s => s.Key, s => (string?)s.Value)).Build(), clientBot);

    [TestCase("Relay:ServerUrl", "Relay:HostToken=mlh_x")]
    [TestCase("Relay:HostToken", "Relay:ServerUrl=https://chat.example.org")]
    public void TheClientBot_WithoutASetting_StopsWithOneLineNamingIt(string missing, string other)
    {
        var (key, value) = (other.Split('=')[0], other.Split('=')[1]);

        var refused = Assert.Throws<ConfigurationException>(() => Read(clientBot: true, (key, value)));

        Assert.That(refused!.Message, Does.StartWith(missing).And.Not.Contain("\n"));
    }

    [TestCase("Relay:ServerUrl", "ftp://chat.example.org")]
    [TestCase("Relay:ServerUrl", "not a url")]
    [TestCase("Relay:MaxFrameBytes", "0")]
    [TestCase("Relay:MaxUnacknowledged", "lots")]
    public void ABadValue_IsNamed(string key, string value)
    {
        var settings = new List<(string, string)> { ("Relay:ServerUrl", "https://chat.example.org"), ("Relay:HostToken", "mlh_x") };
        settings.RemoveAll(s => s.Item1 == key);
        settings.Add((key, value));

        Assert.That(Assert.Throws<ConfigurationException>(() => Read(clientBot: true, [.. settings]))!.Message,
            Does.StartWith($"{key} '{value}'"));
    }

    [TestCase("https://chat.example.org", "wss://chat.example.org/api/v1/relay/direct")]
    [TestCase("http://127.0.0.1:5080/", "ws://127.0.0.1:5080/api/v1/relay/direct")]
    [TestCase("https://example.org/meatlizard/", "wss://example.org/meatlizard/api/v1/relay/direct")]
    public void TheEndpoint_IsUnderTheServersAddress_OverWebSocket(string server, string endpoint) =>
        Assert.That(Read(clientBot: true, ("Relay:ServerUrl", server), ("Relay:HostToken", "mlh_x")).EndpointUri,
            Is.EqualTo(new Uri(endpoint)));

    [Test]
    public void TheServer_NeedsNeitherAddressNorToken() =>
        Assert.That(Read(clientBot: false).MaxFrameBytes, Is.EqualTo(16 * 1024 * 1024));

    [Test]
    public void TheDefaultFrame_HoldsARequestWithTheMostImagesTheApiTakesByDefault() =>
        Assert.That(Read(clientBot: false).MaxFrameBytes, Is.GreaterThanOrEqualTo(
            DirectRelayOptions.FrameBytesFor(Math.Max(new Application.Common.OpenAiOptions().MaxImageBytes,
                new Application.Common.RelayOptions().MaxImageBytesPerRequest))));

    [TestCase("OpenAi:MaxImageBytes")]
    [TestCase("Relay:MaxImageBytesPerRequest")]
    public void TheServer_RefusesAFrameTooSmallForTheImagesItTakes_NamingTheSetting(string images)
    {
        var refused = Assert.Throws<ConfigurationException>(() =>
            Read(clientBot: false, ("Relay:MaxFrameBytes", "4194304"), (images, "5242880")))!.Message;

        Assert.That(refused, Does.StartWith("Relay:MaxFrameBytes 4194304 is too small").And.Contain(images).And.Not.Contain("\n"));
        Assert.DoesNotThrow(() => Read(clientBot: false, ("Relay:MaxFrameBytes", "4194304"),
            ("OpenAi:MaxImageBytes", "1048576"), ("Relay:MaxImageBytesPerRequest", "1048576")));
    }
}

public sealed class BotTransportChoiceTests
{
    private static Microsoft.Extensions.Hosting.HostApplicationBuilder Builder(string transport)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Relay:Transport"] = transport,
            ["Relay:Keys:0:Id"] = "1",
            ["Relay:Keys:0:Key"] = Convert.ToBase64String(new byte[32]),
        });
        return builder;
    }

    [Test]
    public void TheClientBot_MayDialTheApi_TheServerBotRelaysOverDiscordOnly()
    {
        Assert.DoesNotThrow(() => Discord.DiscordRegistration.UseDiscordTransport(Builder("Direct"), directAllowed: true));
        Assert.That(Assert.Throws<ConfigurationException>(() => Discord.DiscordRegistration.UseDiscordTransport(Builder("Direct")))!
            .Message, Does.StartWith("Relay:Transport 'Direct' cannot be used by a Discord bot host"));
        Assert.That(Assert.Throws<ConfigurationException>(() =>
                Discord.DiscordRegistration.UseDiscordTransport(Builder("Pigeon"), directAllowed: true))!.Message,
            Does.StartWith("Relay:Transport 'Pigeon' cannot be used by the client bot").And.Contain("Direct"));
    }
}
