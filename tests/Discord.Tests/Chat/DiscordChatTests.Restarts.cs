using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Channels;
using MeatLizard.Application.Channels.Commands;
using MeatLizard.Application.Chats.Queries;
using MeatLizard.Application.Common.Models;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Discord.Chat;
using MeatLizard.Discord.Tests.Relay;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Chat;

/// <summary>A server bot stopped mid-answer, two server bots, a question delivered again, an engine that died.</summary>
public sealed partial class DiscordChatTests
{
    [Test]
    public async Task AServerBotStoppedMidAnswer_FinishesItAtItsNextStart_InTheSameReply_AskingTheModelOnce()
    {
        var words = AnswerSlowly(30, TimeSpan.FromMilliseconds(150));
        await StartAsync();

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} count for me");
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => BotRepliesTo(question).Any(m =>
            m.Content.EndsWith(ChannelTexts.Writing, StringComparison.Ordinal)), Patience), Is.True, "the answer was streaming");
        await Bots.StopServerAsync(); // Discord will not deliver the question again
        await Bots.StartServerAsync();
        var answer = await AnswerToAsync(question);

        Assert.That(answer, Is.EqualTo(new[] { words }), "the whole answer, once");
        Assert.That(BotRepliesTo(question), Has.Count.EqualTo(1), "the reply streamed before the stop was finished, not a second one");
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1), "the model was asked once");
    }

    [Test]
    public async Task WithTwoServerBots_AMention_IsAnsweredOnce_AndTheModelAskedOnce()
    {
        // Both bots' gateway sessions receive every message: without the question's lease both answered it (two
        // replies, or one reply edited by two writers), and the second could ask the model again.
        await StartAsync();
        await Bots.StartSecondServerAsync();

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} what is a meat lizard?");
        var answer = await AnswerToAsync(question);
        await Task.Delay(TimeSpan.FromSeconds(2)); // the other bot's turn, were it to answer too

        Assert.That(answer, Is.EqualTo(new[] { "You said: what is a meat lizard?" }));
        Assert.That(BotRepliesTo(question), Has.Count.EqualTo(1), "one reply");
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1), "the model was asked once");
    }

    [Test]
    public async Task WithTwoServerBots_TheOneAnsweringStops_AndTheOtherFinishesTheSameReply()
    {
        var words = AnswerSlowly(40, TimeSpan.FromMilliseconds(150));
        await StartAsync();
        await Bots.StartSecondServerAsync();

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} count for me");
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => BotRepliesTo(question).Any(m =>
            m.Content.EndsWith(ChannelTexts.Writing, StringComparison.Ordinal)), Patience), Is.True, "the answer was streaming");
        var duty = ChannelConversations.DutyOf((DiscordChatAdapter.NetworkName, _chat.Id, question.Id));
        var firstAnswers = await HoldsAsync(Bots.Server!, duty);
        if (firstAnswers)
        {
            await Bots.StopServerAsync();
        }
        else
        {
            await Bots.StopSecondServerAsync();
        }

        var answer = await AnswerToAsync(question);

        Assert.That(answer, Is.EqualTo(new[] { words }), "the whole answer, once");
        Assert.That(BotRepliesTo(question), Has.Count.EqualTo(1), "the reply streamed before the stop was finished, not a second one");
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1), "the model was asked once");
    }

    /// <summary>Whether <paramref name="host"/> holds the lease <paramref name="duty"/> (asked as its holder: a renewal).</summary>
    private static async Task<bool> HoldsAsync(Microsoft.Extensions.Hosting.IHost host, string duty)
    {
        var holder = host.Services.GetRequiredService<MeatLizard.Application.Common.DutyRunner>().Holder;
        await using var scope = host.Services.CreateAsyncScope();
        var now = DateTimeOffset.UtcNow;
        return await scope.ServiceProvider.GetRequiredService<IDutyLeases>()
            .TryHoldAsync(duty, holder, now, now + MeatLizard.Application.Common.DutyRunner.Lease, CancellationToken.None);
    }

    [Test]
    public async Task AQuestionDeliveredAgain_MidAnswerOrAfter_IsAnsweredOnce_AndTheModelAskedOnce()
    {
        var words = AnswerSlowly(20, TimeSpan.FromMilliseconds(100));
        await StartAsync();

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} count for me");
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Engine.Requests.Count == 1, Patience), Is.True);
        await Fake.DeliverAgainAsync(question); // while the answer is written
        var answer = await AnswerToAsync(question);
        await Fake.DeliverAgainAsync(question); // once it is shown
        await Task.Delay(1000);

        Assert.That(answer, Is.EqualTo(new[] { words }));
        Assert.That(BotRepliesTo(question), Has.Count.EqualTo(1), "one reply");
        Assert.That(BotRepliesTo(question)[0].Content, Is.EqualTo(words), "its text is the answer");
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1), "the model was asked once");
    }

    [Test]
    public async Task AnAnswerWhoseEngineDied_GoesOnAtItsNextRun_AndTheReplyNeverShowsTwoRunsMixed()
    {
        var words = AnswerSlowly(16, TimeSpan.FromMilliseconds(150));
        Bots.Engine.LoseEngineAfterWords = 10;
        await StartAsync();

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} count for me");
        var answer = await AnswerToAsync(question);

        Assert.That(answer, Is.EqualTo(new[] { words }), "the whole answer, once");
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(2), "asked again after the engine died, to go on from what it wrote");
        var reply = BotRepliesTo(question).Single();
        Assert.That(reply.Versions.Select(v => v.EndsWith(ChannelTexts.Writing, StringComparison.Ordinal) ? v[..^ChannelTexts.Writing.Length] : v),
            Has.All.Matches<string>(shown => words.StartsWith(shown, StringComparison.Ordinal)),
            "every version shown is a start of the answer: " + string.Join(" | ", reply.Versions));
    }
}
