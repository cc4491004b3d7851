using MeatLizard.Infrastructure.Doctor;
using MeatLizard.Infrastructure.Telegram;
using MeatLizard.Telegram.Tests.Fake;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace MeatLizard.Telegram.Tests.Client;

public sealed class TelegramDoctorCheckTests
{
    [Test]
    public async Task AGoodToken_NamesTheBot_ABadOne_FailsNamingTheSetting_WithoutTheToken()
    {
        await using var telegram = await FakeTelegramServer.StartAsync();

        var good = await CheckAsync(telegram.BaseUrl, telegram.Token);
        Assert.That(good.ToString(), Is.EqualTo($"ok   telegram: bot @{telegram.Bot.Username} (id {telegram.Bot.Id}), 1 allowed chat(s)"));

        var wrongToken = $"{telegram.Bot.Id}:{new string('Z', 35)}";
        var bad = await CheckAsync(telegram.BaseUrl, wrongToken);
        Assert.That(bad.Ok, Is.False);
        Assert.That(bad.ToString(), Does.Contain("Telegram:BotToken").And.Contain("401").And.Not.Contain(new string('Z', 35)));
    }

    private static async Task<DoctorResult> CheckAsync(string baseUrl, string token)
    {
        var options = TelegramOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Telegram:BotToken"] = token,
            ["Telegram:ApiBaseUrl"] = baseUrl,
            ["Telegram:AllowedChatIds"] = "42",
        }).Build())!;
        using var http = new HttpClient();
        var client = new TelegramBotClient(http, options, TimeProvider.System, NullLogger<TelegramBotClient>.Instance);
        return (await new TelegramDoctorCheck(client, options).RunAsync(CancellationToken.None)).Single();
    }
}
