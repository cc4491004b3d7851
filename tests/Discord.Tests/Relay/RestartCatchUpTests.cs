using MeatLizard.Application.Common.Models;
using MeatLizard.Application.Inference;
using MeatLizard.Application.Messages.Commands;
using MeatLizard.Application.Messages.Queries;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Discord.Relay;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Relay;

/// <summary>
/// A bot that restarts reads what was posted while it was away from the last message it handled in each channel (kept
/// in the server bot's database, in a file for the client bot), not from its own start: an answer posted meanwhile is
/// stored, a request posted meanwhile is served while the server still waits for it, and one the server already gave
/// up on is not run.
/// </summary>
public sealed class RestartCatchUpTests : TwoBotsTest
{
    [Test]
    public async Task AnAnswerPostedWhileTheServerBotRestarts_IsStoredFromTheModel_WhenItIsBack()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "warm up");
        var words = string.Join(' ', Enumerable.Range(0, 12).Select(i => $"w{i}"));
        Bots.Engine.Reply = _ => words;
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(150);
        var jobs = Bots.Client!.Services.GetRequiredService<HostJobs>();

        var sent = await Bots.SendAsync(new SendMessage(chat, "answer while I am away"));
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => jobs.Count == 1), Is.True, "the worker runs it");
        await Bots.StopServerAsync();
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => jobs.Count == 0), Is.True, "the worker answered");
        var channel = Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;
        var posted = Bots.Fake.Messages(channel).Count;
        await Task.Delay(500); // the final's post
        Assert.That(Bots.Fake.Messages(channel), Has.Count.EqualTo(posted), "nothing more is coming: the answer is posted");
        await Bots.StartServerAsync();

        var answer = await AnswerAsync(chat, sent.RequestId);

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(answer.Content, Is.EqualTo(words));
        Assert.That(Bots.Server!.Services.GetRequiredService<DiscordRelayInbox>().CaughtUp, Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public async Task AMessageTheServerBotCannotRead_IsSkippedByItsCatchUp_AndTheAnswerAfterItIsStored()
    {
        // Before, the catch-up read a channel's page as one list: one message it could not read failed the whole
        // catch-up, at every start, and the answer posted after it was never read.
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "warm up");
        Bots.Engine.Reply = _ => "after the odd one";
        Bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(150);
        var jobs = Bots.Client!.Services.GetRequiredService<HostJobs>();

        var sent = await Bots.SendAsync(new SendMessage(chat, "answer while I am away"));
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => jobs.Count == 1), Is.True, "the worker runs it");
        await Bots.StopServerAsync();
        var channel = Bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;
        Bots.Fake.PostUnreadable(Bots.ClientBot.UserId, channel, "a message with its author as a bare id");
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => jobs.Count == 0), Is.True, "the worker answered");
        await Task.Delay(500); // the final's post
        var logs = Bots.ServerLogs = new RecordedLogs();
        await Bots.StartServerAsync();

        var answer = await AnswerAsync(chat, sent.RequestId);

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(answer.Content, Is.EqualTo("after the odd one"));
        Assert.That(Bots.Engine.Requests, Has.Count.EqualTo(2),
            "the model ran it once: its answer was read by the catch-up, not asked for again after the ack timed out");
        Assert.That(logs.Entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning).Select(e => e.Message),
            Has.One.Contains("could not be read; it is skipped"), "the odd one is logged by its id");
    }

    [Test]
    public async Task ARequestPostedWhileTheClientBotRestarts_IsServedByTheModel_WhenItIsBackWithinTheAckTimeout()
    {
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();
        await Bots.AskAsync(chat, "warm up");

        var sent = await PostRequestWhileTheClientBotIsDownAsync(chat);
        await Bots.StartClientAsync();
        var answer = await AnswerAsync(chat, sent.RequestId);

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(answer.Content, Is.EqualTo("You said: asked while you were away"));
        Assert.That(Bots.Client!.Services.GetRequiredService<HostJobs>().SkippedGivenUp, Is.Zero);
        Assert.That(File.Exists(Path.Combine(DataRoot, DiscordRegistration.CursorFileName)), Is.True,
            "the client bot keeps its places in a file under Data:Root");
    }

    [Test]
    public async Task ARequestTheServerGaveUpOnWhileTheClientBotWasDown_IsNotRun_WhenItComesBackLater()
    {
        Bots.Extra["Relay:AckTimeout"] = "00:00:03";
        await Bots.StartServerAsync();
        await Bots.StartClientAsync();
        var chat = await Bots.StartChatAsync();

        var sent = await PostRequestWhileTheClientBotIsDownAsync(chat);
        var notice = await AnswerAsync(chat, sent.RequestId);
        Assert.That(notice.Source, Is.EqualTo("notice"), "the server gave up after the ack timeout");
        await Bots.StartClientAsync();

        var jobs = Bots.Client!.Services.GetRequiredService<HostJobs>();
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => jobs.SkippedGivenUp == 1), Is.True,
            "the request is read after the restart, and skipped");
        Assert.That(Bots.Engine.Requests.Count, Is.Zero, "the model never ran it");
        var page = await Bots.SendAsync(new GetMessages(chat, null));
        Assert.That(page.Messages.Count(m => m.Role == "assistant"), Is.EqualTo(1), "the notice stays the one answer");
    }

    private string DataRoot => Bots.Client!.Services.GetRequiredService<Infrastructure.InfrastructureSettings>().DataRoot;

    /// <summary>
    /// Takes the client bot's gateway session away (so it reads nothing), has the server post a request, and stops the
    /// client bot: the request was posted while it was down, and never delivered to it.
    /// </summary>
    private async Task<SendMessageResult> PostRequestWhileTheClientBotIsDownAsync(Guid chat)
    {
        var posted = ServerBotMessagesIn(chat);
        Bots.Fake.GatewayOpen = false;
        await Bots.Fake.InvalidateSessionAsync(Bots.ClientBot, resumable: false);
        var sent = await Bots.SendAsync(new SendMessage(chat, "asked while you were away"));
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => ServerBotMessagesIn(chat) > posted), Is.True,
            "the server bot posts the request");
        await Bots.StopClientAsync();
        Bots.Fake.GatewayOpen = true;
        return sent;
    }

    private int ServerBotMessagesIn(Guid chat) =>
        Bots.Fake.Channels.FirstOrDefault(c => c.Name == DiscordRelayChannels.ChannelName(chat)) is { } channel
            ? Bots.Fake.Messages(channel.Id).Count(m => m.AuthorId == Bots.ServerBot.UserId)
            : 0;

    private async Task<MessageDto> AnswerAsync(Guid chat, Guid requestId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(25);
        while (DateTime.UtcNow < deadline)
        {
            var page = await Bots.SendAsync(new GetMessages(chat, null));
            if (page.Messages.FirstOrDefault(m => m.RequestId == requestId && m.Role == "assistant") is { } answer)
            {
                return answer;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("No answer arrived.");
    }
}
