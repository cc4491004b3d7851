using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Inference;
using MeatLizard.Application.Chats.Commands;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Discord.Relay;
using MeatLizard.Infrastructure.Discord.Rest;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>
/// Several hosts, each its own Discord bot: the server bot lets every bot in <c>Discord:ClientBotUserIds</c> into the
/// relay channels and reads only them. (Which host answers a request is routing, decided elsewhere: with several client
/// bots online every one of them would run a request today, so no test here asks a question with two of them online.)
/// </summary>
public sealed class SeveralClientBotsTests : TwoBotsTest
{
    private const string RelayBot = "101376";
    private const string ReadOnlyAllow = "66560";
    private const string ReadOnlyDeny = "34816";

    private static List<(string Id, string Allow, string Deny)> Overwrites(FakeChannel channel) =>
        [.. channel.Overwrites.Select(o => (o!["id"]!.GetValue<string>(), o["allow"]!.GetValue<string>(), o["deny"]!.GetValue<string>()))];

    private FakeChannel Control => Bots.Fake.Channels.Single(c => c.Name == "ml-control");

    private FakeChannel ChannelOf(Guid chat) => Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat));

    private DiscordIgnoredMessages IgnoredBy(Microsoft.Extensions.Hosting.IHost host) => host.Services.GetRequiredService<DiscordIgnoredMessages>();

    [Test]
    public async Task EveryListedClientBot_IsLetIntoTheRelayChannels_AndTheServerBotHearsEachOfThem()
    {
        var second = Bots.AddClientBot("meatlizard-client-2");
        var third = Bots.AddClientBot("meatlizard-client-3");
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        Assert.That((await Bots.AskAsync(chat, "hello")).Source, Is.EqualTo("model"));
        var rejections = Bots.Server!.Services.GetRequiredService<RelayRejectionCounter>();
        var rejectedBefore = rejections.Total;

        await Bots.StartClientAsync(second, new ScriptedEngine());
        await Bots.StartClientAsync(third, new ScriptedEngine());
        await Bots.WaitForWorkersAsync(3);

        foreach (var channel in new[] { Control, ChannelOf(chat) })
        {
            Assert.That(Overwrites(channel), Is.SupersetOf(new[]
            {
                (Bots.Fake.GuildId, "0", "1024"),
                (Bots.ServerBot.UserId, RelayBot, "0"),
                (Bots.ClientBot.UserId, RelayBot, "0"),
                (second.UserId, RelayBot, "0"),
                (third.UserId, RelayBot, "0"),
            }), channel.Name);
        }

        Assert.That(IgnoredBy(Bots.Server!).Count(IgnoredMessageReason.ForeignAuthor), Is.Zero, "every client bot is read");
        Assert.That(rejections.Total, Is.EqualTo(rejectedBefore), "the other client bots' envelopes all open: "
            +
            string.Join(", ", Enum.GetValues<MeatLizard.Application.Abstractions.EnvelopeRejection>().Select(r => $"{r}={rejections.Count(r)}")));
    }

    [Test]
    public async Task AnUnlistedBot_WithTheKeysAndAWayIn_IsIgnoredAndCounted_AndAClientBotPassesOverItQuietly()
    {
        Bots.ClientLogs = new RecordedLogs();
        var stranger = Bots.AddClientBot("not-on-the-list", listed: false);
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        // An admin lets the bot into the control channel by hand (more than the relay grants: add reactions too).
        Bots.Fake.SetOverwriteByHand(Control.Id, stranger.UserId, 1, DiscordPermissions.RelayBot | 64, 0);

        await Bots.StartClientAsync(stranger, new ScriptedEngine());

        var server = IgnoredBy(Bots.Server!);
        var client = IgnoredBy(Bots.Client!);
        Assert.That(await FakeDiscordKit.EventuallyAsync(
                () => server.Count(IgnoredMessageReason.ForeignAuthor) >= 3 && client.Count(IgnoredMessageReason.OtherRelayBot) >= 3,
                TimeSpan.FromSeconds(15)), Is.True,
            $"server ignored {server.Count(IgnoredMessageReason.ForeignAuthor)} foreign, client passed over {client.Count(IgnoredMessageReason.OtherRelayBot)}");
        Assert.That(Bots.Fake.Messages(Control.Id).Count(m => m.AuthorId == stranger.UserId && m.Content.StartsWith("ML1.", StringComparison.Ordinal)),
            Is.GreaterThanOrEqualTo(3), "the stranger posts real envelopes");
        await Bots.WaitForWorkersAsync(1);
        Assert.That(Bots.Server!.Services.GetRequiredService<RelayRejectionCounter>().Total, Is.Zero,
            "its envelopes never reach the cipher: the author is checked first");
        Assert.That(client.Count(IgnoredMessageReason.ForeignAuthor), Is.Zero, "a bot let into the channel is another host, not a stranger");
        var aboutIt = Bots.ClientLogs.Entries
            .Where(e => e.Category.EndsWith(nameof(DiscordIgnoredMessages), StringComparison.Ordinal)
                        || e.Category.EndsWith(nameof(DiscordRelayInbox), StringComparison.Ordinal))
            .ToList();
        Assert.That(aboutIt.Where(e => e.Level >= LogLevel.Information), Is.Empty, "another host's traffic is no news");
        Assert.That(aboutIt.Count(e => e.Level == LogLevel.Debug && e.Message.Contains(nameof(IgnoredMessageReason.OtherRelayBot))),
            Is.GreaterThanOrEqualTo(3));
    }

    [Test]
    public async Task ABotTakenOffTheList_LosesItsWayIntoTheChannels_AndIsNoLongerHeard()
    {
        var second = Bots.AddClientBot("meatlizard-client-2");
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var secondLogs = new RecordedLogs();
        await Bots.StartClientAsync(second, new ScriptedEngine(), secondLogs);
        await Bots.WaitForWorkersAsync(2);

        var secondWorker = Bots.OtherClients[second].Services.GetRequiredService<HostJobs>().WorkerId;
        await Bots.StopServerAsync();
        Bots.Listed.Remove(second);
        await Bots.StartServerAsync();
        var presence = Bots.Server!.Services.GetRequiredService<IHostPresence>();
        var heard = new List<Guid>();
        using var watching = new CancellationTokenSource();
        var watch = Task.Run(async () =>
        {
            while (!watching.IsCancellationRequested)
            {
                heard.AddRange((await presence.ListAliveAsync(CancellationToken.None)).Select(w => w.WorkerId));
                await Task.Delay(20);
            }
        });

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Overwrites(Control).All(o => o.Id != second.UserId)), Is.True,
            "the relay's overwrite of the bot is dropped");
        Assert.That(Overwrites(Control), Does.Contain((Bots.ClientBot.UserId, RelayBot, "0")));
        var refusedFrom = DateTimeOffset.UtcNow;
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Fake.Requests.Any(r =>
                r.BotUserId == second.UserId && r.Status == 403 && r.At > refusedFrom && r.Template == "/channels/{channel_id}/messages")),
            Is.True, "Discord refuses its heartbeats now");
        await Task.Delay(TimeSpan.FromSeconds(1));
        await watching.CancelAsync();
        await watch;
        Assert.That(heard, Does.Not.Contain(secondWorker), "not one of its heartbeats counted since it left the list");
        Assert.That(heard, Is.Not.Empty, "the listed bot is heard meanwhile");
    }

    [Test]
    public async Task ChannelsMadeBeforeAHostWasListed_LetItInWhenTheServerBotStarts()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        Assert.That((await Bots.AskAsync(chat, "hello")).Source, Is.EqualTo("model"));
        await Bots.StopServerAsync();

        var added = Bots.AddClientBot("meatlizard-client-2");
        Assert.That(Overwrites(Control).Any(o => o.Id == added.UserId), Is.False, "made before it was listed");
        await Bots.StartServerAsync();

        Assert.That(await FakeDiscordKit.EventuallyAsync(() =>
                Overwrites(Control).Contains((added.UserId, RelayBot, "0")) && Overwrites(ChannelOf(chat)).Contains((added.UserId, RelayBot, "0"))),
            Is.True, "both the control channel and the chat's channel let it in");
        Assert.That(Overwrites(ChannelOf(chat)), Does.Contain((Bots.ClientBot.UserId, RelayBot, "0")));
        await Bots.StartClientAsync(added, new ScriptedEngine());
        await Bots.WaitForWorkersAsync(2);
        Assert.That(Bots.Server!.Services.GetRequiredService<DiscordChannelRetirement>().ChannelsOpenedToClientBots, Is.EqualTo(2));
    }

    [Test]
    public async Task AChannelThatRefusesTheServerBot_KeepsAHostListedLaterOutOfNoOtherChannel()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var refusing = await Bots.StartChatAsync();
        Assert.That((await Bots.AskAsync(refusing, "hello")).Source, Is.EqualTo("model"));
        var other = await Bots.StartChatAsync(); // another user's
        Assert.That((await Bots.AskAsync(other, "hello")).Source, Is.EqualTo("model"));
        await Bots.StopServerAsync();
        // An admin takes "Manage Permissions" from the server bot in one chat's channel (it still reads and writes there).
        Bots.Fake.SetOverwriteByHand(ChannelOf(refusing).Id, Bots.ServerBot.UserId, 1, DiscordPermissions.RelayBot,
            DiscordPermissions.ManageRoles);

        var added = Bots.AddClientBot("meatlizard-client-2");
        await Bots.StartServerAsync();
        await Bots.StartClientAsync(added, new ScriptedEngine());

        await Bots.WaitForWorkersAsync(2);
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Overwrites(ChannelOf(other)).Contains((added.UserId, RelayBot, "0"))),
            Is.True, "the other chat's channel lets it in");
        Assert.That(Overwrites(Control), Does.Contain((added.UserId, RelayBot, "0")));
        // The channels are gone through in no set order: the refusing one may be asked after the other one let it in.
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Fake.Requests.Any(r =>
                r.BotUserId == Bots.ServerBot.UserId && r.Status == 403
                && r.Template == "/channels/{channel_id}/permissions/{overwrite_id}")),
            Is.True, "the refusing channel was asked, and refused");
        Assert.That(Overwrites(ChannelOf(refusing)).Any(o => o.Id == added.UserId), Is.False, "left as the admin wants it");
    }

    [Test]
    public async Task AClosedChatsChannel_IsReadOnlyForEveryListedClientBot()
    {
        Bots.Extra["Discord:ClosedChannelSweepInterval"] = "01:00:00"; // only the close itself can do it in time
        var second = Bots.AddClientBot("meatlizard-client-2");
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        Assert.That((await Bots.AskAsync(chat, "hello")).Source, Is.EqualTo("model"));

        await Bots.SendAsync(new CloseChat(chat));

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Overwrites(ChannelOf(chat)).Contains((second.UserId, ReadOnlyAllow, ReadOnlyDeny))),
            Is.True, "archived");
        Assert.That(Overwrites(ChannelOf(chat)), Is.SupersetOf(new[]
        {
            (Bots.ServerBot.UserId, ReadOnlyAllow, ReadOnlyDeny),
            (Bots.ClientBot.UserId, ReadOnlyAllow, ReadOnlyDeny),
        }));
        var refused = Assert.ThrowsAsync<DiscordForbiddenException>(() =>
            FakeDiscordKit.Rest(Bots.Fake, second).CreateMessageAsync(ChannelOf(chat).Id, "ML1.late", cancellationToken: CancellationToken.None));
        Assert.That(refused!.Code, Is.EqualTo(DiscordErrorCode.MissingPermissions), "it may read the channel, not write");
    }
}
