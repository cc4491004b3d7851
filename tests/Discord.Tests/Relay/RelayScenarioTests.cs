using MeatLizard.Application.Messages.Queries;
using MeatLizard.Application.Chats.Commands;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Discord.Relay;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>The scenarios that need both bots and a misbehaving Discord: 429 storms, full guilds, a vanished worker.</summary>
public sealed class RelayScenarioTests : TwoBotsTest
{
    private const string MessagesRoute = "/channels/{channel_id}/messages";

    private string ChannelOf(Guid chat) => Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;

    [Test]
    public async Task A429StormMidStream_IsWaitedOut_AndTheAnswerArrivesOnceAndWhole()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "warm up");
        var reply = string.Join(' ', Enumerable.Range(0, 30).Select(i => $"w{i}"));
        Bots.Engine.Reply = _ => reply;
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(60);
        var channel = ChannelOf(chat);
        var before = Bots.Fake.Messages(channel).Count(m => m.AuthorId == Bots.ClientBot.UserId);

        var asking = Bots.AskAsync(chat, "a long answer, please");
        Assert.That(await FakeDiscordKit.EventuallyAsync(() =>
            Bots.Fake.Messages(channel).Count(m => m.AuthorId == Bots.ClientBot.UserId) >= before + 2), Is.True, "streaming started");
        Bots.Fake.InjectRateLimits(MessagesRoute, 4, TimeSpan.FromMilliseconds(300));
        Bots.Fake.InjectRateLimits(MessagesRoute, 2, TimeSpan.FromMilliseconds(300), global: true);
        var answer = await asking;

        Assert.That(answer.Content, Is.EqualTo(reply), "nothing lost");
        Assert.That(Bots.Fake.PendingFaults, Is.Zero, "the storm hit the relay's posts");
        var page = await Bots.SendAsync(new GetMessages(chat, null));
        Assert.That(page.Messages.Count(m => m.Role == "assistant"), Is.EqualTo(2), "one answer per question, none duplicated");
        var posted = Bots.Fake.Messages(channel);
        Assert.That(posted.Select(m => m.Nonce).Where(n => n is not null), Is.Unique, "no envelope posted twice");
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(2));
    }

    [Test]
    public async Task AFullGuild_ReportedByDiscord_IsMadeRoomIn_ByDeletingAClosedChatsChannel()
    {
        // Our count allows 500; Discord (the fake) says the guild is full at 2 text channels: control + one chat.
        Bots.Fake.GuildChannelLimit = 2;
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var first = await Bots.StartChatAsync();
        await Bots.AskAsync(first, "one");
        await Bots.SendAsync(new CloseChat(first));
        var second = (await Bots.SendAsync(new CreateChat("second"))).Id;

        var answer = await Bots.AskAsync(second, "two");

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(Bots.Fake.Channels.Select(c => c.Name), Does.Not.Contain(DiscordRelayChannels.ChannelName(first)));
        Assert.That(Bots.Fake.Requests.Count(r => r.Template == "/guilds/{guild_id}/channels" && r.Method == "POST"), Is.EqualTo(4),
            "control, first chat, the creation Discord refused, and its retry once room was made");
        Assert.That(Bots.Server!.Services.GetRequiredService<DiscordServerRelayTransport>().ReclaimedChannels, Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public async Task AChannelLimitWithNothingToReclaim_FallsBack_WithinTheAckTimeout()
    {
        Bots.Extra["Discord:MaxCategoryChannels"] = "2";
        Bots.Extra["Relay:AckTimeout"] = "00:00:02";
        Bots.Fake.CategoryChannelLimit = 2;
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var busy = await Bots.StartChatAsync();
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(500);
        Bots.Engine.Reply = r => r.Turns[^1].Content == "I stay busy" ? "one two three four five six seven eight nine ten" : "ok";
        await Bots.SendAsync(new Application.Messages.Commands.SendMessage(busy, "I stay busy"));
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Engine.Requests.Count == 1, TimeSpan.FromSeconds(10)), Is.True);
        var another = (await Bots.SendAsync(new CreateChat("no room"))).Id;
        var started = DateTime.UtcNow;

        var answer = await Bots.AskAsync(another, "is there room?", TimeSpan.FromSeconds(15));

        Assert.That(answer.Source, Is.Not.EqualTo("model"), "no channel could be made, so the fallback answered");
        Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(2 + 4)), "within the ack timeout (plus polling)");
        Assert.That(Bots.Fake.Channels.Select(c => c.Name), Does.Contain(DiscordRelayChannels.ChannelName(busy)),
            "a chat with a request in flight never loses its channel");
        Assert.That(Bots.Fake.Channels.Select(c => c.Name), Does.Not.Contain(DiscordRelayChannels.ChannelName(another)));
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1));
    }

    [Test]
    public async Task AClientBotThatVanishesJustBeforeAMessage_IsFallenBackFrom_WithinTheAckTimeout()
    {
        Bots.Extra["Relay:AckTimeout"] = "00:00:03";
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        Assert.That((await Bots.AskAsync(chat, "are you there?")).Source, Is.EqualTo("model"));
        // A server bot that has only just started cannot tell a host gone from one it has not heard yet: for two worker
        // timeouts after it began to listen, a silent host's questions wait rather than get a notice (RelayWay.HidesHosts;
        // asked then, this one was answered 7.4 s after it was sent, at the window's end). The vanishing is told after.
        var way = Bots.Server!.Services.GetRequiredService<MeatLizard.Application.Relay.RelayWay>();
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => !way.HidesHosts, TimeSpan.FromSeconds(20)), Is.True,
            "the server bot's start-up window ended");

        await Bots.StopClientAsync(); // Its last heartbeat is still fresh: the server may still think it online.
        var started = DateTime.UtcNow;
        var answer = await Bots.AskAsync(chat, "still there?", TimeSpan.FromSeconds(15));

        Assert.That(answer.Source, Is.Not.EqualTo("model"));
        Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(3 + 3)), "within Relay:AckTimeout (plus polling)");
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1));
    }
}
