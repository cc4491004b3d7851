using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Discord.Tests.Relay;
using MeatLizard.Infrastructure.Discord;
using MeatLizard.Infrastructure.Discord.Gateway;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Client;

public sealed class GatewayClientTests
{
    private FakeDiscordServer _fake = null!;
    private FakeBot _bot = null!;
    private CancellationTokenSource _stop = null!;

    [SetUp]
    public async Task SetUp()
    {
        _fake = await FakeDiscordServer.StartAsync();
        _bot = _fake.AddBot("client-bot");
        _stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
    }

    [TearDown]
    public async Task TearDown()
    {
        await _stop.CancelAsync();
        _stop.Dispose();
        await _fake.DisposeAsync();
    }

    private (DiscordGatewayClient Client, ConcurrentQueue<GatewayDispatch> Events, Task Run) Start(FakeBot? bot = null)
    {
        var client = FakeDiscordKit.Gateway(_fake, bot ?? _bot);
        var events = new ConcurrentQueue<GatewayDispatch>();
        client.OnDispatch = (d, _) =>
        {
            events.Enqueue(d);
            return Task.CompletedTask;
        };
        return (client, events, client.RunAsync(_stop.Token));
    }

    private static IEnumerable<int> Numbers(ConcurrentQueue<GatewayDispatch> events) =>
        events.Where(e => e.Type == "TEST_EVENT").Select(e => e.Data.GetProperty("n").GetInt32());

    [Test]
    public async Task Identify_GivesOurUserAndApplicationIds()
    {
        var (client, _, _) = Start();

        var ready = await client.Ready.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(ready.UserId, Is.EqualTo(_bot.UserId));
        Assert.That(ready.ApplicationId, Is.EqualTo(_bot.ApplicationId));
        Assert.That(client.Identifies, Is.EqualTo(1));
    }

