using MeatLizard.Infrastructure;
using MeatLizard.Infrastructure.Telegram;
using Microsoft.Extensions.Configuration;
using NUnit.Framework;

namespace MeatLizard.Telegram.Tests.Client;

public sealed class TelegramOptionsTests
{
    private const string Token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0";

    [Test]
    public void NoToken_RunsNoBot()
    {
        Assert.That(TelegramOptions.Read(Config(("Telegram:AllowedChatIds", "1"))), Is.Null);
    }

    [Test]
    public void AllSettings_AreRead_ChatIdsFromAListOrCommaSeparated()
    {
        var options = TelegramOptions.Read(Config(("Telegram:BotToken", Token), ("Telegram:ApiBaseUrl", "http://127.0.0.1:9/"),
            ("Telegram:AllowedChatIds:0", "42"), ("Telegram:AllowedChatIds:1", "-1001234567890, 7")))!;

        Assert.That(options.ApiBaseUrl, Is.EqualTo("http://127.0.0.1:9"));
        Assert.That(options.AllowedChatIds, Is.EqualTo(new long[] { 42, -1001234567890, 7 }));
        Assert.That(options.BotId, Is.EqualTo("123456789"));
        Assert.That(TelegramOptions.Read(Config(("Telegram:BotToken", Token), ("Telegram:AllowedChatIds", "5")))!.ApiBaseUrl,
            Is.EqualTo("https://api.telegram.org"));
    }

    [Test]
    public void TheWebAddress_IsTelegramsOwn_ElseTheServerBots()
    {
        static string? Web(params (string Key, string Value)[] more) => TelegramOptions.Read(Config(
            [("Telegram:BotToken", Token), ("Telegram:AllowedChatIds", "5"), .. more]))!.PublicBaseUrl;

        Assert.That(Web(), Is.Null, "the links are paths");
        Assert.That(Web(("Discord:PublicBaseUrl", "https://bot.example.com")), Is.EqualTo("https://bot.example.com"));
        Assert.That(Web(("Discord:PublicBaseUrl", "https://bot.example.com"), ("Telegram:PublicBaseUrl", "https://tg.example.com")),
            Is.EqualTo("https://tg.example.com"));
    }

    [TestCase("Telegram:PublicBaseUrl", "chat.example.com", "Telegram:PublicBaseUrl")]
    [TestCase("Telegram:BotToken", "not-a-token", "Telegram:BotToken")]
    [TestCase("Telegram:ApiBaseUrl", "ftp://example.com", "Telegram:ApiBaseUrl")]
    [TestCase("Telegram:AllowedChatIds", "", "Telegram:AllowedChatIds")]
    [TestCase("Telegram:AllowedChatIds", "12, lizards", "Telegram:AllowedChatIds")]
    [TestCase("Telegram:PollTimeoutSeconds", "0", "Telegram:PollTimeoutSeconds")]
    [TestCase("Telegram:PollTimeoutSeconds", "soon", "PollTimeoutSeconds")]
    [TestCase("Telegram:MaxConcurrentChats", "0", "Telegram:MaxConcurrentChats")]
    public void ABadSetting_StopsWithOneLineNamingIt(string key, string value, string named)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Telegram:BotToken"] = Token,
            ["Telegram:AllowedChatIds"] = "42",
            [key] = value,
        };

        var error = Assert.Throws<ConfigurationException>(() =>
            TelegramOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()))!;
        Assert.That(error.Message, Does.Contain(named));
        Assert.That(error.Message, Does.Not.Contain("\n"));
        Assert.That(error.Message, Does.Not.Contain("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"), "the token is never echoed");
    }

    private static IConfiguration Config(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();
}
