using System.Diagnostics;
using MeatLizard.Infrastructure.Telegram;
using MeatLizard.Telegram.Tests.Fake;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;

namespace MeatLizard.Telegram.Tests.Client;

/// <summary>
/// Streaming edits stay inside Telegram's limits: about one message a second in a chat, 20 a minute in a group. Time
/// is shrunk tenfold on both sides (the fake's windows and the bot's pace), so a minute of group traffic takes six
/// seconds; without the pace, the same traffic meets 429s.
/// </summary>
public sealed class TelegramPaceTests
{
    private const double Scale = 0.1;

    private FakeTelegramServer _telegram = null!;
    private HttpClient _http = null!;

    [SetUp]
    public async Task SetUp()
    {
        _telegram = await FakeTelegramServer.StartAsync();
        _telegram.FloodTimeScale = Scale;
        _http = new HttpClient();
    }

    [TearDown]
    public async Task TearDown()
    {
        _http.Dispose();
        await _telegram.DisposeAsync();
    }

    [Test]
    public async Task AnAnswerEditedAsFastAsItGrows_InAGroup_NeverMeetsA429_OverMoreThanTheGroupsMinuteLimit()
    {
        var alice = _telegram.AddUser("Alice");
        var group = _telegram.Group("Lizards", super: true, alice);
        var adapter = Adapter(new TelegramPace(TelegramPace.Documented.PrivateChat * Scale, TelegramPace.Documented.GroupChat * Scale));

        var clock = Stopwatch.StartNew();
        var id = await adapter.PostAsync(group.Id.ToString(), null, "part 0", CancellationToken.None);
        for (var i = 1; i <= 24; i++)
        {
            await adapter.EditAsync(group.Id.ToString(), id, $"part {i}", CancellationToken.None);
        }

        Assert.That(_telegram.Calls.Where(c => c.Status == 429), Is.Empty);
        Assert.That(_telegram.BotMessages(group).Single().Versions, Has.Count.EqualTo(25), "every edit landed");
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TelegramPace.Documented.GroupChat * Scale * 24), "paced, not bunched");
    }

    [Test]
    public async Task APrivateChat_IsPacedAtOneMessageASecond_WithoutA429()
    {
        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        var adapter = Adapter(new TelegramPace(TelegramPace.Documented.PrivateChat * Scale, TelegramPace.Documented.GroupChat * Scale));

        var id = await adapter.PostAsync(chat.Id.ToString(), null, "part 0", CancellationToken.None);
        for (var i = 1; i <= 10; i++)
        {
            await adapter.EditAsync(chat.Id.ToString(), id, $"part {i}", CancellationToken.None);
        }

        Assert.That(_telegram.Calls.Where(c => c.Status == 429), Is.Empty);
    }

    [Test]
    public async Task WithoutThePace_TheSameEditsMeet429s_WhichTheClientWaitsOut()
    {
        var alice = _telegram.AddUser("Alice");
        var chat = _telegram.PrivateChat(alice);
        var adapter = Adapter(new TelegramPace(TimeSpan.Zero, TimeSpan.Zero));

        var id = await adapter.PostAsync(chat.Id.ToString(), null, "part 0", CancellationToken.None);
        for (var i = 1; i <= 5; i++)
        {
            await adapter.EditAsync(chat.Id.ToString(), id, $"part {i}", CancellationToken.None);
        }

        Assert.That(_telegram.Calls.Where(c => c.Status == 429), Is.Not.Empty);
        Assert.That(_telegram.BotMessages(chat).Single().Text, Is.EqualTo("part 5"), "each refused edit was sent again after retry_after");
    }

    private TelegramChannelAdapter Adapter(TelegramPace pace)
    {
        var options = TelegramOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Telegram:BotToken"] = _telegram.Token,
            ["Telegram:ApiBaseUrl"] = _telegram.BaseUrl,
            ["Telegram:AllowedChatIds"] = "42",
        }).Build())!;
        var client = new TelegramBotClient(_http, options, TimeProvider.System, NullLogger<TelegramBotClient>.Instance);
        return new TelegramChannelAdapter(client, pace, TimeProvider.System);
    }
}
