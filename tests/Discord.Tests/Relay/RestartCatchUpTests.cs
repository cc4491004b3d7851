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
public sealed class RestartCatchUpTests
{
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

    [Test]
    public async Task AnAnswerPostedWhileTheServerBotRestarts_IsStoredFromTheModel_WhenItIsBack()
    {
        await _bots.StartServerAsync();
        await _bots.StartClientAsync();
        var chat = await _bots.StartChatAsync();
        await _bots.AskAsync(chat, "warm up");
        var words = string.Join(' ', Enumerable.Range(0, 12).Select(i => $"w{i}"));
        _bots.Engine.Reply = _ => words;
        _bots.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(150);
        var jobs = _bots.Client!.Services.GetRequiredService<WorkerJobs>();

        var sent = await _bots.SendAsync(new SendMessage(chat, "answer while I am away"));
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => jobs.Count == 1), Is.True, "the worker runs it");
        await _bots.StopServerAsync();
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => jobs.Count == 0), Is.True, "the worker answered");
        var channel = _bots.Fake.Channels.Single(c => c.Name == DiscordRelayChannels.ChannelName(chat)).Id;
        var posted = _bots.Fake.Messages(channel).Count;
        await Task.Delay(500); // the final's post
        Assert.That(_bots.Fake.Messages(channel), Has.Count.EqualTo(posted), "nothing more is coming: the answer is posted");
        await _bots.StartServerAsync();

        var answer = await AnswerAsync(chat, sent.RequestId);

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(answer.Content, Is.EqualTo(words));
        Assert.That(_bots.Server!.Services.GetRequiredService<DiscordRelayInbox>().CaughtUp, Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public async Task ARequestPostedWhileTheClientBotRestarts_IsServedByTheModel_WhenItIsBackWithinTheAckTimeout()
    {
        await _bots.StartServerAsync();
        await _bots.StartClientAsync();
        var chat = await _bots.StartChatAsync();
        await _bots.AskAsync(chat, "warm up");

        var sent = await PostRequestWhileTheClientBotIsDownAsync(chat);
        await _bots.StartClientAsync();
        var answer = await AnswerAsync(chat, sent.RequestId);

        Assert.That(answer.Source, Is.EqualTo("model"));
        Assert.That(answer.Content, Is.EqualTo("You said: asked while you were away"));
        Assert.That(_bots.Client!.Services.GetRequiredService<WorkerJobs>().SkippedGivenUp, Is.Zero);
        Assert.That(File.Exists(Path.Combine(DataRoot, DiscordRegistration.CursorFileName)), Is.True,
            "the client bot keeps its places in a file under Data:Root");
    }

    [Test]
    public async Task ARequestTheServerGaveUpOnWhileTheClientBotWasDown_IsNotRun_WhenItComesBackLater()
    {
        _bots.Extra["Relay:AckTimeout"] = "00:00:03";
        await _bots.StartServerAsync();
        await _bots.StartClientAsync();
        var chat = await _bots.StartChatAsync();

        var sent = await PostRequestWhileTheClientBotIsDownAsync(chat);
        var notice = await AnswerAsync(chat, sent.RequestId);
        Assert.That(notice.Source, Is.EqualTo("notice"), "the server gave up after the ack timeout");
        await _bots.StartClientAsync();

        var jobs = _bots.Client!.Services.GetRequiredService<WorkerJobs>();
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => jobs.SkippedGivenUp == 1), Is.True,
            "the request is read after the restart, and skipped");
        Assert.That(_bots.Engine.Requests, Is.Zero, "the model never ran it");
        var page = await _bots.SendAsync(new GetMessages(chat, null));
        Assert.That(page.Messages.Count(m => m.Role == "assistant"), Is.EqualTo(1), "the notice stays the one answer");
    }

    private string DataRoot => _bots.Client!.Services.GetRequiredService<Infrastructure.InfrastructureSettings>().DataRoot;

    /// <summary>
    /// Takes the client bot's gateway session away (so it reads nothing), has the server post a request, and stops the
    /// client bot: the request was posted while it was down, and never delivered to it.
    /// </summary>
    private async Task<SendMessageResult> PostRequestWhileTheClientBotIsDownAsync(Guid chat)
    {
        var posted = ServerBotMessagesIn(chat);
        _bots.Fake.GatewayOpen = false;
        await _bots.Fake.InvalidateSessionAsync(_bots.ClientBot, resumable: false);
        var sent = await _bots.SendAsync(new SendMessage(chat, "asked while you were away"));
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => ServerBotMessagesIn(chat) > posted), Is.True,
            "the server bot posts the request");
        await _bots.StopClientAsync();
        _bots.Fake.GatewayOpen = true;
        return sent;
    }

    private int ServerBotMessagesIn(Guid chat) =>
        _bots.Fake.Channels.FirstOrDefault(c => c.Name == DiscordRelayChannels.ChannelName(chat)) is { } channel
            ? _bots.Fake.Messages(channel.Id).Count(m => m.AuthorId == _bots.ServerBot.UserId)
            : 0;

    private async Task<MessageDto> AnswerAsync(Guid chat, Guid requestId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(25);
        while (DateTime.UtcNow < deadline)
        {
            var page = await _bots.SendAsync(new GetMessages(chat, null));
            if (page.Messages.FirstOrDefault(m => m.RequestId == requestId && m.Role == "assistant") is { } answer)
            {
                return answer;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("No answer arrived.");
    }
}
