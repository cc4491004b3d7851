using MeatLizard.Application.Messages.Commands;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Discord.Relay;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>
/// Discord does not deliver a channel's messages in the order of their ids (they are only k-sorted, within about a
/// second): two messages the two bots post at once may reach a bot either way round. Neither may be taken for one seen
/// already.
/// </summary>
public sealed class OutOfOrderDeliveryTests : TwoBotsTest
{
    [Test]
    public async Task AStop_DeliveredAfterTheNextPieceOfTheAnswer_StillStopsTheModel()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "warm up");
        var channel = Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(100);
        Bots.Engine.Reply = _ => string.Join(' ', Enumerable.Range(0, 150).Select(i => $"w{i}"));
        var before = Bots.Fake.Messages(channel).Count(m => m.AuthorId == Bots.ClientBot.UserId);

        await Bots.SendAsync(new SendMessage(chat, "a long one"));
        Assert.That(await FakeDiscordKit.EventuallyAsync(() =>
            Bots.Fake.Messages(channel).Count(m => m.AuthorId == Bots.ClientBot.UserId) >= before + 3), Is.True, "streaming started");
        // The server bot's cancel gets its id first, and reaches the client bot after the answer's next piece.
        Bots.Fake.DeliverNextMessageLate(channel, Bots.ServerBot.UserId);
        var stopped = await Bots.SendAsync(new CancelGeneration(chat));

        Assert.That(stopped.Cancelled, Is.True);
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Fake.LateDeliveries == 1), Is.True,
            "the cancel was delivered after a message posted after it");
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Engine.Cancellations == 1, TimeSpan.FromSeconds(5)), Is.True,
            "the model host was told to stop (the answer had 15 s left to write)");
    }
}
