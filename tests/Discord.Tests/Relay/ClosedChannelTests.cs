using System.Text.Json.Nodes;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Sessions.Commands;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Discord.Relay;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>A closed chat's channel is archived or deleted, as configured, as soon as the chat closes.</summary>
public sealed class ClosedChannelTests
{
    private const string ReadOnly = "66560"; // VIEW_CHANNEL + READ_MESSAGE_HISTORY
    private const string NoWriting = "34816"; // SEND_MESSAGES + ATTACH_FILES

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

    private FakeChannel ChannelOf(Guid chat) => _bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat));

    private static List<(string Id, string Allow, string Deny)> Overwrites(FakeChannel channel) =>
        [.. channel.Overwrites.Select(o => (o!["id"]!.GetValue<string>(), o["allow"]!.GetValue<string>(), o["deny"]!.GetValue<string>()))];

    [Test]
    public async Task ClosingAChat_ArchivesItsChannelAtOnce_LockedAndMovedToTheArchiveCategory()
    {
        var archive = _bots.Fake.CreateCategory("meatlizard-archive");
        _bots.Extra["Discord:ArchiveCategoryId"] = archive.Id;
        _bots.Extra["Discord:ClosedChannelSweepInterval"] = "01:00:00"; // only the close itself can do it in time
        await _bots.StartServerAsync();
        await _bots.StartClientAsync();
        var closing = await _bots.StartChatAsync();
        await _bots.AskAsync(closing, "first");
        var staying = (await _bots.SendAsync(new CreateSession("staying"))).Id;
        await _bots.AskAsync(staying, "second");
        var messages = _bots.Fake.Messages(ChannelOf(closing).Id).Count;

        await _bots.SendAsync(new CloseSession(closing));

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => ChannelOf(closing).ParentId == archive.Id, TimeSpan.FromSeconds(10)), Is.True,
            "moved to the archive category right after closing");
        var archived = ChannelOf(closing);
        Assert.That(Overwrites(archived), Is.EquivalentTo(new[]
        {
            (_bots.Fake.GuildId, "0", "1024"),
            (_bots.ServerBot.UserId, ReadOnly, NoWriting),
            (_bots.ClientBot.UserId, ReadOnly, NoWriting),
        }), "still hidden from everyone; both bots may read it, neither may write");
        Assert.That(archived.Topic, Does.Contain("closed"));
        Assert.That(_bots.Fake.Messages(archived.Id), Has.Count.EqualTo(messages), "the history is kept");
        Assert.That(ChannelOf(staying).ParentId, Is.EqualTo(_bots.Fake.CategoryId), "an open chat keeps its channel");
        Assert.That(Overwrites(ChannelOf(staying)), Does.Contain((_bots.ClientBot.UserId, "101376", "0")));
        Assert.That((await _bots.AskAsync(staying, "third")).Source, Is.EqualTo("model"));
        Assert.That(_bots.Server!.Services.GetRequiredService<DiscordChannelRetirement>().Archived, Is.EqualTo(1));
    }

    [Test]
    public async Task SessionCloseByAnAdmin_DeletesTheChannelAtOnce_WhenConfiguredToDelete()
    {
        _bots.Extra["Discord:ClosedChannels"] = "Delete";
        _bots.Extra["Discord:ClosedChannelSweepInterval"] = "01:00:00";
        await _bots.StartServerAsync();
        await _bots.StartClientAsync();
        var chat = await _bots.StartChatAsync();
        await _bots.AskAsync(chat, "hello");
        var channel = ChannelOf(chat).Id;
        var admin = _bots.Fake.CreateChannel("admin").Id;

        await _bots.Fake.InvokeCommandAsync(_bots.ServerBot, admin, "42", admin: true, "session",
            [new JsonObject
            {
                ["name"] = "close", ["type"] = 1,
                ["options"] = new JsonArray(new JsonObject { ["name"] = "id", ["type"] = 3, ["value"] = chat.ToString() }),
            }]);

        // The fake removes the channel before it logs the request, and the bot counts after the answer: wait for all.
        var retirement = _bots.Server!.Services.GetRequiredService<DiscordChannelRetirement>();
        int Deletes() => _bots.Fake.Requests.Count(r => r.Method == "DELETE" && r.Path == $"/api/v10/channels/{channel}");
        Assert.That(await FakeDiscordKit.EventuallyAsync(
                () => _bots.Fake.Channel(channel) is null && Deletes() > 0 && retirement.Deleted > 0, TimeSpan.FromSeconds(10)),
            Is.True, "the closed chat's channel is deleted");
        Assert.That(Deletes(), Is.EqualTo(1));
        Assert.That(retirement.Deleted, Is.EqualTo(1));
    }

    [Test]
    public async Task AChatClosedWhereTheServerBotCouldNotHear_IsFoundByTheSweep()
    {
        _bots.Extra["Discord:ClosedChannelSweepInterval"] = "00:00:01";
        await _bots.StartServerAsync();
        await _bots.StartClientAsync();
        var chat = await _bots.StartChatAsync();
        await _bots.AskAsync(chat, "hello");

        // Closed by another process (an API instance), whose close never reached this one.
        await using (var scope = _bots.Server!.Services.CreateAsyncScope())
        {
            var sessions = scope.ServiceProvider.GetRequiredService<IChatSessionRepository>();
            var session = await sessions.GetAsync(new SessionId(chat), CancellationToken.None);
            session!.CloseAsOperator(DateTimeOffset.UtcNow);
            await sessions.UpdateAsync(session, CancellationToken.None);
        }

        Assert.That(await FakeDiscordKit.EventuallyAsync(() =>
            Overwrites(ChannelOf(chat)).Contains((_bots.ClientBot.UserId, ReadOnly, NoWriting)), TimeSpan.FromSeconds(10)), Is.True,
            "locked where it is (no archive category configured)");
        Assert.That(ChannelOf(chat).ParentId, Is.EqualTo(_bots.Fake.CategoryId));
    }

    [Test]
    public async Task AFullArchiveCategory_MakesRoomByDeletingTheOldestArchivedChannels()
    {
        var archive = _bots.Fake.CreateCategory("meatlizard-archive");
        _bots.Extra["Discord:ArchiveCategoryId"] = archive.Id;
        _bots.Extra["Discord:MaxCategoryChannels"] = "3";
        _bots.Fake.CategoryChannelLimit = 3;
        await _bots.StartServerAsync();
        await _bots.StartClientAsync();
        var chats = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            var chat = i == 0 ? await _bots.StartChatAsync() : (await _bots.SendAsync(new CreateSession($"chat {i}"))).Id;
            await _bots.AskAsync(chat, $"question {i}");
            await _bots.SendAsync(new CloseSession(chat));
            Assert.That(await FakeDiscordKit.EventuallyAsync(() => ChannelOf(chat).ParentId == archive.Id, TimeSpan.FromSeconds(10)), Is.True,
                $"chat {i} archived");
            chats.Add(chat);
        }

        var names = _bots.Fake.Channels.Select(c => c.Name).ToList();
        Assert.That(names, Does.Not.Contain(DiscordRelayChannels.ChannelName(chats[0])), "the oldest archived channels made room");
        Assert.That(names, Does.Not.Contain(DiscordRelayChannels.ChannelName(chats[1])));
        Assert.That(_bots.Fake.Channels.Where(c => c.ParentId == archive.Id).Select(c => c.Name),
            Is.EquivalentTo(new[] { DiscordRelayChannels.ChannelName(chats[2]), DiscordRelayChannels.ChannelName(chats[3]) }));
    }
}
