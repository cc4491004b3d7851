using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Admin;
using MeatLizard.Application.Admin.Commands;
using MeatLizard.Application.Auth.Commands;
using MeatLizard.Application.Channels;
using MeatLizard.Application.Channels.Commands;
using MeatLizard.Application.Sessions.Queries;
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
public sealed class DiscordChatTests : TwoBotsTest
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
        Bots.ServerServices = services =>
        {
            var registered = services.Last(d => d.ServiceType == typeof(IChannelConversationStore));
            services.Add(new ServiceDescriptor(typeof(IChannelConversationStore), provider =>
                    OutageAt<IChannelConversationStore>.Wrap((IChannelConversationStore)(registered.ImplementationFactory?.Invoke(provider)
                        ?? ActivatorUtilities.CreateInstance(provider, registered.ImplementationType!)),
                        failing, () => Interlocked.Decrement(ref failures) >= 0),
                registered.Lifetime));
        };
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
        Assert.That((await Bots.SendAsync(new ListSessions())).Select(c => c.Title), Is.EqualTo(new[] { "first" }),
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

    [Test]
    public async Task Ask_ShowsTheQuestionInPublic_AndTheAnswerIsAReplyToIt()
    {
        await StartAsync();

        await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false, "ask", Options(("prompt", "why the sand?")));

        FakeMessage? shown = null;
        Assert.That(await FakeDiscordKit.EventuallyAsync(() =>
            (shown = Fake.Messages(_chat.Id).FirstOrDefault(m => m.Content.Contains("asked:", StringComparison.Ordinal))) is not null,
            Patience), Is.True, "the question is shown in the channel");
        Assert.That(shown!.Content, Does.EndWith("why the sand?"));
        Assert.That(await AnswerToAsync(shown), Is.EqualTo(new[] { "You said: why the sand?" }));
    }

    [Test]
    public async Task Ask_OutsideTheChatChannels_IsRefusedToTheMemberAlone()
    {
        await StartAsync();
        var elsewhere = Fake.CreateChannel("elsewhere");

        var interaction = await Fake.InvokeCommandAsync(Bots.ServerBot, elsewhere.Id, _alice, admin: false, "ask",
            Options(("prompt", "hello")));

        var answer = await InteractionAnswerAsync(interaction);
        Assert.That(answer["data"]!["content"]!.GetValue<string>(), Is.EqualTo(MeatLizard.Presentation.DiscordServer.Commands.DiscordAdminCommands.NotAChatChannel));
        Assert.That(answer["data"]!["flags"]!.GetValue<int>(), Is.EqualTo(64));
        Assert.That(Bots.Engine.Requests.Count, Is.Zero);
    }

    [Test]
    public async Task ModelAndHelp_AnswerTheMember_AndAnUnknownModelIsNamed()
    {
        await StartAsync();

        var unknown = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false,
            "model", Options(("name", "no-such-model"))));
        var help = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false, "help"));
        var status = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false, "status"));

        Assert.That(unknown["data"]!["content"]!.GetValue<string>(), Does.StartWith("There is no model named 'no-such-model'"));
        Assert.That(help["data"]!["content"]!.GetValue<string>(), Does.Contain("/reset").And.Contain("/ask"));
        Assert.That(status["data"]!["content"]!.GetValue<string>(), Does.Contain("1 model host(s) online"));
    }

    [Test]
    public async Task Persona_ListsThePersonas_AndTheChosenOneStartsTheMembersNextChat()
    {
        await StartAsync();
        string? systemPrompt = null;
        double? temperature = null;
        Bots.Engine.Reply = r =>
        {
            systemPrompt = r.SystemPrompt;
            temperature = r.Temperature;
            return "ok";
        };
        await using (var scope = Bots.Server!.Services.CreateAsyncScope())
        {
            var admin = Domain.Users.User.Register(Domain.Common.Username.From("persona-admin"), "hash", DateTimeOffset.UtcNow,
                Domain.Users.UserRole.Admin);
            await scope.ServiceProvider.GetRequiredService<IPersonaRepository>().AddAsync(Domain.Personas.Persona.Create(
                admin, shared: true, Domain.Personas.PersonaName.From("Pirate"),
                Domain.Common.SystemPrompt.FromOptional("Talk like a pirate."), null, 1.2, DateTimeOffset.UtcNow), CancellationToken.None);
        }

        var listed = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false, "persona"));
        var unknown = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false,
            "persona", Options(("name", "Ninja"))));
        var chosen = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false,
            "persona", Options(("name", "pirate"))));
        Assert.That(listed["data"]!["content"]!.GetValue<string>(), Does.Contain("Personas: Pirate."));
        Assert.That(unknown["data"]!["content"]!.GetValue<string>(), Does.StartWith("There is no persona named 'Ninja'"));
        Assert.That(chosen["data"]!["content"]!.GetValue<string>(), Does.Contain("new chat as 'Pirate'"));

        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} ahoy?"));
        Assert.That(systemPrompt, Is.EqualTo("Talk like a pirate."), "the new chat starts with the persona's prompt");
        Assert.That(temperature, Is.EqualTo(1.2));

        var none = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false,
            "persona", Options(("name", "none"))));
        Assert.That(none["data"]!["content"]!.GetValue<string>(), Does.StartWith("No persona now"));
        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} plain?"));
        Assert.That(systemPrompt, Is.Null, "no persona, no prompt");
    }

    [Test]
    public async Task AChannelAnAdminAdds_IsAnsweredIn_AndSilentAgainOnceRemoved()
    {
        await StartAsync(allowed: false);
        var admin = Fake.AddMember("admin");

        await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, admin, admin: true, "chat-channels",
            [new JsonObject { ["name"] = "add", ["type"] = 1, ["options"] = new JsonArray(new JsonObject { ["name"] = "channel", ["type"] = 7, ["value"] = _chat.Id }) }]));
        Assert.That(await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} now?")), Is.EqualTo(new[] { "You said: now?" }));

        await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, admin, admin: true, "chat-channels",
            [new JsonObject { ["name"] = "remove", ["type"] = 1, ["options"] = new JsonArray(new JsonObject { ["name"] = "channel", ["type"] = 7, ["value"] = _chat.Id }) }]));
        Fake.PostAsMember(_alice, _chat.Id, $"{Mention} still there?");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1), "silent once removed");
    }

    [Test]
    public async Task ALinkedMember_ChatsAsTheirWebAccount_OnceConfirmed_AndTheCodeWorksOnce()
    {
        await StartAsync();
        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} asked before the link"));
        var web = await Bots.SendAsync(new RegisterUser("webalice", "correct horse battery"));
        Bots.User.Id = new Domain.Common.UserId(web.Id);
        var code = await Bots.SendAsync(new CreateLinkCode());

        var named = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false, "link",
            Options(("code", code.Code.ToLowerInvariant()))));
        var confirm = Options(("code", code.Code.ToLowerInvariant()));
        confirm.Add(new JsonObject { ["name"] = "confirm", ["type"] = 5, ["value"] = true });
        var linked = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, _alice, admin: false, "link",
            confirm));
        var bob = Fake.AddMember("bob");
        var again = await InteractionAnswerAsync(await Fake.InvokeCommandAsync(Bots.ServerBot, _chat.Id, bob, admin: false, "link",
            Options(("code", code.Code))));
        await AnswerToAsync(Fake.PostAsMember(_alice, _chat.Id, $"{Mention} seen on the web?"));

        Assert.That(named["data"]!["content"]!.GetValue<string>(), Does.Contain("'webalice'").And.Contain("confirm:True"));
        Assert.That(named["data"]!["flags"]!.GetValue<int>() & 64, Is.EqualTo(64), "only the member sees the account named");
        Assert.That(linked["data"]!["content"]!.GetValue<string>(), Does.StartWith("Linked to 'webalice'"));
        Assert.That(again["data"]!["content"]!.GetValue<string>(), Does.Contain("unknown, used or expired"));
        var chats = await Bots.SendAsync(new ListSessions());
        Assert.That(chats.Select(c => c.Title), Does.Contain("seen on the web?"), "the web account sees the Discord chat");
        Assert.That(chats.Select(c => c.Title), Does.Contain("asked before the link"), "and the one from before the link");
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

/// <summary>
/// Wraps a <typeparamref name="T"/> so that calls of one method fail as a dropped database connection does (a transient
/// <see cref="Npgsql.NpgsqlException"/>) while <c>fail()</c> says so; every other call goes to the real one.
/// </summary>
public class OutageAt<T> : System.Reflection.DispatchProxy where T : class
{
    private T _inner = null!;
    private string _method = "";
    private Func<bool> _fail = () => false;

    public static T Wrap(T inner, string method, Func<bool> fail)
    {
        var proxy = Create<T, OutageAt<T>>();
        var outage = (OutageAt<T>)(object)proxy;
        (outage._inner, outage._method, outage._fail) = (inner, method, fail);
        return proxy;
    }

    protected override object? Invoke(System.Reflection.MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod!.Name == _method && _fail())
        {
            throw new Npgsql.NpgsqlException("The connection was dropped (test)", new IOException("connection reset"));
        }

        return targetMethod.Invoke(_inner, args);
    }
}
