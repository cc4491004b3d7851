using MeatLizard.Application.Channels;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Application.Feedback;
using MeatLizard.Application.Feedback.Queries;
using MeatLizard.Application.Sharing.Queries;
using MeatLizard.Infrastructure.Telegram;
using MeatLizard.Telegram.Tests.Fake;
using NUnit.Framework;
using TelegramMessage = MeatLizard.Telegram.Tests.Fake.FakeMessage;

namespace MeatLizard.Discord.Tests.Chat;

// The same commands on Telegram: answered in a private chat, refused in a group, where everyone would read them.
public sealed partial class SearchAndShareTests
{
    [Test]
    public async Task Search_OnTelegram_FindsTheMembersChats_InAPrivateChat_AndIsRefusedInAGroup()
    {
        var alice = _telegram.AddUser("Alice", "alice_l");
        var bob = _telegram.AddUser("Bob", "bob_b");
        var own = _telegram.PrivateChat(alice);
        var bobs = _telegram.PrivateChat(bob);
        var group = _telegram.Group("Lizards", super: true, alice, bob);
        await StartAsync(own.Id, bobs.Id, group.Id);
        _telegram.Say(alice, own, "what do chameleons eat");
        await ReplyAsync(own, 1);
        _telegram.Say(bob, bobs, "bob asks about chameleons");
        await ReplyAsync(bobs, 1);
        var chat = await CurrentChatAsync("telegram", own.Id.ToString(), alice.Id.ToString());

        _telegram.Say(alice, own, "/search chameleons");
        var found = await ReplyAsync(own, 2);
        _telegram.Say(alice, own, "/search platypus");
        var nothing = await ReplyAsync(own, 3);
        var inGroup = _telegram.Say(alice, group, "/search@meatlizard_test_bot chameleons");
        var refused = await ReplyAsync(group, 1);

        Assert.That(found.Text, Does.Contain("“what do chameleons eat”"));
        Assert.That(found.Text, Does.Contain($"{TelegramWeb}/c/{chat:D}"), "where the chat opens, on Telegram:PublicBaseUrl");
        Assert.That(found.Text, Does.Not.Contain("bob asks"), "another member's chat is not theirs to find");
        Assert.That(nothing.Text, Is.EqualTo("Nothing in your chats matches 'platypus'."));
        Assert.That(refused.Text, Does.StartWith("Send /search to me in a private chat"));
        Assert.That(refused.ReplyTo?.MessageId, Is.EqualTo(inGroup.MessageId));
        Assert.That(TelegramChatBot.Commands.Select(c => c.Command), Does.Contain("search").And.Contain("share"));
    }

    [Test]
    public async Task Share_OnTelegram_LinksThePrivateChat_UntilRevoked_AndIsRefusedInAGroup_OrWithNoChat()
    {
        var alice = _telegram.AddUser("Alice", "alice_l");
        var own = _telegram.PrivateChat(alice);
        var group = _telegram.Group("Lizards", super: true, alice);
        await StartAsync(own.Id, group.Id);
        _telegram.Say(alice, group, "/share@meatlizard_test_bot");
        var inGroup = await ReplyAsync(group, 1);
        _telegram.Say(alice, own, "/share");
        var noChat = await ReplyAsync(own, 1);
        _telegram.Say(alice, own, "where do skinks live");
        await ReplyAsync(own, 2);

        _telegram.Say(alice, own, "/share");
        var token = TokenIn((await ReplyAsync(own, 3)).Text, TelegramWeb);
        var copy = await Bots.SendAsync(new GetSharedChat(token));
        _telegram.Say(alice, own, "/share Revoke");
        var revoked = await ReplyAsync(own, 4);

        Assert.That(inGroup.Text, Does.StartWith("Send /share to me in a private chat"));
        Assert.That(noChat.Text, Is.EqualTo(ChannelShares.NoChat));
        Assert.That(copy.Messages.Select(m => m.Content), Is.EqualTo(new[] { "where do skinks live", "You said: where do skinks live" }));
        Assert.That(revoked.Text, Does.StartWith("Revoked 1 share link(s)"));
        Assert.ThrowsAsync<NotFoundException>(() => Bots.SendAsync(new GetSharedChat(token)), "a revoked link no longer opens");
    }

