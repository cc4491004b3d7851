using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Chats.Commands;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Domain.Common;
using MeatLizard.Infrastructure.Discord.Relay;
using MeatLizard.Infrastructure.Relay;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

public sealed class DiscordRelayTests : TwoBotsTest
{
    private IEnumerable<string> EverythingDiscordSaw() =>
        Bots.Fake.AllMessages().Select(m => m.Content)
            .Concat(Bots.Fake.AllMessages().Where(m => m.Attachment is not null)
                .Select(m => System.Text.Encoding.UTF8.GetString(m.Attachment!.Content)))
            .Concat(Bots.Fake.Requests.Select(r => r.Body ?? ""));

    [Test]
    public async Task AChat_GoesThroughBothBots_InAPrivateChannel_AndDiscordSeesOnlyCiphertext()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();

        var answer = await Bots.AskAsync(chat, "Where do meat lizards sleep?");

        Assert.That(answer.Content, Is.EqualTo("You said: Where do meat lizards sleep?"));
        Assert.That(answer.Source, Is.EqualTo("model"));
        var channel = Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat));
        Assert.That(channel.ParentId, Is.EqualTo(Bots.Fake.CategoryId));
        var overwrites = channel.Overwrites.Select(o => (Id: o!["id"]!.GetValue<string>(), Allow: o["allow"]!.GetValue<string>(), Deny: o["deny"]!.GetValue<string>())).ToList();
        Assert.That(overwrites, Does.Contain((Bots.Fake.GuildId, "0", "1024")));
        Assert.That(overwrites, Does.Contain((Bots.ServerBot.UserId, "101376", "0")));
        Assert.That(overwrites, Does.Contain((Bots.ClientBot.UserId, "101376", "0")));
        await using (var scope = Bots.Server!.Services.CreateAsyncScope())
        {
            var recorded = await scope.ServiceProvider.GetRequiredService<IRelayChatChannels>().FindAsync(new ChatId(chat), CancellationToken.None);
            Assert.That(recorded, Is.EqualTo(channel.Id));
        }

        var messages = Bots.Fake.Messages(channel.Id);
        Assert.That(messages.Where(m => m.AuthorId == Bots.ServerBot.UserId), Is.Not.Empty);
        Assert.That(messages.Where(m => m.AuthorId == Bots.ClientBot.UserId), Is.Not.Empty);
        Assert.That(messages.Select(m => m.Content), Has.All.StartWith("ML1."));
        Assert.That(EverythingDiscordSaw(), Has.None.Contains("lizards sleep"), "no prompt or reply text in the clear");
        Assert.That(Bots.Fake.Channels.Any(c => c.Name == "ml-control"), Is.True);
    }

    [Test]
    public async Task WhileTheModelGenerates_TheClientBotIsTyping_AndStopsWhenTheAnswerIsFinal()
    {
        Bots.Extra["Discord:TypingInterval"] = "00:00:01";
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(400);
        var reply = string.Join(' ', Enumerable.Range(0, 12).Select(i => $"word{i}"));
        Bots.Engine.Reply = _ => reply;

        var answer = await Bots.AskAsync(chat, "take your time");

        Assert.That(answer.Content, Is.EqualTo(reply));
        var channel = Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;
        var typing = Bots.Fake.Requests.Where(r => r.Template == "/channels/{channel_id}/typing").ToList();
        Assert.That(typing, Has.All.Matches<RecordedRequest>(r =>
            r.BotUserId == Bots.ClientBot.UserId && r.Path == $"/api/v10/channels/{channel}/typing" && r.Status < 300));
        Assert.That(typing, Has.Count.GreaterThanOrEqualTo(3), "sent at once and re-sent every second over 4.8 s of generation");
        var final = Bots.Fake.Messages(channel).Last(m => m.AuthorId == Bots.ClientBot.UserId);
        Assert.That(typing.Max(r => r.At), Is.LessThanOrEqualTo(FakeDiscordServer.TimeOf(final.Id)), "no typing after the final answer");
        var gaps = typing.Zip(typing.Skip(1), (a, b) => b.At - a.At).ToList();
        Assert.That(gaps, Has.All.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(900)), "re-sent on the interval, not more often");

        await Task.Delay(TimeSpan.FromSeconds(2.5));
        Assert.That(Bots.Fake.Requests.Count(r => r.Template == "/channels/{channel_id}/typing"), Is.EqualTo(typing.Count),
            "typing stops when the answer is final");
        Assert.That(Bots.Client!.Services.GetRequiredService<DiscordTypingIndicator>().Sent, Is.EqualTo(typing.Count));
    }

    [Test]
    public async Task ALongExchange_TravelsAsEnvelopeFiles()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        var prompt = string.Join(' ', Enumerable.Range(0, 500).Select(i => $"secret{i}"));

        var answer = await Bots.AskAsync(chat, prompt);

        Assert.That(answer.Content, Is.EqualTo("You said: " + prompt));
        var files = Bots.Fake.AllMessages().Where(m => m.Attachment is not null).ToList();
        Assert.That(files.Select(f => f.AuthorId).Distinct(), Is.EquivalentTo(new[] { Bots.ServerBot.UserId, Bots.ClientBot.UserId }));
        Assert.That(files.Select(f => f.Attachment!.Filename), Has.All.EqualTo(DiscordRelayInbox.EnvelopeFileName));
        Assert.That(EverythingDiscordSaw(), Has.None.Contains("secret42"));
    }

    [Test]
    public async Task AGatewayDropMidStream_IsResumed_AndTheAnswerArrivesOnceAndWhole()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "warm up");
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(60);
        Bots.Engine.Reply = _ => string.Join(' ', Enumerable.Range(0, 40).Select(i => $"w{i}"));
        var channel = Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;
        var before = Bots.Fake.Messages(channel).Count(m => m.AuthorId == Bots.ClientBot.UserId);

        var asking = Bots.AskAsync(chat, "tell me a long story");
        Assert.That(await FakeDiscordKit.EventuallyAsync(() =>
            Bots.Fake.Messages(channel).Count(m => m.AuthorId == Bots.ClientBot.UserId) >= before + 3), Is.True, "streaming started");
        await Bots.Fake.DropConnectionAsync(Bots.ServerBot);
        await Bots.Fake.DropConnectionAsync(Bots.ClientBot);
        var answer = await asking;

        Assert.That(answer.Content, Is.EqualTo(string.Join(' ', Enumerable.Range(0, 40).Select(i => $"w{i}"))));
        var page = await Bots.SendAsync(new MeatLizard.Application.Messages.Queries.GetMessages(chat, null));
        Assert.That(page.Messages.Count(m => m.Role == "assistant"), Is.EqualTo(2), "one answer per question, none duplicated");
        Assert.That(Bots.Gateway(Bots.Server!).Resumes, Is.GreaterThanOrEqualTo(1));
        Assert.That(Bots.Gateway(Bots.Server!).Identifies, Is.EqualTo(1));
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(2));
    }

    [Test]
    public async Task WhatWasSentWhileTheWorkerHadNoSession_IsCaughtUpAfterItIdentifiesAgain()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "first");
        var channel = Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;
        var requests = Bots.Fake.Messages(channel).Count(m => m.AuthorId == Bots.ServerBot.UserId);

        Bots.Fake.GatewayOpen = false;
        await Bots.Fake.InvalidateSessionAsync(Bots.ClientBot, resumable: false);
        var asking = Bots.AskAsync(chat, "second");
        var newChat = (await Bots.SendAsync(new CreateChat("opened during the outage"))).Id;
        var askingNew = Bots.AskAsync(newChat, "third");
        Assert.That(await FakeDiscordKit.EventuallyAsync(() =>
            Bots.Fake.Messages(channel).Count(m => m.AuthorId == Bots.ServerBot.UserId) > requests
            && Bots.Fake.Channels.Any(c => c.Name == DiscordRelayChannels.ChannelName(newChat)
                                            && Bots.Fake.Messages(c.Id).Count > 0)), Is.True);
        Bots.Fake.GatewayOpen = true;
        var answer = await asking;
        var answerNew = await askingNew;

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(answer.Content, Is.EqualTo("You said: second"));
        Assert.That(answerNew.Content, Is.EqualTo("You said: third"), "a channel made during the outage is read too");
        Assert.That(Bots.Gateway(Bots.Client!).Identifies, Is.EqualTo(2));
        Assert.That(Bots.Client!.Services.GetRequiredService<DiscordRelayInbox>().CaughtUp, Is.GreaterThanOrEqualTo(2));
    }

    [Test]
    public async Task ALongAnswer_WhoseEnvelopeFileFailsToDownloadForAWhile_StillArrivesFromTheModel()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        var prompt = string.Join(' ', Enumerable.Range(0, 500).Select(i => $"word{i}"));
        Bots.Fake.FailAttachmentDownloads(3);

        var answer = await Bots.AskAsync(chat, prompt);

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(answer.Content, Is.EqualTo("You said: " + prompt));
    }

    [Test]
    public async Task MoreThanAPageMissedWhileTheWorkerHadNoSession_IsAllReadAfterItIdentifiesAgain()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "first");
        var channel = Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;

        var before = Bots.Fake.Messages(channel).Count(m => m.AuthorId == Bots.ServerBot.UserId);
        Bots.Fake.GatewayOpen = false;
        await Bots.Fake.InvalidateSessionAsync(Bots.ClientBot, resumable: false);
        // Discord pages at most 100 messages; the request comes after 150 others, so it is on the second page.
        for (var i = 0; i < 150; i++)
        {
            Bots.Fake.Post(Bots.ServerBot.UserId, channel, $"noise {i}");
        }

        var asking = Bots.AskAsync(chat, "second");
        Assert.That(await FakeDiscordKit.EventuallyAsync(() =>
            Bots.Fake.Messages(channel).Count(m => m.AuthorId == Bots.ServerBot.UserId) > before + 150), Is.True,
            "the request is posted after the noise");
        Bots.Fake.GatewayOpen = true;
        var answer = await asking;

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(answer.Content, Is.EqualTo("You said: second"));
        Assert.That(Bots.Client!.Services.GetRequiredService<DiscordRelayInbox>().CaughtUp, Is.GreaterThanOrEqualTo(151));
    }

    [Test]
    public async Task TamperedReplayedAndForeignMessages_AreIgnoredAndCounted()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "hello");
        var channel = Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;
        var request = Bots.Fake.Messages(channel).First(m => m.AuthorId == Bots.ServerBot.UserId).Content;
        var human = Bots.Fake.AddBot("mallory");
        var tampered = request[..^6] + (request[^6] == 'A' ? 'B' : 'A') + request[^5..];

        Bots.Fake.Post(Bots.ServerBot.UserId, channel, request);      // replayed
        Bots.Fake.Post(Bots.ServerBot.UserId, channel, tampered);     // tampered
        Bots.Fake.Post(human.UserId, channel, request);                // foreign author
        Bots.Fake.Post(Bots.ServerBot.UserId, channel, "hello there"); // not an envelope
        var elsewhere = Bots.Fake.CreateChannel("general");
        Bots.Fake.Post(Bots.ServerBot.UserId, elsewhere.Id, request); // not a relay channel

        var ignored = Bots.Client!.Services.GetRequiredService<DiscordIgnoredMessages>();
        var rejected = Bots.Client.Services.GetRequiredService<RelayRejectionCounter>();
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => ignored.Total == 3 && rejected.Total == 2), Is.True,
            $"ignored {ignored.Total}, rejected {rejected.Total}");
        Assert.That(ignored.Count(IgnoredMessageReason.ForeignAuthor), Is.EqualTo(1));
        Assert.That(ignored.Count(IgnoredMessageReason.NotAnEnvelope), Is.EqualTo(1));
        Assert.That(ignored.Count(IgnoredMessageReason.ForeignChannel), Is.EqualTo(1));
        Assert.That(rejected.Count(EnvelopeRejection.Replayed), Is.EqualTo(1));
        Assert.That(rejected.Count(EnvelopeRejection.TagMismatch), Is.EqualTo(1));
        Assert.That(Bots.Engine.Requests.Count, Is.EqualTo(1), "nothing ignored reached the model");
    }

    [Test]
    public async Task AFloodOfGuildMessagesTheBotsIgnore_IsCounted_ButLoggedAtInformationOnlyOncePerInterval()
    {
        Bots.ClientLogs = new RecordedLogs();
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var member = Bots.Fake.AddBot("chatty-member");
        var general = Bots.Fake.CreateChannel("general");
        var measured = 0L;
        using var meter = new System.Diagnostics.Metrics.MeterListener();
        var factory = Bots.Client!.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        meter.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == "meatlizard.discord.messages.ignored" && instrument.Meter.Scope == factory)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meter.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref measured, value));
        meter.Start();

        for (var i = 0; i < 200; i++)
        {
            Bots.Fake.Post(member.UserId, general.Id, $"spam {i}");
        }

        var ignored = Bots.Client.Services.GetRequiredService<DiscordIgnoredMessages>();
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => ignored.Total == 200, TimeSpan.FromSeconds(20)), Is.True,
            $"ignored {ignored.Total}");
        var aboutIgnored = Bots.ClientLogs.Entries
            .Where(e => e.Category.EndsWith(nameof(DiscordIgnoredMessages), StringComparison.Ordinal)
                        && e.Message.StartsWith("Ignored", StringComparison.Ordinal))
            .ToList();
        Assert.That(ignored.Count(IgnoredMessageReason.ForeignAuthor), Is.EqualTo(200));
        Assert.That(Interlocked.Read(ref measured), Is.EqualTo(200), "the metrics see every one");
        Assert.That(aboutIgnored.Count(e => e.Level >= LogLevel.Information), Is.EqualTo(1), "one summary line for the interval");
        Assert.That(aboutIgnored.Count(e => e.Level == LogLevel.Debug), Is.EqualTo(200));
        Assert.That(aboutIgnored, Has.None.Matches<(string Category, LogLevel Level, string Message)>(e => e.Message.Contains("spam")),
            "what members wrote is never logged");
    }

    [Test]
    public async Task WithTheClientBotOffline_TheFallbackAnswers()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        Assert.That((await Bots.AskAsync(chat, "are you there?")).Source, Is.EqualTo("model"));

        await Bots.StopClientAsync();
        await Bots.WaitUntilNoWorkerIsAliveAsync(); // past Relay:WorkerTimeout
        var started = DateTime.UtcNow;
        var answer = await Bots.AskAsync(chat, "still there?", TimeSpan.FromSeconds(10));

        Assert.That(answer.Source, Is.Not.EqualTo("model"));
        Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(6)), "within the ack timeout");
    }

    [Test]
    public async Task ChannelsOfClosedChats_AreReclaimed_BeforeTheCategoryIsFull()
    {
        Bots.Extra["Discord:MaxCategoryChannels"] = "3";
        Bots.Fake.CategoryChannelLimit = 3;
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var first = await Bots.StartChatAsync();
        await Bots.AskAsync(first, "one");
        var second = await Bots.SendAsync(new CreateChat("second"));
        await Bots.AskAsync(second.Id, "two");
        await Bots.SendAsync(new CloseChat(first));
        var third = await Bots.SendAsync(new CreateChat("third"));

        var answer = await Bots.AskAsync(third.Id, "three");

        Assert.That(answer.Source, Is.EqualTo("model"));
        var names = Bots.Fake.Channels.Select(c => c.Name).ToList();
        Assert.That(names, Does.Not.Contain(DiscordRelayChannels.ChannelName(first)), "the closed chat's channel was deleted");
        Assert.That(names, Does.Contain(DiscordRelayChannels.ChannelName(second.Id)), "an open chat keeps its channel");
        Assert.That(names, Does.Contain(DiscordRelayChannels.ChannelName(third.Id)));
    }

    [Test]
    public async Task SlashCommands_AreRegisteredForAdmins_AndRefusedToOthers()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Bots.Fake.RegisteredCommands.Contains("status")), Is.True);
        var registration = Bots.Fake.Requests.Last(r => r.Template.EndsWith("/commands", StringComparison.Ordinal));
        Assert.That(registration.Body, Does.Contain("\"default_member_permissions\":\"0\""));
        var channel = Bots.Fake.CreateChannel("admin").Id;

        // /status and /model also serve members (their own answer); /workers is for admins only.
        var refused = await Bots.Fake.InvokeCommandAsync(Bots.ServerBot, channel, "42", admin: false, "workers");
        var answered = await Bots.Fake.InvokeCommandAsync(Bots.ServerBot, channel, "43", admin: true, "status");

        // The two are answered side by side (a refusal is audited, a status read): either may come first.
        var (refusal, refusalText) = await Bots.Fake.AnswerOfAsync(refused);
        var (deferral, status) = await Bots.Fake.AnswerOfAsync(answered);
        Assert.That(refusal["type"]!.GetValue<int>(), Is.EqualTo(4));
        Assert.That(refusalText, Is.EqualTo(MeatLizard.Presentation.DiscordServer.Commands.DiscordAdminCommands.NotAdmin));
        Assert.That(refusal["data"]!["flags"]!.GetValue<int>(), Is.EqualTo(64));
        Assert.That(deferral["type"]!.GetValue<int>(), Is.EqualTo(5));
        Assert.That(status, Does.Contain("1 model worker(s) online"));
    }

    [Test]
    public async Task AMissingMessageContentIntent_StopsTheBotWithAClearMessage()
    {
        Bots.ClientBot.MessageContentAllowed = false;
        var previous = Environment.ExitCode;
        try
        {
            Assert.ThrowsAsync<MeatLizard.Infrastructure.Discord.Gateway.DiscordGatewayFatalException>(Bots.StartClientAsync);
            var lifetime = Bots.Client!.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>();
            Assert.That(await FakeDiscordKit.EventuallyAsync(() => lifetime.ApplicationStopping.IsCancellationRequested), Is.True);
            Assert.That(Environment.ExitCode, Is.EqualTo(MeatLizard.Infrastructure.Discord.DiscordGatewayService.FatalExitCode));
        }
        finally
        {
            Environment.ExitCode = previous;
        }
    }
}
