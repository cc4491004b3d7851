using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Feedback;
using MeatLizard.Application.Feedback.Queries;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using DiscordMessage = MeatLizard.Discord.Tests.Fake.FakeMessage;

namespace MeatLizard.Discord.Tests.Chat;

// Rating an answer on Discord: the chat owner's 👍/👎 on the bot's answer, withdrawn when taken away.
public sealed partial class SearchAndShareTests
{
    [Test]
    public async Task AThumbOnAnAnswer_ByTheChatsOwner_RatesIt_AndNobodyElsesCounts()
    {
        var (bob, first, firstChat, second, secondChat) = await TwoAnswersOfAliceAsync();

        await Fake.ReactAsync(_alice, first, "👍");
        var up = await RatingAsync(firstChat, Ratings.Up);
        await Fake.ReactAsync(bob, first, "👎");
        await Fake.ReactAsync(_alice, first, "🦎");
        await Fake.ReactAsync(_alice, second, "👎🏽"); // handled after the two above: once it counts, they were seen
        await RatingAsync(secondChat, Ratings.Down);
        var unchanged = await Bots.SendAsync(new ListChatFeedback(firstChat));
        await Fake.ReactAsync(_alice, first, "👎");
        var changed = await RatingAsync(firstChat, Ratings.Down);

        Assert.That(up.Rating, Is.EqualTo(Ratings.Up));
        Assert.That(unchanged.Single().Rating, Is.EqualTo(Ratings.Up), "another member's thumb and another emoji count for nothing");
        Assert.That(changed.MessageId, Is.EqualTo(up.MessageId), "the owner's other thumb replaces the rating");
        Assert.That(first.Content, Is.EqualTo("You said: rate this"));
    }

    [Test]
    public async Task AThumbOnAMessageThatIsNoAnswer_IsIgnored_AndTheServerBotAsksForGuildReactions()
    {
        await StartAsync();
        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} my own words");
        var answer = await AnswerToAsync(question);
        var chat = await CurrentChatAsync("discord", _chat.Id, _alice);
        await SignInAsAsync("discord", _alice);

        await Fake.ReactAsync(_alice, question, "👍"); // the member's own message, no answer of the bot's
        await Fake.ReactAsync(_alice, answer, "👎");
        var rated = await RatingAsync(chat, Ratings.Down);

        Assert.That((await Bots.SendAsync(new ListChatFeedback(chat))).Single().MessageId, Is.EqualTo(rated.MessageId));
    }

    [Test]
    public async Task AThumbTakenAway_WithdrawsTheRatingItGave_ButNotTheOtherThumbGivenSince()
    {
        var (bob, first, firstChat, second, secondChat) = await TwoAnswersOfAliceAsync();

        await Fake.ReactAsync(_alice, first, "👍");
        await RatingAsync(firstChat, Ratings.Up);
        await Fake.UnreactAsync(_alice, first, "👍");
        await UnratedAsync(firstChat);
        await Fake.ReactAsync(_alice, first, "👍🏽");
        await Fake.ReactAsync(_alice, first, "👎");
        await RatingAsync(firstChat, Ratings.Down);
        await Fake.ReactAsync(bob, first, "👎");
        await Fake.UnreactAsync(bob, first, "👎"); // not bob's to withdraw
        await Fake.UnreactAsync(_alice, first, "👍🏽"); // the thumb given before the rating that stands
        await Fake.ReactAsync(_alice, second, "👍"); // handled after the ones above: once it counts, they were seen
        await RatingAsync(secondChat, Ratings.Up);
        var kept = await Bots.SendAsync(new ListChatFeedback(firstChat));
        await Fake.UnreactAsync(_alice, first, "👎");
        await UnratedAsync(firstChat);

        Assert.That(kept.Single().Rating, Is.EqualTo(Ratings.Down), "another member's thumb and the older thumb withdraw nothing");
        Assert.That((await Bots.SendAsync(new ListChatFeedback(secondChat))).Single().Rating, Is.EqualTo(Ratings.Up));
    }

    [Test]
    public async Task AThumbTakenAway_LeavesTheRatingOfTheThumbsStillShown()
    {
        var (_, first, firstChat, second, secondChat) = await TwoAnswersOfAliceAsync();

        await Fake.ReactAsync(_alice, first, "👍");
        await Fake.ReactAsync(_alice, first, "👎");
        await RatingAsync(firstChat, Ratings.Down);
        await Fake.UnreactAsync(_alice, first, "👎"); // the 👍 given before it still shows
        await RatingAsync(firstChat, Ratings.Up);
        await Fake.ReactAsync(_alice, second, "👎🏿");
        await Fake.ReactAsync(_alice, second, "👎");
        await Fake.UnreactAsync(_alice, second, "👎"); // the other 👎 still shows
        await Fake.UnreactAsync(_alice, first, "👍");
        await UnratedAsync(firstChat); // handled after the one before: the second answer is still rated down
        var down = await Bots.SendAsync(new ListChatFeedback(secondChat));

        Assert.That(down.Single().Rating, Is.EqualTo(Ratings.Down), "a thumb in another skin tone still rates it");
    }

    /// <summary>Alice's two answers, each in a chat of its own, bob a member we know, and alice signed in.</summary>
    private async Task<(string Bob, DiscordMessage First, Guid FirstChat, DiscordMessage Second, Guid SecondChat)>
        TwoAnswersOfAliceAsync()
    {
        await StartAsync();
        var bob = Fake.AddMember("bob");
        await AnswerToAsync(Fake.PostAsMember(bob, _chat.Id, $"{Mention} bob was here"));
        var first = await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} rate this"));
        var firstChat = await CurrentChatAsync("discord", _chat.Id, _alice);
        var second = await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} and this"));
        var secondChat = await CurrentChatAsync("discord", _chat.Id, _alice);
        await SignInAsAsync("discord", _alice);
        return (bob, first, firstChat, second, secondChat);
    }

    private async Task SignInAsAsync(string network, string member)
    {
        await using var scope = Bots.Server!.Services.CreateAsyncScope();
        Bots.User.Id = (await scope.ServiceProvider.GetRequiredService<IChannelIdentityStore>()
            .FindAsync(network, member, CancellationToken.None))!.UserId;
    }

    /// <summary>The chat's one rating once it is <paramref name="rating"/>.</summary>
    private async Task<FeedbackDto> RatingAsync(Guid chat, string rating) =>
        (await FeedbackOnceAsync(chat, f => f.Any(r => r.Rating == rating), $"rated {rating}")).Single(r => r.Rating == rating);

    /// <summary>Waits until no answer of the chat is rated.</summary>
    private Task UnratedAsync(Guid chat) => FeedbackOnceAsync(chat, f => f.Count == 0, "left unrated");

    private async Task<IReadOnlyList<FeedbackDto>> FeedbackOnceAsync(
        Guid chat, Func<IReadOnlyList<FeedbackDto>, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (DateTime.UtcNow < deadline)
        {
            if (await Bots.SendAsync(new ListChatFeedback(chat)) is var feedback && done(feedback))
            {
                return feedback;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"The answer was not {what} in time.");
        return null!;
    }
}
