using System.Globalization;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using MeatLizard.Discord.Tests.Fake;
using MeatLizard.Infrastructure.Discord.Rest;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Client;

public sealed class RestClientTests
{
    private const string MessagesRoute = "/channels/{channel_id}/messages";

    private FakeDiscordServer _fake = null!;
    private FakeBot _bot = null!;
    private DiscordRestClient _rest = null!;
    private FakeChannel _channel = null!;

    [SetUp]
    public async Task SetUp()
    {
        _fake = await FakeDiscordServer.StartAsync();
        _bot = _fake.AddBot("server-bot");
        _rest = FakeDiscordKit.Rest(_fake, _bot);
        _channel = _fake.CreateChannel("general");
    }

    [TearDown]
    public async Task TearDown()
    {
        Assert.That(_fake.SchemaViolations, Is.Empty, "every request body must conform to Discord's OpenAPI spec");
        await _fake.DisposeAsync();
    }

    [Test]
    public async Task CreateMessage_PostsTheContentWithANonce()
    {
        var message = await _rest.CreateMessageAsync(_channel.Id, "hello", cancellationToken: CancellationToken.None);

        Assert.That(message.Content, Is.EqualTo("hello"));
        Assert.That(message.Author.Id, Is.EqualTo(_bot.UserId));
        var stored = _fake.Messages(_channel.Id).Single();
        Assert.That(stored.Nonce, Has.Length.InRange(1, 25));
    }

