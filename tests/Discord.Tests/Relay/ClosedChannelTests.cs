using System.Text.Json.Nodes;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.OpenAi.Commands;
using MeatLizard.Application.Chats.Commands;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Discord.Relay;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>A closed chat's channel is archived or deleted, as configured, as soon as the chat closes.</summary>
public sealed class ClosedChannelTests : TwoBotsTest
{
    private const string ReadOnly = "66560"; // VIEW_CHANNEL + READ_MESSAGE_HISTORY
    private const string NoWriting = "34816"; // SEND_MESSAGES + ATTACH_FILES

    private FakeChannel ChannelOf(Guid chat) => Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat));

    private static List<(string Id, string Allow, string Deny)> Overwrites(FakeChannel channel) =>
        [.. channel.Overwrites.Select(o => (o!["id"]!.GetValue<string>(), o["allow"]!.GetValue<string>(), o["deny"]!.GetValue<string>()))];

    [Test]
    public async Task ClosingAChat_ArchivesItsChannelAtOnce_LockedAndMovedToTheArchiveCategory()
    {
        var archive = Bots.Fake.CreateCategory("meatlizard-archive");
        Bots.Extra["Discord:ArchiveCategoryId"] = archive.Id;
        Bots.Extra["Discord:ClosedChannelSweepInterval"] = "01:00:00"; // only the close itself can do it in time
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var closing = await Bots.StartChatAsync();
        await Bots.AskAsync(closing, "first");
        var staying = (await Bots.SendAsync(new CreateChat("staying"))).Id;
        await Bots.AskAsync(staying, "second");
        var messages = Bots.Fake.Messages(ChannelOf(closing).Id).Count;

        await Bots.SendAsync(new CloseChat(closing));

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => ChannelOf(closing).ParentId == archive.Id, TimeSpan.FromSeconds(10)), Is.True,
            "moved to the archive category right after closing");
        var archived = ChannelOf(closing);
        Assert.That(Overwrites(archived), Is.EquivalentTo(new[]
        {
            (Bots.Fake.GuildId, "0", "1024"),
            (Bots.ServerBot.UserId, ReadOnly, NoWriting),
            (Bots.ClientBot.UserId, ReadOnly, NoWriting),
        }), "still hidden from everyone; both bots may read it, neither may write");
        Assert.That(archived.Topic, Does.Contain("closed"));
        Assert.That(Bots.Fake.Messages(archived.Id), Has.Count.EqualTo(messages), "the history is kept");
        Assert.That(ChannelOf(staying).ParentId, Is.EqualTo(Bots.Fake.CategoryId), "an open chat keeps its channel");
        Assert.That(Overwrites(ChannelOf(staying)), Does.Contain((Bots.ClientBot.UserId, "101376", "0")));
        Assert.That((await Bots.AskAsync(staying, "third")).Source, Is.EqualTo("model"));
        Assert.That(Bots.Server!.Services.GetRequiredService<DiscordChannelRetirement>().Archived, Is.EqualTo(1));
    }

    [Test]
    public async Task SessionCloseByAnAdmin_DeletesTheChannelAtOnce_WhenConfiguredToDelete()
    {
        Bots.Extra["Discord:ClosedChannels"] = "Delete";
        Bots.Extra["Discord:ClosedChannelSweepInterval"] = "01:00:00";
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "hello");
        var channel = ChannelOf(chat).Id;
        var admin = Bots.Fake.CreateChannel("admin").Id;

        await Bots.Fake.InvokeCommandAsync(Bots.ServerBot, admin, "42", admin: true, "session",
            [new JsonObject
            {
                ["name"] = "close", ["type"] = 1,
                ["options"] = new JsonArray(new JsonObject { ["name"] = "id", ["type"] = 3, ["value"] = chat.ToString() }),
            }]);

        // The fake removes the channel before it logs the request, and the bot counts after the answer: wait for all.
        var retirement = Bots.Server!.Services.GetRequiredService<DiscordChannelRetirement>();
        int Deletes() => Bots.Fake.Requests.Count(r => r.Method == "DELETE" && r.Path == $"/api/v10/channels/{channel}");
        Assert.That(await FakeDiscordKit.EventuallyAsync(
                () => Bots.Fake.Channel(channel) is null && Deletes() > 0 && retirement.Deleted > 0, TimeSpan.FromSeconds(10)),
            Is.True, "the closed chat's channel is deleted");
        Assert.That(Deletes(), Is.EqualTo(1));
        Assert.That(retirement.Deleted, Is.EqualTo(1));
    }

    [Test]
    public async Task AChatClosedWhereTheServerBotCouldNotHear_IsFoundByTheSweep()
    {
        Bots.Extra["Discord:ClosedChannelSweepInterval"] = "00:00:01";
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "hello");

        // Closed by another process (an API instance), whose close never reached this one.
        await using (var scope = Bots.Server!.Services.CreateAsyncScope())
        {
            var chats = scope.ServiceProvider.GetRequiredService<IChatRepository>();
            var session = await chats.GetAsync(new ChatId(chat), CancellationToken.None);
            session!.CloseAsOperator(DateTimeOffset.UtcNow);
            await chats.UpdateAsync(session, CancellationToken.None);
        }

        Assert.That(await FakeDiscordKit.EventuallyAsync(() =>
            Overwrites(ChannelOf(chat)).Contains((Bots.ClientBot.UserId, ReadOnly, NoWriting)), TimeSpan.FromSeconds(10)), Is.True,
            "locked where it is (no archive category configured)");
        Assert.That(ChannelOf(chat).ParentId, Is.EqualTo(Bots.Fake.CategoryId));
    }

    [Test]
    public async Task AChatThatKeptNothing_HasItsChannelDeletedAtOnce_EvenWhereClosedChatsAreArchived()
    {
        var archive = Bots.Fake.CreateCategory("meatlizard-archive");
        Bots.Extra["Discord:ArchiveCategoryId"] = archive.Id;
        Bots.Extra["Discord:ClosedChannelSweepInterval"] = "01:00:00"; // only the answer itself can do it in time
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();

        var user = await Bots.SendAsync(new Application.Auth.Commands.RegisterUser("forgetful", "correct horse battery"));
        Bots.User.Id = new UserId(user.Id);
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(100);
        Bots.Engine.Reply = _ => "one two three four five six seven eight nine ten";
        var started = await Bots.SendAsync(new CompleteChat([new ConversationMessage("user", "forget me")], "default", Store: false));
        await started.Events.DisposeAsync();
        var name = DiscordRelayChannels.ChannelName(started.ChatId);
        FakeChannel? channel = null;
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => (channel = Bots.Fake.Channels.FirstOrDefault(c => c.Name == name)) is not null,
            TimeSpan.FromSeconds(10)), Is.True, "the question went through a relay channel of its own");

        await using var scope = Bots.Server!.Services.CreateAsyncScope();
        var chats = scope.ServiceProvider.GetRequiredService<IChatRepository>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (await chats.GetAsync(new ChatId(started.ChatId), CancellationToken.None) is not null
               && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.That(await chats.GetAsync(new ChatId(started.ChatId), CancellationToken.None), Is.Null,
            "answered, the chat is gone");
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Fake.Channel(channel!.Id) is null, TimeSpan.FromSeconds(10)),
            Is.True, "the channel and its envelopes are deleted, not archived");
        Assert.That(Bots.Fake.Requests.Count(r => r.Method == "DELETE" && r.Path == $"/api/v10/channels/{channel!.Id}"), Is.EqualTo(1));
        Assert.That(Bots.Fake.Channels.Where(c => c.ParentId == archive.Id), Is.Empty);
    }

    [Test]
    public async Task AnArchivedChannel_WhoseChatIsGoneSince_IsDeletedByTheSweep()
    {
        var archive = Bots.Fake.CreateCategory("meatlizard-archive");
        Bots.Extra["Discord:ArchiveCategoryId"] = archive.Id;
        Bots.Extra["Discord:ClosedChannelSweepInterval"] = "00:00:01";
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "hello");
        await Bots.SendAsync(new CloseChat(chat));
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => ChannelOf(chat).ParentId == archive.Id, TimeSpan.FromSeconds(10)),
            Is.True);

        // Deleted by another process (or before a deletion of its channel failed): only the sweep can find it.
        await using (var scope = Bots.Server!.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IChatRepository>()
                .DeleteAsync(new ChatId(chat), CancellationToken.None);
        }

        var name = DiscordRelayChannels.ChannelName(chat);
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Fake.Channels.All(c => c.Name != name), TimeSpan.FromSeconds(10)),
            Is.True, "the archived channel of a chat that is gone is deleted");
    }

    [Test]
    public async Task AFullArchiveCategory_MakesRoomByDeletingTheOldestArchivedChannels()
    {
        var archive = Bots.Fake.CreateCategory("meatlizard-archive");
        Bots.Extra["Discord:ArchiveCategoryId"] = archive.Id;
        Bots.Extra["Discord:MaxCategoryChannels"] = "3";
        Bots.Fake.CategoryChannelLimit = 3;
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chats = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            var chat = i == 0 ? await Bots.StartChatAsync() : (await Bots.SendAsync(new CreateChat($"chat {i}"))).Id;
            await Bots.AskAsync(chat, $"question {i}");
            await Bots.SendAsync(new CloseChat(chat));
            Assert.That(await FakeDiscordKit.EventuallyAsync(() => ChannelOf(chat).ParentId == archive.Id, TimeSpan.FromSeconds(10)), Is.True,
                $"chat {i} archived");
            chats.Add(chat);
        }

        var names = Bots.Fake.Channels.Select(c => c.Name).ToList();
        Assert.That(names, Does.Not.Contain(DiscordRelayChannels.ChannelName(chats[0])), "the oldest archived channels made room");
        Assert.That(names, Does.Not.Contain(DiscordRelayChannels.ChannelName(chats[1])));
        Assert.That(Bots.Fake.Channels.Where(c => c.ParentId == archive.Id).Select(c => c.Name),
            Is.EquivalentTo(new[] { DiscordRelayChannels.ChannelName(chats[2]), DiscordRelayChannels.ChannelName(chats[3]) }));
    }
}
