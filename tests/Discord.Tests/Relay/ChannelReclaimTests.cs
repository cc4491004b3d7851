using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Application.Sessions.Commands;
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
public sealed class ChannelReclaimTests
{
    private TwoBots _bots = null!;

    [SetUp]
    public async Task SetUp() => _bots = await TwoBots.CreateAsync();

    [TearDown]
    public async Task TearDown()
    {
        try
        {
            Assert.That(_bots.Fake.SchemaViolations, Is.Empty, "every request body must conform to Discord's OpenAPI spec");
        }
        finally
        {
            await _bots.DisposeAsync();
        }
    }

    private bool HasChannel(Guid chat) => _bots.Fake.Channels.Any(c => c.Name == DiscordRelayChannels.ChannelName(chat));

    private string ChannelOf(Guid chat) => _bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;

    private async Task<string?> RecordedChannelAsync(Guid chat)
    {
        await using var scope = _bots.Server!.Services.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<IChatSessionRepository>()
            .GetAsync(new SessionId(chat), CancellationToken.None))!.DiscordChannelId;
    }

    private async Task<Guid> NewChatAsync(string title) => (await _bots.SendAsync(new CreateSession(title))).Id;

    private async Task SignInAnotherUserAsync()
    {
        var user = await _bots.SendAsync(new RegisterUser($"other{Random.Shared.Next(100000)}", "correct horse battery"));
        _bots.User.Id = new UserId(user.Id);
    }

    [Test]
    public async Task OneUser_HoldsAtMostMaxChannelsPerUser_TheLeastRecentlyUsedChatGivingItsChannelBack()
    {
        _bots.Extra["Discord:MaxChannelsPerUser"] = "2";
        await _bots.StartServerAsync();
        await _bots.StartClientAsync();
        var first = await _bots.StartChatAsync();
        var second = await NewChatAsync("second");
        var third = await NewChatAsync("third");
        await _bots.AskAsync(first, "one");
        await _bots.AskAsync(second, "two");
        var firstChannel = ChannelOf(first);

        var answer = await _bots.AskAsync(third, "three");

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(HasChannel(first), Is.False, "the least recently used chat gave its channel back");
        Assert.That(_bots.Fake.Channel(firstChannel), Is.Null, "deleted, not left behind");
        Assert.That(await RecordedChannelAsync(first), Is.Null, "the chat knows it has none now");
        Assert.That(HasChannel(second) && HasChannel(third), Is.True);

        // The first chat comes back: it gets a new channel, and now the second (least recently used) gives way.
        var again = await _bots.AskAsync(first, "one again");

        Assert.That(again.Source, Is.EqualTo("model"));
        Assert.That(again.Content, Is.EqualTo("You said: one again"));
        Assert.That(ChannelOf(first), Is.Not.EqualTo(firstChannel));
        Assert.That(await RecordedChannelAsync(first), Is.EqualTo(ChannelOf(first)));
        Assert.That(HasChannel(second), Is.False);
        Assert.That(HasChannel(third), Is.True);
        var history = await _bots.SendAsync(new GetMessages(first, null));
        Assert.That(history.Messages.Where(m => m.Role == "assistant").Select(m => m.Content),
            Is.EqualTo(new[] { "You said: one", "You said: one again" }), "the chat's history is the database's, not the channel's");
        Assert.That(_bots.Server!.Services.GetRequiredService<DiscordServerRelayTransport>().TakenBackChannels, Is.EqualTo(2));
    }

    [Test]
    public async Task ACategoryFilledByOneUser_ReportedByDiscord_GivesAnotherUserAChannel_FromTheLeastRecentlyUsedIdleChat()
    {
        // Our count allows 50 per category; Discord (the fake) holds 4: control + three chats, all of one user.
        _bots.Extra["Discord:MaxChannelsPerUser"] = "10";
        _bots.Fake.CategoryChannelLimit = 4;
        await _bots.StartServerAsync();
        await _bots.StartClientAsync();
        var chats = new List<Guid> { await _bots.StartChatAsync() };
        chats.Add(await NewChatAsync("second"));
        chats.Add(await NewChatAsync("third"));
        foreach (var chat in chats)
        {
            await _bots.AskAsync(chat, "hello");
        }

        await _bots.AskAsync(chats[0], "the first is used again"); // so the second is now the least recently used
        await SignInAnotherUserAsync();
        var theirs = await NewChatAsync("another user's");

        var answer = await _bots.AskAsync(theirs, "is there room for me?");

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(HasChannel(theirs), Is.True);
        Assert.That(HasChannel(chats[1]), Is.False, "the least recently used idle chat gave its channel back");
        Assert.That(HasChannel(chats[0]) && HasChannel(chats[2]), Is.True);
        Assert.That(_bots.Fake.Channels.Count(c => c.ParentId == _bots.Fake.CategoryId), Is.EqualTo(4));
    }

    [Test]
    public async Task AChatWithARequestInFlight_KeepsItsChannel_AndItsAnswerArrivesWhole()
    {
        _bots.Extra["Discord:MaxChannelsPerUser"] = "1";
        _bots.Extra["Relay:AckTimeout"] = "00:00:04";
        await _bots.StartServerAsync();
        await _bots.StartClientAsync();
        var busy = await _bots.StartChatAsync();
        var other = await NewChatAsync("other");
        _bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(400);
        _bots.Engine.Reply = r => r.Turns[^1].Content == "slow"
            ? "a long answer that takes a while to write out word by word"
            : $"You said: {r.Turns[^1].Content}";
        var slow = await _bots.SendAsync(new Application.Messages.Commands.SendMessage(busy, "slow"));
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => _bots.Engine.Requests == 1, TimeSpan.FromSeconds(10)), Is.True);
        var busyChannel = ChannelOf(busy);

        var refused = await _bots.AskAsync(other, "may I?", TimeSpan.FromSeconds(20));
        Assert.That(HasChannel(other), Is.False);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(await _bots.SendAsync(new GetMessages(busy, null))).Messages.Any(m => m.RequestId == slow.RequestId && m.Role == "assistant")
               && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.That(refused.Source, Is.Not.EqualTo("model"), "no channel could be taken, so the fallback answered");
        var history = await _bots.SendAsync(new GetMessages(busy, null));
        var inFlight = history.Messages.Single(m => m.RequestId == slow.RequestId && m.Role == "assistant");
        Assert.That(inFlight.Source, Is.EqualTo("model"));
        Assert.That(inFlight.Content, Is.EqualTo("a long answer that takes a while to write out word by word"), "the answer in flight arrived whole");
        Assert.That(ChannelOf(busy), Is.EqualTo(busyChannel), "the busy chat kept its channel throughout");

        // Once idle, the other chat may have its turn: the first gives its channel back.
        Assert.That((await _bots.AskAsync(other, "now?")).Source, Is.EqualTo("model"));
        Assert.That(HasChannel(busy), Is.False);
    }
}