    [Test]
    public async Task AThumbOnAnAnswer_OnTelegram_RatesIt_AndNobodyElsesCounts()
    {
        var alice = _telegram.AddUser("Alice", "alice_l");
        var bob = _telegram.AddUser("Bob", "bob_b");
        var group = _telegram.Group("Lizards", super: true, alice, bob);
        _telegram.BotAdministers.Add(group.Id); // Telegram sends a group's reactions only to its administrators
        await StartAsync(group.Id);
        _telegram.Say(alice, group, "@meatlizard_test_bot rate this");
        var first = await ReplyAsync(group, 1);
        var firstChat = await CurrentChatAsync("telegram", group.Id.ToString(), alice.Id.ToString());
        _telegram.Say(bob, group, "@meatlizard_test_bot bob was here"); // bob is a member we know
        await ReplyAsync(group, 2);
        _telegram.Say(alice, group, "@meatlizard_test_bot and this");
        var second = await ReplyAsync(group, 3);
        var secondChat = await CurrentChatAsync("telegram", group.Id.ToString(), alice.Id.ToString());
        await SignInAsAsync("telegram", alice.Id.ToString());

        _telegram.React(alice, first, "👍");
        var up = await RatingAsync(firstChat, Ratings.Up);
        _telegram.React(bob, first, "👎");
        _telegram.React(alice, first, "👍", "🔥"); // another emoji beside the thumb
        _telegram.React(alice, second, "👎"); // the group's updates are handled in order: once it counts, they were seen
        await RatingAsync(secondChat, Ratings.Down);
        var unchanged = await Bots.SendAsync(new ListChatFeedback(firstChat));
        _telegram.React(alice, first, "👎");
        var changed = await RatingAsync(firstChat, Ratings.Down);

        Assert.That(up.Rating, Is.EqualTo(Ratings.Up));
        Assert.That(unchanged.Single().Rating, Is.EqualTo(Ratings.Up), "another member's thumb and another emoji count for nothing");
        Assert.That(changed.MessageId, Is.EqualTo(up.MessageId), "the owner's other thumb replaces the rating");
        Assert.That(first.Text, Is.EqualTo("You said: rate this"));
    }

    [Test]
    public async Task AThumbTakenAway_OnTelegram_WithdrawsTheRating_WhenNoThumbIsLeft_AndTheOneLeftCounts()
    {
        var alice = _telegram.AddUser("Alice", "alice_l");
        var own = _telegram.PrivateChat(alice);
        await StartAsync(own.Id);
        _telegram.Say(alice, own, "rate this");
        var first = await ReplyAsync(own, 1);
        var chat = await CurrentChatAsync("telegram", own.Id.ToString(), alice.Id.ToString());
        await SignInAsAsync("telegram", alice.Id.ToString());

        _telegram.React(alice, first, "👍", "👎"); // a Premium user's two thumbs: the first counts
        await RatingAsync(chat, Ratings.Up);
        _telegram.React(alice, first, "👎"); // the thumb up taken away, the thumb down left
        await RatingAsync(chat, Ratings.Down);
        _telegram.React(alice, first, "🔥"); // the thumb replaced by another emoji
        await UnratedAsync(chat);
        _telegram.React(alice, first, "👍");
        await RatingAsync(chat, Ratings.Up);
        _telegram.React(alice, first);
        await UnratedAsync(chat);
    }

    /// <summary>The bot's <paramref name="count"/>th message in the chat once it no longer shows the "writing" mark.</summary>
    private async Task<TelegramMessage> ReplyAsync(FakeChat chat, int count)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (DateTime.UtcNow < deadline)
        {
            var mine = _telegram.BotMessages(chat);
            if (mine.Count >= count && !mine[count - 1].Text.EndsWith(ChannelTexts.Writing, StringComparison.Ordinal))
            {
                await Task.Delay(300); // the question is marked answered just after the final edit
                return mine[count - 1];
            }

            await Task.Delay(50);
        }

        Assert.Fail($"No message #{count} of the bot in Telegram chat {chat.Id}; it posted: " +
                    string.Join(" | ", _telegram.BotMessages(chat).Select(m => m.Text)));
        return null!;
    }
}
