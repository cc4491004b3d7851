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

/// <summary>
/// Members chat with the model in an allowed channel of the fake Discord, through both bots as their hosts compose
/// them: a mention or a reply to the bot is answered with a reply, streamed by edits, from the model host.
/// </summary>
[NonParallelizable]
public sealed partial class DiscordChatTests : TwoBotsTest
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private FakeChannel _chat = null!;
    private string _alice = null!;

    private FakeDiscordServer Fake => Bots.Fake;

    private async Task StartAsync(bool allowed = true)
    {
        _chat = Fake.CreateChannel("chat-with-the-model");
        _alice = Fake.AddMember("alice");
        if (allowed)
        {
            Bots.Extra["Discord:ChatChannelIds"] = _chat.Id;
        }

        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
    }

    private string Mention => $"<@{Bots.ServerBot.UserId}>";

    [Test]
    public async Task AMention_IsAnsweredWithAReplyInTheSameChannel_FromTheModel()
    {
        await StartAsync();

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} what is a meat lizard?");
        var answer = await AnswerToAsync(question);

        Assert.That(answer, Is.EqualTo(new[] { "You said: what is a meat lizard?" }), "the model saw the question without the mention");
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1), "the model host answered it, through the relay");
        Assert.That(Fake.TypingCalls(_chat.Id), Is.GreaterThan(0), "typing was shown while the model worked");
        var requests = Fake.Requests.Where(r => r.Template == "/channels/{channel_id}/messages" && r.Method == "POST"
                                                && r.Path.Contains(_chat.Id, StringComparison.Ordinal)).ToList();
        Assert.That(requests, Has.All.Matches<RecordedRequest>(r => r.Body!.Contains("\"allowed_mentions\":{\"parse\":[]", StringComparison.Ordinal)),
            "the answer pings nobody");
    }

    [Test]
    public async Task AMentionWithControlCharacters_IsAnsweredFromTheModel_WithThemTakenOut()
    {
        // A member cannot correct a refusal as an API client corrects a 400: before, the reply was the refusal
        // "The question holds a control character (U+0007)…" and the model was never asked.
        await StartAsync();

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} ring\u0007 the \u001b[1mbell\u0000?");
        var answer = await AnswerToAsync(question);

        Assert.That(answer, Is.EqualTo(new[] { "You said: ring the [1mbell?" }));
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1));
    }

    [Test]
    public async Task AReplyToAnAnswer_ContinuesTheChat_TheModelSeesTheEarlierTurns()
    {
        await StartAsync();
        var first = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} my name is Alice");
        await AnswerToAsync(first);
        var firstAnswer = Fake.RepliesTo(_chat.Id, first.Id).Single();
        IReadOnlyList<ChatTurn>? seen = null;
        Bots.Engine.Reply = r =>
        {
            seen = r.Turns;
            return "Your name is Alice";
        };

        var second = Fake.PostAsMember(_alice, _chat.Id, "what is my name?", replyToId: firstAnswer.Id);
        await AnswerToAsync(second);

        Assert.That(seen!.Select(t => t.Content), Is.EqualTo(new[] { "my name is Alice", "You said: my name is Alice", "what is my name?" }));
        var third = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} a new question");
        await AnswerToAsync(third);
        Assert.That(seen!.Select(t => t.Content), Is.EqualTo(new[] { "a new question" }), "a new mention starts a new chat");
    }

    // Reading the question's record fails before anything is sent; storing which request it became fails after the
    // send, where handling it all again would ask the model a second time.
    [TestCase(nameof(IChannelConversationStore.FindQuestionAsync))]
    [TestCase(nameof(IChannelConversationStore.SetQuestionRequestAsync))]
    public async Task AQuestionThatMeetsTheDatabaseAway_IsAnsweredOnce_FromTheModel_WhenItIsBack(string failing)
    {
        // The first two calls meet a dropped connection (the database restarting): nobody sends the question again, so
        // the bot must handle it through the outage itself.
        var failures = 2;
        Bots.ServerServices = services => OutageAt<IChannelConversationStore>.Replace(services, failing,
            () => Interlocked.Decrement(ref failures) >= 0);
        await StartAsync();

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} are you there?");
        var answer = await AnswerToAsync(question);

        Assert.That(answer, Is.EqualTo(new[] { "You said: are you there?" }), "the model's answer, once the database was back");
        Assert.That(failures, Is.LessThan(0), "both outages were met");
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1), "asked of the model once");
        Assert.That(Fake.RepliesTo(_chat.Id, question.Id).Count(m => m.AuthorId == Bots.ServerBot.UserId), Is.EqualTo(1),
            "one reply");
    }

    [Test]
    public async Task InAChannelNotAllowed_TheBotStaysSilent()
    {
        await StartAsync(allowed: false);

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} hello?");
        await Task.Delay(TimeSpan.FromSeconds(3));

        Assert.That(Fake.Messages(_chat.Id).Where(m => m.AuthorId == Bots.ServerBot.UserId), Is.Empty);
        Assert.That(Fake.TypingCalls(_chat.Id), Is.Zero);
        Assert.That(Bots.Engine.Requests.Count, Is.Zero);
        Assert.That(question.Id, Is.Not.Empty);
    }

    [Test]
    public async Task AMessageNeitherMentioningNorReplyingToTheBot_IsIgnored()
    {
        await StartAsync();

        Fake.PostAsMember(_alice, _chat.Id, "just talking among ourselves");
        await Task.Delay(TimeSpan.FromSeconds(2));

        Assert.That(Fake.Messages(_chat.Id).Where(m => m.AuthorId == Bots.ServerBot.UserId), Is.Empty);
    }

    [Test]
    public async Task ALongAnswer_IsSplitIntoRepliesThatEachFit_WithNoCodeBlockLeftOpen()
    {
        await StartAsync();
        var code = string.Join("\n", Enumerable.Range(0, 120).Select(i => $"x{i} = compute({i}) + offset"));
        var paragraph = string.Join(" ", Enumerable.Repeat("lizards bask in the sun", 60));
        Bots.Engine.Reply = _ => paragraph + "\n\n```python\n" + code + "\n```\n\n" + paragraph;

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} show me the code");
        var parts = await AnswerToAsync(question, expectedParts: 3);

        Assert.That(parts, Has.All.Length.LessThanOrEqualTo(2000));
        foreach (var part in parts)
        {
            Assert.That(Regex.Matches(part, "^```", RegexOptions.Multiline).Count % 2, Is.Zero, "a part leaves a code block open:\n" + part);
        }

        var lines = parts.SelectMany(p => p.Split('\n')).Where(l => l.StartsWith('x')).ToList();
        Assert.That(lines, Is.EqualTo(code.Split('\n')), "every line of code, in order, none cut");
    }

    [Test]
    public async Task StreamingByEdits_MeetsNo429_InSteadyState()
    {
        await StartAsync();
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(60);
        Bots.Engine.Reply = _ => string.Join(" ", Enumerable.Range(0, 80).Select(i => $"word{i}"));

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} talk slowly");
        await AnswerToAsync(question);

        var reply = Fake.RepliesTo(_chat.Id, question.Id).Single();
        Assert.That(reply.Edits, Is.GreaterThanOrEqualTo(2), "the reply was edited as the answer grew");
        Assert.That(reply.Edits, Is.LessThanOrEqualTo(10), "at most about one edit a second over the ~5 s answer");
        Assert.That(Fake.NaturalRateLimits, Is.Zero, "no request overdrew a bucket");
    }

    [Test]
    public async Task TheGuildLimit_IsAnsweredWithAClearMessage_NamingTheServer()
    {
        Bots.Extra["RateLimits:PerGuildPerMinute"] = "1";
        Bots.Extra["RateLimits:GuildBurst"] = "1";
        await StartAsync();
        var bob = Fake.AddMember("bob");

        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} first"));
        var refused = await AnswerToAsync(Fake.PostAsMember(bob, _chat.Id, $"{Mention} second"));

        Assert.That(refused.Single(), Does.StartWith("This server is asking too much right now"));
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1), "the refused question never reached the model");
    }

    [Test]
    public async Task TheUserLimit_IsAnsweredWithAClearMessage()
    {
        Bots.Extra["RateLimits:PerUserPerMinute"] = "1";
        Bots.Extra["RateLimits:UserBurst"] = "1";
        await StartAsync();

        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} first"));
        var refused = await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} second"));

        Assert.That(refused.Single(), Does.StartWith("You are asking too fast"));
        await using var scope = Bots.Server!.Services.CreateAsyncScope();
        Bots.User.Id = (await scope.ServiceProvider.GetRequiredService<IChannelIdentityStore>().FindAsync("discord", _alice, CancellationToken.None))!.UserId;
        Assert.That((await Bots.SendAsync(new ListChats())).Select(c => c.Title), Is.EqualTo(new[] { "first" }),
            "the refused question left no empty chat behind");
    }

    [Test]
    public async Task ABannedMember_IsRefused()
    {
        await StartAsync();
        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} hello"));
        await Bots.SendAsync(new BanUser(new AdminActor("discord:admin", "admin", true), "discord:" + _alice));

        var refused = await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} hello again"));

        Assert.That(refused.Single(), Is.EqualTo(ChannelTexts.Banned));
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1));
    }

    [Test]
    public async Task TheModel_IsTheMembersPreference_OverTheChannelsDefault_OverTheDefault()
    {
        await StartAsync();
        string? asked = null;
        Bots.Engine.Reply = r =>
        {
            asked = r.Model;
            return "ok";
        };
        await using (var scope = Bots.Server!.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<ISettingsStore>().SetAsync(new SettingEntry(
                ChannelSettingKeys.ChannelModel("discord", _chat.Id), "channel-model", DateTimeOffset.UtcNow, "test"), CancellationToken.None);
            scope.ServiceProvider.GetRequiredService<IRuntimeSettings>().Invalidate();
        }

        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} which model?"));
        Assert.That(asked, Is.EqualTo("channel-model"), "the channel's default over the platform's");

        await using (var scope = Bots.Server!.Services.CreateAsyncScope())
        {
            var identities = scope.ServiceProvider.GetRequiredService<IChannelIdentityStore>();
            await identities.SetPreferredModelAsync("discord", _alice, "alice-model", CancellationToken.None);
        }

        var question = Fake.PostAsMember(_alice, _chat.Id, $"{Mention} and now?");
        await AnswerToAsync(question);
        Assert.That(asked, Is.EqualTo("alice-model"), "the member's preference over the channel's");

        await using (var scope = Bots.Server!.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IChannelIdentityStore>()
                .SetPreferredModelAsync("discord", _alice, "another-model", CancellationToken.None);
        }

        var reply = Fake.RepliesTo(_chat.Id, question.Id).Single();
        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, "go on", replyToId: reply.Id));
        Assert.That(asked, Is.EqualTo("alice-model"), "the conversation keeps its model");
    }

    /// <summary>Makes the model answer "w0 w1 …" (<paramref name="count"/> words), one word per <paramref name="pause"/>; returns the answer.</summary>
    private string AnswerSlowly(int count, TimeSpan pause)
    {
        var words = string.Join(' ', Enumerable.Range(0, count).Select(i => $"w{i}"));
        Bots.Engine.DelayBetweenWords = pause;
        Bots.Engine.Reply = _ => words;
        return words;
    }

    private static JsonArray Options(params (string Name, string Value)[] options) =>
        [.. options.Select(o => (JsonNode)new JsonObject { ["name"] = o.Name, ["type"] = 3, ["value"] = o.Value })];

    private IReadOnlyList<FakeMessage> BotRepliesTo(FakeMessage question) =>
        Fake.RepliesTo(_chat.Id, question.Id).Where(m => m.AuthorId == Bots.ServerBot.UserId).ToList();

    private async Task<JsonObject> InteractionAnswerAsync(string interaction)
    {
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Fake.InteractionAnswers.Any(a =>
            a["interaction_id"]?.GetValue<string>() == interaction), Patience), Is.True, "the interaction was answered");
        return Fake.InteractionAnswers.First(a => a["interaction_id"]?.GetValue<string>() == interaction);
    }

    /// <summary>The server bot's finished reply (all its parts, in order) to <paramref name="question"/>.</summary>
    private async Task<IReadOnlyList<string>> AnswerToAsync(FakeMessage question, int expectedParts = 1)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (DateTime.UtcNow < deadline)
        {
            var parts = new List<string>();
            var replyTo = question.Id;
            while (Fake.RepliesTo(_chat.Id, replyTo).FirstOrDefault(m => m.AuthorId == Bots.ServerBot.UserId) is { } part)
            {
                parts.Add(part.Content);
                replyTo = part.Id;
            }

            if (parts.Count >= expectedParts && !parts[^1].EndsWith(ChannelTexts.Writing, StringComparison.Ordinal)
                && parts.All(p => p != ChannelAnswerWriter.Continued))
            {
                // Settled: the last edit is in (a final edit follows the answer event at once).
                await Task.Delay(300);
                return parts;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("The server bot did not answer in time.");
    }
}