    [Test]
    public async Task Burst_OnOneChannel_WaitsForTheBucketInsteadOfDrawing429s()
    {
        _fake.RateLimit = 5;
        _fake.RateWindow = TimeSpan.FromMilliseconds(500);
        var clock = Stopwatch.StartNew();

        for (var i = 0; i < 16; i++)
        {
            await _rest.CreateMessageAsync(_channel.Id, $"m{i}", cancellationToken: CancellationToken.None);
        }

        Assert.That(_fake.Messages(_channel.Id).Select(m => m.Content), Is.EqualTo(Enumerable.Range(0, 16).Select(i => $"m{i}")));
        Assert.That(_fake.NaturalRateLimits, Is.Zero, "the limiter must wait out an exhausted bucket, not hit it");
        Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromMilliseconds(1000)), "16 messages at 5 per 500 ms need 3 resets");
    }

    [Test]
    public async Task ParallelPosts_NeverHaveTwoInFlightOnAnExhaustedBucket()
    {
        _fake.RateLimit = 3;
        _fake.RateWindow = TimeSpan.FromMilliseconds(300);

        await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            _rest.CreateMessageAsync(_channel.Id, $"p{i}", cancellationToken: CancellationToken.None)));

        Assert.That(_fake.Messages(_channel.Id), Has.Count.EqualTo(12));
        Assert.That(_fake.MaxInFlightOnExhaustedBucket, Is.LessThanOrEqualTo(1));
        Assert.That(_fake.NaturalRateLimits, Is.Zero);
    }

    [Test]
    public async Task DifferentChannels_HaveSeparateBuckets()
    {
        _fake.RateLimit = 2;
        _fake.RateWindow = TimeSpan.FromSeconds(10);
        var other = _fake.CreateChannel("other");
        await _rest.CreateMessageAsync(_channel.Id, "a", cancellationToken: CancellationToken.None);
        await _rest.CreateMessageAsync(_channel.Id, "b", cancellationToken: CancellationToken.None);
        Assert.That(_rest.Limiter.DelayFor(new DiscordRoute(HttpMethod.Post, MessagesRoute, _channel.Id, "")), Is.GreaterThan(TimeSpan.Zero));
        Assert.That(_rest.Limiter.DelayFor(new DiscordRoute(HttpMethod.Post, MessagesRoute, other.Id, "")), Is.EqualTo(TimeSpan.Zero),
            "the major parameter splits the bucket");
        var clock = Stopwatch.StartNew();

        await _rest.CreateMessageAsync(other.Id, "c", cancellationToken: CancellationToken.None);

        // Waiting for the first channel's bucket would take most of its 10 s window.
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(4)), "a post on another channel does not wait");
        Assert.That(_fake.NaturalRateLimits, Is.Zero);
    }

    [Test]
    public async Task A429Storm_IsWaitedOutWithRetryAfter_AndPostsOnce()
    {
        _fake.InjectRateLimits(MessagesRoute, 4, TimeSpan.FromMilliseconds(150));
        var clock = Stopwatch.StartNew();

        await _rest.CreateMessageAsync(_channel.Id, "after the storm", cancellationToken: CancellationToken.None);

        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(550)), "retry_after is honoured each time");
        Assert.That(_fake.Messages(_channel.Id), Has.Count.EqualTo(1));
        Assert.That(_rest.Limiter.RateLimitedCount, Is.EqualTo(4));
        Assert.That(_rest.Limiter.InvalidRequestsInWindow, Is.EqualTo(4));
    }

    [Test]
    public async Task ACallDiscordLeavesUnanswered_MarksTheWayOut_WhileItStillWaits_AndItsAnswerEndsTheOutage()
    {
        // Discord hangs: no answer until the outage ends. The relay must know the way is out while the call waits (its
        // own timeout is much longer), or the hosts' heartbeats, hung as well, look like hosts gone.
        var way = new MeatLizard.Application.Relay.RelayTransportHealth(new MeatLizard.Infrastructure.SystemClock());
        var rest = new DiscordRestClient(new HttpClient(), FakeDiscordKit.Options(_fake, _bot),
            new DiscordRateLimiter(TimeProvider.System), TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<DiscordRestClient>.Instance, transport: way);
        _fake.StartRestOutage(DiscordRestClient.UnansweredAfter + TimeSpan.FromSeconds(2), hang: true);

        var call = rest.CreateMessageAsync(_channel.Id, "through the outage", cancellationToken: CancellationToken.None);
        await Task.Delay(DiscordRestClient.UnansweredAfter - TimeSpan.FromSeconds(1));
        var beforeTheMark = way.DownSince;
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var whileItWaits = way.DownSince;
        var stillWaiting = !call.IsCompleted;
        await call;

        Assert.Multiple(() =>
        {
            Assert.That(beforeTheMark, Is.Null, "a call is given a few seconds before the way counts as out");
            Assert.That(stillWaiting, Is.True, "the call was still waiting for Discord");
            Assert.That(whileItWaits, Is.Not.Null, "the way counts as out while the call waits");
            Assert.That(way.DownSince, Is.Null, "Discord's answer (its retry went through) ends the outage");
            Assert.That(_fake.Messages(_channel.Id).Select(m => m.Content), Is.EqualTo(new[] { "through the outage" }));
        });
    }

    [Test]
    public async Task CallsAnd429s_AreCountedByRouteTemplate_NeverByChannel()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var exposition = new MeatLizard.Infrastructure.Metrics.MetricsExposition(meters);
        var rest = new DiscordRestClient(new HttpClient(), FakeDiscordKit.Options(_fake, _bot),
            new DiscordRateLimiter(TimeProvider.System), TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<DiscordRestClient>.Instance, new DiscordRestMetrics(meters));
        _fake.InjectRateLimits(MessagesRoute, 2, TimeSpan.FromMilliseconds(50));

        await rest.CreateMessageAsync(_channel.Id, "counted", cancellationToken: CancellationToken.None);
        var text = exposition.Collect();
        var parsed = MeatLizard.Tests.Metrics.PrometheusText.Parse(text);

        const string route = "POST /channels/{channel_id}/messages";
        Assert.Multiple(() =>
        {
            Assert.That(parsed.Value("meatlizard_discord_rest_rate_limited_total", ("route", route), ("scope", "route")), Is.EqualTo(2));
            Assert.That(parsed.Value("meatlizard_discord_rest_calls_total", ("route", route), ("status", "429")), Is.EqualTo(2));
            Assert.That(parsed.Sum("meatlizard_discord_rest_calls_total", ("route", route)), Is.EqualTo(3));
            Assert.That(text, Does.Not.Contain(_channel.Id).And.Not.Contain(_bot.Token));
        });
    }

    [Test]
    public async Task AGlobal429_PausesOtherRoutesToo()
    {
        _fake.InjectRateLimits("/channels/{channel_id}/typing", 1, TimeSpan.FromMilliseconds(600), global: true);
        // The 429 is answered after this moment, so the pause it starts cannot end before 600 ms from here.
        var clock = Stopwatch.StartNew();
        var typing = _rest.TriggerTypingAsync(_channel.Id, CancellationToken.None);
        Assert.That(await FakeDiscordKit.EventuallyAsync(() => _rest.Limiter.RateLimitedCount == 1), Is.True);

        await _rest.GetChannelAsync(_channel.Id, CancellationToken.None);
        var gotChannelAt = clock.Elapsed;
        await typing;

        Assert.That(gotChannelAt, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(590)), "another route waited for the global pause");
    }

    [Test]
    public async Task EndlessRateLimits_SurfaceAsATypedError()
    {
        // Endless: far more 429s than fit in the patience (10 ms each).
        _fake.InjectRateLimits(MessagesRoute, 100_000, TimeSpan.FromMilliseconds(10));
        var clock = Stopwatch.StartNew();

        var error = Assert.ThrowsAsync<DiscordRateLimitedException>(() =>
            _rest.CreateMessageAsync(_channel.Id, "never", cancellationToken: CancellationToken.None));

        Assert.That(error!.RetryAfter, Is.EqualTo(TimeSpan.FromMilliseconds(10)));
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(DiscordRestClient.RateLimitPatience), "given up only after the patience");
        Assert.That(_fake.Messages(_channel.Id), Is.Empty);
    }

    [Test]
    public async Task ProcessesOfOneBot_RacingForABucket_EachRequestGetsThrough()
    {
        // Server bots are one Discord bot: they share its buckets, each with a limiter of its own. Each 429's wait ends
        // when the bucket resets for all at once, so a request could lose six resets in a row to the others' and fail, though the bucket never refused for long (ChannelReclaimTests' two bots racing for a full
        // category failed so, 1 run in 4: "429 rate limited; retry after 0.001 s").
        _fake.RateLimit = 1;
        _fake.RateWindow = TimeSpan.FromMilliseconds(100);
        var processes = new[] { _rest, FakeDiscordKit.Rest(_fake, _bot), FakeDiscordKit.Rest(_fake, _bot), FakeDiscordKit.Rest(_fake, _bot) };

        var posts = Enumerable.Range(0, 24).Select(i => processes[i % processes.Length]
            .CreateMessageAsync(_channel.Id, $"m{i}", cancellationToken: CancellationToken.None));
        await Task.WhenAll(posts);

        Assert.That(_fake.Messages(_channel.Id), Has.Count.EqualTo(24));
    }

    [Test]
    public async Task ALostAnswer_IsRetriedWithTheSameNonce_AndPostsOnlyOnce()
    {
        _fake.InjectLostAnswer(MessagesRoute);

        var message = await _rest.CreateMessageAsync(_channel.Id, "exactly once", cancellationToken: CancellationToken.None);

        Assert.That(_fake.Messages(_channel.Id), Has.Count.EqualTo(1));
        Assert.That(message.Id, Is.EqualTo(_fake.Messages(_channel.Id)[0].Id));
        var posts = _fake.Requests.Where(r => r.Template == MessagesRoute && r.Method == "POST").ToList();
        Assert.That(posts, Has.Count.EqualTo(2));
        Assert.That(JsonNode.Parse(posts[0].Body!)!["nonce"]!.GetValue<string>(),
            Is.EqualTo(JsonNode.Parse(posts[1].Body!)!["nonce"]!.GetValue<string>()));
        Assert.That(JsonNode.Parse(posts[1].Body!)!["enforce_nonce"]!.GetValue<bool>(), Is.True);
    }

    [Test]
    public async Task ALostAnswer_OnChannelCreation_IsNotRetried()
    {
        _fake.InjectLostAnswer("/guilds/{guild_id}/channels");

        Assert.ThrowsAsync<DiscordApiException>(() => _rest.CreateGuildChannelAsync(_fake.GuildId,
            new CreateChannelRequest("x", 0, _fake.CategoryId, null, []), CancellationToken.None));

        Assert.That(_fake.Channels.Count(c => c.Name == "x"), Is.EqualTo(1), "one channel, no duplicate from a retry");
    }

    [Test]
    public void AFullCategory_IsRefusedAsDiscordDoes_AndRecognised()
    {
        _fake.CategoryChannelLimit = 2;
        _fake.CreateChannel("first", _fake.CategoryId);
        _fake.CreateChannel("second", _fake.CategoryId);

        var full = Assert.ThrowsAsync<DiscordInvalidRequestException>(() => _rest.CreateGuildChannelAsync(_fake.GuildId,
            new CreateChannelRequest("third", 0, _fake.CategoryId, null, []), CancellationToken.None));

        Assert.That(full!.Code, Is.EqualTo(DiscordErrorCode.InvalidFormBody));
        Assert.That(full.IsCategoryFull, Is.True);
        Assert.That(full.DiscordMessage, Does.StartWith("Invalid Form Body").And.Contain("parent_id: CHANNEL_PARENT_MAX_CHANNELS"));
        Assert.That(_fake.Channels.Select(c => c.Name), Does.Not.Contain("third"));
    }

    [Test]
    public async Task DiscordErrors_AreTyped()
    {
        var unknown = Assert.ThrowsAsync<DiscordNotFoundException>(() => _rest.GetChannelAsync("123", CancellationToken.None));
        Assert.That(unknown!.Code, Is.EqualTo(DiscordErrorCode.UnknownChannel));

        var hidden = _fake.CreateChannel("hidden", overwrites: [new JsonObject { ["id"] = _fake.GuildId, ["type"] = 0, ["deny"] = "1024", ["allow"] = "0" }]);
        var forbidden = Assert.ThrowsAsync<DiscordForbiddenException>(() =>
            _rest.CreateMessageAsync(hidden.Id, "hi", cancellationToken: CancellationToken.None));
        Assert.That(forbidden!.Code, Is.EqualTo(DiscordErrorCode.MissingAccess));

        var stranger = FakeDiscordKit.Rest(_fake, _bot with { Token = "wrong" });
        Assert.ThrowsAsync<DiscordUnauthorizedException>(() => stranger.GetChannelAsync(_channel.Id, CancellationToken.None));

        Assert.ThrowsAsync<ArgumentException>(() =>
            _rest.CreateMessageAsync(_channel.Id, new string('x', 2001), cancellationToken: CancellationToken.None));
        await Task.CompletedTask;
    }

    [Test]
    public async Task APrivateChannel_IsCreatedWithOverwrites_AndDeleted()
    {
        var peer = _fake.AddBot("client-bot");
        var created = await _rest.CreateGuildChannelAsync(_fake.GuildId, new CreateChannelRequest("chat-1", 0, _fake.CategoryId, "session",
        [
            PermissionOverwrite.DenyEveryone(_fake.GuildId),
            PermissionOverwrite.AllowMember(_bot.UserId, DiscordPermissions.RelayBot),
            PermissionOverwrite.AllowMember(peer.UserId, DiscordPermissions.RelayBot),
        ]), CancellationToken.None);

        Assert.That(created.ParentId, Is.EqualTo(_fake.CategoryId));
        Assert.That(created.PermissionOverwrites!.Single(o => o.Id == peer.UserId).Allow, Is.EqualTo("101376"));
        var human = _fake.AddBot("someone-else");
        Assert.ThrowsAsync<DiscordForbiddenException>(() => FakeDiscordKit.Rest(_fake, human).GetChannelAsync(created.Id, CancellationToken.None));

        await _rest.DeleteChannelAsync(created.Id, CancellationToken.None);
        await _rest.DeleteChannelAsync(created.Id, CancellationToken.None); // already gone is fine

        Assert.That(_fake.Channel(created.Id), Is.Null);
    }

    [Test]
    public async Task AFile_GoesAsMultipart_AndDownloadsBack()
    {
        var content = Encoding.UTF8.GetBytes(new string('z', 5000));

        var message = await _rest.CreateMessageAsync(_channel.Id, null, new DiscordFile("envelope.ml1", content),
            cancellationToken: CancellationToken.None);

        var attachment = message.Attachments!.Single();
        Assert.That(attachment.Filename, Is.EqualTo("envelope.ml1"));
        Assert.That(await _rest.DownloadAttachmentAsync(attachment, 10_000, CancellationToken.None), Is.EqualTo(content));
        Assert.ThrowsAsync<InvalidDataException>(() => _rest.DownloadAttachmentAsync(attachment, 100, CancellationToken.None));
    }

    [Test]
    public async Task Messages_AreEditedAndListedNewestFirst()
    {
        var first = await _rest.CreateMessageAsync(_channel.Id, "one", cancellationToken: CancellationToken.None);
        await _rest.CreateMessageAsync(_channel.Id, "two", cancellationToken: CancellationToken.None);
        await _rest.EditMessageAsync(_channel.Id, first.Id, "one, edited", CancellationToken.None);

        var all = await _rest.ListMessagesAsync(_channel.Id, 10, cancellationToken: CancellationToken.None);
        var after = await _rest.ListMessagesAsync(_channel.Id, 10, first.Id, CancellationToken.None);

        Assert.That(all.Messages.Select(m => m.Content), Is.EqualTo(new[] { "two", "one, edited" }));
        Assert.That(after.Messages.Select(m => m.Content), Is.EqualTo(new[] { "two" }));
        Assert.That(all.Unreadable, Is.Empty);
        await _rest.TriggerTypingAsync(_channel.Id, CancellationToken.None);
    }

    [Test]
    public async Task AMessageTheClientCannotRead_IsListedByItsId_AndTheRestOfThePageIsRead()
    {
        var first = await _rest.CreateMessageAsync(_channel.Id, "one", cancellationToken: CancellationToken.None);
        var unreadable = _fake.PostUnreadable(_bot.UserId, _channel.Id, "no user object for its author");
        var last = await _rest.CreateMessageAsync(_channel.Id, "three", cancellationToken: CancellationToken.None);

        var page = await _rest.ListMessagesAsync(_channel.Id, 10, cancellationToken: CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(page.Messages.Select(m => m.Id), Is.EqualTo(new[] { last.Id, first.Id }));
            Assert.That(page.Unreadable, Is.EqualTo(new[] { ulong.Parse(unreadable.Id, CultureInfo.InvariantCulture) }));
            Assert.That(page.Count, Is.EqualTo(3), "a full page is still seen as full");
            Assert.That(page.NewestId, Is.EqualTo(ulong.Parse(last.Id, CultureInfo.InvariantCulture)));
        });
    }

    [Test]
    public async Task Interactions_AreAnswered_DeferredAndEdited()
    {
        var commands = await _rest.BulkOverwriteGuildCommandsAsync(_bot.ApplicationId, _fake.GuildId,
        [
            new ApplicationCommand("status", "Workers, queue and fallback mode"),
            new ApplicationCommand("ban", "Ban a user", [new ApplicationCommandOption(3, "user", "Username", true)]),
        ], CancellationToken.None);
        Assert.That(commands.Select(c => c.Name), Is.EqualTo(new[] { "status", "ban" }));

        await _rest.CreateInteractionResponseAsync("111", "tok", InteractionResponse.Defer(), CancellationToken.None);
        await _rest.EditOriginalInteractionResponseAsync(_bot.ApplicationId, "tok", "done", CancellationToken.None);
        await _rest.CreateFollowupMessageAsync(_bot.ApplicationId, "tok", "more", ephemeral: true, CancellationToken.None);
        Assert.ThrowsAsync<DiscordAlreadyAcknowledgedException>(() =>
            _rest.CreateInteractionResponseAsync("111", "tok", InteractionResponse.Reply("again"), CancellationToken.None));

        Assert.That(_fake.InteractionAnswers.Select(a => a["content"]?.GetValue<string>()), Is.EqualTo(new[] { null, "done", "more" }));
    }

    [Test]
    public async Task AnInteractionCallback_WhoseAnswerWasLost_CountsAsDoneOnRetry()
    {
        _fake.InjectLostAnswer("/interactions/{interaction_id}/{interaction_token}/callback");

        await _rest.CreateInteractionResponseAsync("222", "tok", InteractionResponse.Reply("hi"), CancellationToken.None);

        Assert.That(_fake.InteractionAnswers, Has.Count.EqualTo(1));
    }
}
