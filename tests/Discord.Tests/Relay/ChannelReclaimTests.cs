using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Application.Chats.Commands;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Discord.Relay;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>
/// Channels are shared: one user holds at most Discord:MaxChannelsPerUser, and a full category takes channels back
/// from idle chats (least recently used first), never from a chat with a request in flight.
/// </summary>
public sealed class ChannelReclaimTests : TwoBotsTest
{
    private bool HasChannel(Guid chat) => Bots.Fake.Channels.Any(c => c.Name == DiscordRelayChannels.ChannelName(chat));

    private string ChannelOf(Guid chat) => Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;

    private async Task<string?> RecordedChannelAsync(Guid chat)
    {
        await using var scope = Bots.Server!.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IRelayChatChannels>()
            .FindAsync(new ChatId(chat), CancellationToken.None);
    }

    private async Task<Guid> NewChatAsync(string title) => (await Bots.SendAsync(new CreateChat(title))).Id;

    private async Task SignInAnotherUserAsync()
    {
        var user = await Bots.SendAsync(new RegisterUser($"other{Random.Shared.Next(100000)}", "correct horse battery"));
        Bots.User.Id = new UserId(user.Id);
    }

    [Test]
    public async Task OneUser_HoldsAtMostMaxChannelsPerUser_TheLeastRecentlyUsedChatGivingItsChannelBack()
    {
        Bots.Extra["Discord:MaxChannelsPerUser"] = "2";
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var first = await Bots.StartChatAsync();
        var second = await NewChatAsync("second");
        var third = await NewChatAsync("third");
        await Bots.AskAsync(first, "one");
        await Bots.AskAsync(second, "two");
        var firstChannel = ChannelOf(first);

        var answer = await Bots.AskAsync(third, "three");

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(HasChannel(first), Is.False, "the least recently used chat gave its channel back");
        Assert.That(Bots.Fake.Channel(firstChannel), Is.Null, "deleted, not left behind");
        Assert.That(await RecordedChannelAsync(first), Is.Null, "the chat knows it has none now");
        Assert.That(HasChannel(second) && HasChannel(third), Is.True);
        var inbox = Bots.Client!.Services.GetRequiredService<DiscordRelayInbox>();
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => inbox.ChannelsRemembered == 3), Is.True,
            $"the client bot remembers the control channel's messages and the two chats', not the deleted channel's ({inbox.ChannelsRemembered})");

        // The first chat comes back: it gets a new channel, and now the second (least recently used) gives way.
        var again = await Bots.AskAsync(first, "one again");

        Assert.That(again.Source, Is.EqualTo("model"));
        Assert.That(again.Content, Is.EqualTo("You said: one again"));
        Assert.That(ChannelOf(first), Is.Not.EqualTo(firstChannel));
        Assert.That(await RecordedChannelAsync(first), Is.EqualTo(ChannelOf(first)));
        Assert.That(HasChannel(second), Is.False);
        Assert.That(HasChannel(third), Is.True);
        var history = await Bots.SendAsync(new GetMessages(first, null));
        Assert.That(history.Messages.Where(m => m.Role == "assistant").Select(m => m.Content),
            Is.EqualTo(new[] { "You said: one", "You said: one again" }), "the chat's history is the database's, not the channel's");
        Assert.That(Bots.Server!.Services.GetRequiredService<DiscordServerRelayTransport>().TakenBackChannels, Is.EqualTo(2));
    }

    [Test]
    public async Task ACategoryFilledByOneUser_ReportedByDiscord_GivesAnotherUserAChannel_FromTheLeastRecentlyUsedIdleChat()
    {
        // Our count allows 50 per category; Discord (the fake) holds 4: control + three chats, all of one user.
        Bots.Extra["Discord:MaxChannelsPerUser"] = "10";
        Bots.Fake.CategoryChannelLimit = 4;
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chats = new List<Guid> { await Bots.StartChatAsync() };
        chats.Add(await NewChatAsync("second"));
        chats.Add(await NewChatAsync("third"));
        foreach (var chat in chats)
        {
            await Bots.AskAsync(chat, "hello");
        }

        await Bots.AskAsync(chats[0], "the first is used again"); // so the second is now the least recently used
        await SignInAnotherUserAsync();
        var theirs = await NewChatAsync("another user's");

        var answer = await Bots.AskAsync(theirs, "is there room for me?");

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(HasChannel(theirs), Is.True);
        Assert.That(HasChannel(chats[1]), Is.False, "the least recently used idle chat gave its channel back");
        Assert.That(HasChannel(chats[0]) && HasChannel(chats[2]), Is.True);
        Assert.That(Bots.Fake.Channels.Count(c => c.ParentId == Bots.Fake.CategoryId), Is.EqualTo(4));
    }

    [Test]
    public async Task NewChatsRacingForAFullCategory_FromTwoServerBots_EachGetAChannel_FromIdleChats()
    {
        // The category (control + 7 idle chats) is full by Discord's word, not by our count. Six new chats need a
        // channel at once, half through each of two server bots: every creation that finds the category full takes a
        // channel back from an idle chat, and one freed may be taken by a creation racing it (in this process or the
        // other). Each new chat must get its channel all the same: a relay request whose channel could not be made
        // ends in a notice (seen in CI's fault suite: two server bots creating chats' channels at once after a REST outage).
        Bots.Extra["Discord:MaxChannelsPerUser"] = "20";
        Bots.Fake.CategoryChannelLimit = 8;
        await Bots.StartServerAsync();
        await Bots.StartSecondServerAsync();
        var first = Bots.Server!.Services.GetRequiredService<DiscordServerRelayTransport>();
        var second = Bots.SecondServer!.Services.GetRequiredService<DiscordServerRelayTransport>();
        var idle = new List<Guid> { await Bots.StartChatAsync() };
        while (idle.Count < 7)
        {
            idle.Add(await NewChatAsync($"idle {idle.Count}"));
        }

        foreach (var chat in idle)
        {
            await first.SendAsync(new RelayPacket(chat, "an earlier envelope"), CancellationToken.None);
        }

        Assert.That(Bots.Fake.Channels.Count(c => c.ParentId == Bots.Fake.CategoryId), Is.EqualTo(8), "the category is full");
        var fresh = new List<Guid>();
        while (fresh.Count < 6)
        {
            fresh.Add(await NewChatAsync($"new {fresh.Count}"));
        }

        var sends = fresh.Select((chat, i) => Task.Run(async () =>
            await (i % 2 == 0 ? first : second).SendAsync(new RelayPacket(chat, "a new chat's first envelope"), CancellationToken.None)));
        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.That(fresh.Where(chat => !HasChannel(chat)), Is.Empty, "every new chat has its channel");
        Assert.That(Bots.Fake.Channels.Count(c => c.ParentId == Bots.Fake.CategoryId), Is.EqualTo(8), "never over Discord's limit");
        Assert.That(idle.Count(HasChannel), Is.LessThanOrEqualTo(1), "idle chats gave theirs back");
    }

    [Test]
    public async Task AChatWithARequestInFlight_KeepsItsChannel_AndItsAnswerArrivesWhole()
    {
        Bots.Extra["Discord:MaxChannelsPerUser"] = "1";
        Bots.Extra["Relay:AckTimeout"] = "00:00:04";
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var busy = await Bots.StartChatAsync();
        var other = await NewChatAsync("other");
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(400);
        Bots.Engine.Reply = r => r.Turns[^1].Content == "slow"
            ? "a long answer that takes a while to write out word by word"
            : $"You said: {r.Turns[^1].Content}";
        var slow = await Bots.SendAsync(new Application.Messages.Commands.SendMessage(busy, "slow"));
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Engine.Requests.Count == 1, TimeSpan.FromSeconds(10)), Is.True);
        var busyChannel = ChannelOf(busy);

        var refused = await Bots.AskAsync(other, "may I?", TimeSpan.FromSeconds(20));
        Assert.That(HasChannel(other), Is.False);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(await Bots.SendAsync(new GetMessages(busy, null))).Messages.Any(m => m.RequestId == slow.RequestId && m.Role == "assistant")
               && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.That(refused.Source, Is.Not.EqualTo("model"), "no channel could be taken, so the fallback answered");
        var history = await Bots.SendAsync(new GetMessages(busy, null));
        var inFlight = history.Messages.Single(m => m.RequestId == slow.RequestId && m.Role == "assistant");
        Assert.That(inFlight.Source, Is.EqualTo("model"));
        Assert.That(inFlight.Content, Is.EqualTo("a long answer that takes a while to write out word by word"), "the answer in flight arrived whole");
        Assert.That(ChannelOf(busy), Is.EqualTo(busyChannel), "the busy chat kept its channel throughout");

        // Once idle, the other chat may have its turn: the first gives its channel back.
        Assert.That((await Bots.AskAsync(other, "now?")).Source, Is.EqualTo("model"));
        Assert.That(HasChannel(busy), Is.False);
    }
}