    [Test]
    public async Task AHandlerThatFailsOnAnEvent_KeepsItFromNoHandlerAfterIt()
    {
        // Before, the first failure ended the dispatch: a handler registered after it never saw the event.
        var client = FakeDiscordKit.Gateway(_fake, _bot);
        var seen = new ConcurrentQueue<int>();
        var logs = new RecordedLogs();
        using var loggers = LoggerFactory.Create(builder => builder.AddProvider(logs));
        _ = new DiscordBotConnection(FakeDiscordKit.Options(_fake, _bot), FakeDiscordKit.Rest(_fake, _bot), client,
            new DiscordSelf(), [new Failing(), new Recording(seen)], loggers.CreateLogger<DiscordBotConnection>());
        var run = client.RunAsync(_stop.Token);
        await client.Ready.WaitAsync(TimeSpan.FromSeconds(10));

        await _fake.DispatchAsync(_bot, "TEST_EVENT", new JsonObject { ["n"] = 1 });
        await _fake.DispatchAsync(_bot, "TEST_EVENT", new JsonObject { ["n"] = 2 });

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => seen.Count == 2), Is.True, "the handler after the failing one got both");
        Assert.That(seen, Is.EqualTo(new[] { 1, 2 }));
        Assert.That(logs.Entries.Count(e => e.Message.Contains("Failing failed on a TEST_EVENT event", StringComparison.Ordinal)), Is.EqualTo(2));
        Assert.That(run.IsCompleted, Is.False, "the gateway goes on");
    }

    [Test]
    public async Task AnEventWithHalfASurrogatePairEscapedAlone_IsReadWithTheReplacementCharacter()
    {
        // Valid JSON, not valid Unicode: every handler that read such a string threw (a member's mention was dropped
        // unanswered, a slash command's option failed it).
        var (client, events, _) = Start();
        await client.Ready.WaitAsync(TimeSpan.FromSeconds(10));

        await _fake.DispatchRawAsync(_bot, "TEST_EVENT", """{"n":1,"text":"are you \ud800there? \udc00 \ud83e\udd8e","escaped":"\\ud800"}""");

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Numbers(events).Any()), Is.True);
        var data = events.Single(e => e.Type == "TEST_EVENT").Data;
        Assert.That(data.GetProperty("text").GetString(), Is.EqualTo("are you \uFFFDthere? \uFFFD \U0001F98E"),
            "each lone half replaced, the pair kept");
        Assert.That(data.GetProperty("escaped").GetString(), Is.EqualTo(@"\ud800"), "an escaped backslash is no escape");
    }

    private sealed class Failing : IDiscordEventHandler
    {
        public ValueTask HandleAsync(GatewayDispatch dispatch, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("Cannot read incomplete UTF-16 JSON text as string (test).");
    }

    private sealed class Recording(ConcurrentQueue<int> seen) : IDiscordEventHandler
    {
        public ValueTask HandleAsync(GatewayDispatch dispatch, CancellationToken cancellationToken)
        {
            if (dispatch.Type == "TEST_EVENT")
            {
                seen.Enqueue(dispatch.Data.GetProperty("n").GetInt32());
            }

            return ValueTask.CompletedTask;
        }
    }

    [Test]
    public async Task AfterADrop_TheSessionResumes_WithNoEventLostOrDuplicated()
    {
        var (client, events, _) = Start();
        await client.Ready.WaitAsync(TimeSpan.FromSeconds(10));
        for (var n = 0; n < 5; n++)
        {
            await _fake.DispatchAsync(_bot, "TEST_EVENT", new JsonObject { ["n"] = n });
        }

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Numbers(events).Count() == 5), Is.True);
        await _fake.DropConnectionAsync(_bot);
        for (var n = 5; n < 10; n++)
        {
            await _fake.DispatchAsync(_bot, "TEST_EVENT", new JsonObject { ["n"] = n }); // while disconnected
        }

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Numbers(events).Count() >= 10), Is.True);
        await _fake.DispatchAsync(_bot, "TEST_EVENT", new JsonObject { ["n"] = 10 });
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => Numbers(events).Count() >= 11), Is.True);

        Assert.That(Numbers(events), Is.EqualTo(Enumerable.Range(0, 11)));
        Assert.That(client.Identifies, Is.EqualTo(1), "resumed, not identified again");
        Assert.That(client.Resumes, Is.GreaterThanOrEqualTo(1));
        Assert.That(events.Count(e => e.Type == "RESUMED"), Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public async Task Reconnect_Op7_Resumes()
    {
        var (client, events, _) = Start();
        await client.Ready.WaitAsync(TimeSpan.FromSeconds(10));

        await _fake.RequestReconnectAsync(_bot);

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => events.Any(e => e.Type == "RESUMED")), Is.True);
        Assert.That(client.Identifies, Is.EqualTo(1));
    }

    [Test]
    public async Task InvalidSession_NotResumable_IdentifiesAfresh()
    {
        var (client, events, _) = Start();
        await client.Ready.WaitAsync(TimeSpan.FromSeconds(10));

        await _fake.InvalidateSessionAsync(_bot, resumable: false);

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => events.Count(e => e.Type == "READY") == 2), Is.True);
        Assert.That(client.Identifies, Is.EqualTo(2));
    }

    [Test]
    public async Task ResumableCloseCode_Resumes_AndSessionCloseCode_Reidentifies()
    {
        var (client, events, _) = Start();
        await client.Ready.WaitAsync(TimeSpan.FromSeconds(10));

        await _fake.CloseConnectionAsync(_bot, 4000);
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => events.Any(e => e.Type == "RESUMED")), Is.True);

        await _fake.CloseConnectionAsync(_bot, 4009);
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => events.Count(e => e.Type == "READY") == 2), Is.True);
    }

    [Test]
    public async Task AMissingHeartbeatAck_IsAZombie_AndTheClientResumes()
    {
        _fake.HeartbeatInterval = TimeSpan.FromMilliseconds(300);
        var (client, events, _) = Start();
        await client.Ready.WaitAsync(TimeSpan.FromSeconds(10));

        // ACKs stay away until the client has given up on the connection, however late a loaded machine runs its
        // heartbeats; then they come back, and the resumed connection must hold.
        _bot.SuppressHeartbeatAcks = true;
        var gaveUp = await FakeDiscordKit.EventuallyAsync(() => client.Resumes >= 1);
        _bot.SuppressHeartbeatAcks = false;

        Assert.That(gaveUp, Is.True, "no ACK since the last heartbeat: a zombie connection, dropped and resumed");
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => events.Any(e => e.Type == "RESUMED")), Is.True);
        Assert.That(client.Identifies, Is.EqualTo(1));
    }

    [Test]
    public async Task MessageContentNotAllowed_StopsWithAClearMessage()
    {
        _bot.MessageContentAllowed = false;
        var (client, _, run) = Start();

        var error = Assert.ThrowsAsync<DiscordGatewayFatalException>(async () => await run.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.That(error!.CloseCode, Is.EqualTo(4014));
        Assert.That(error.Message, Does.StartWith("MESSAGE_CONTENT intent is not enabled for this bot"));
        Assert.ThrowsAsync<DiscordGatewayFatalException>(async () => await client.Ready);
    }

    [Test]
    public void ABadToken_IsFatal()
    {
        var (_, _, run) = Start(_bot with { Token = "bad" });

        var error = Assert.ThrowsAsync<DiscordGatewayFatalException>(async () => await run.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.That(error!.CloseCode, Is.EqualTo(4004));
        Assert.That(error.Message, Does.Contain("Discord:BotToken"));
    }

    [Test]
    public async Task ALargeEvent_SpanningManyFrames_ArrivesWhole()
    {
        var (client, events, _) = Start();
        await client.Ready.WaitAsync(TimeSpan.FromSeconds(10));
        var text = string.Concat(Enumerable.Range(0, 3000).Select(i => (char)('a' + (i % 26))));

        await _fake.DispatchAsync(_bot, "BIG_EVENT", new JsonObject { ["text"] = text });

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => events.Any(e => e.Type == "BIG_EVENT")), Is.True);
        Assert.That(events.Single(e => e.Type == "BIG_EVENT").Data.GetProperty("text").GetString(), Is.EqualTo(text));
    }

    [Test]
    public async Task Stopping_ClosesTheSession()
    {
        var (client, _, run) = Start();
        await client.Ready.WaitAsync(TimeSpan.FromSeconds(10));

        await _stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(await FakeDiscordKit.EventuallyAsync(() => !_fake.IsConnected(_bot)), Is.True);
    }
}
