using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Infrastructure.Redis;
using NUnit.Framework;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Tests.Redis;

public sealed class RedisChatEventsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private RedisTestServer _server = null!;
    private RedisConnection? _observer;

    [SetUp]
    public void SetUp()
    {
        _server = new RedisTestServer();
        _observer = null;
    }

    [TearDown]
    public async Task TearDown() => await _server.DisposeAsync();

    [Test]
    public async Task Publish_OnOneInstance_ReachesASubscriberOnTheOtherInOrder()
    {
        await using var apiA = await EventsAsync();
        await using var apiB = await EventsAsync();
        var chatId = Guid.NewGuid();
        var request = Guid.NewGuid();
        await using var subscription = await apiB.SubscribeAsync(chatId, CancellationToken.None);
        var final = new MessageDto(Guid.NewGuid(), chatId, "assistant", "Hello there", "Model",
            new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), new TokensDto(3, 2, 5), request);

        for (var seq = 0; seq < 50; seq++)
        {
            await apiA.PublishAsync(new ChatEvent(ChatEventTypes.Delta, chatId, request, seq, $"piece {seq}"), CancellationToken.None);
        }

        await apiA.PublishAsync(new ChatEvent(ChatEventTypes.Message, chatId, request, Message: final), CancellationToken.None);

        var received = await ReadAsync(subscription, 51);
        Assert.Multiple(() =>
        {
            Assert.That(received.Take(50).Select(e => e.Seq), Is.EqualTo(Enumerable.Range(0, 50).Cast<int?>()));
            Assert.That(received.Take(50).Select(e => e.Text), Is.EqualTo(Enumerable.Range(0, 50).Select(i => $"piece {i}")));
            Assert.That(received[50].Type, Is.EqualTo(ChatEventTypes.Message));
            Assert.That(received[50].Message, Is.EqualTo(final));
        });
    }

    /// <summary>
    /// A multiplexer's subscription connection may come up after its interactive one (a loaded machine, a reconnect):
    /// StackExchange.Redis 1.2.6 then records the handler, sends no SUBSCRIBE and returns at once. SubscribeAsync's
    /// promise holds then too: an event published as soon as it returns is delivered.
    /// </summary>
    [Test]
    public async Task AnEventPublishedAsSoonAsSubscribeReturns_IsDelivered_WhileTheSubscriptionConnectionComesUp()
    {
        await using var proxy = new SlowSubscriptionConnectionProxy(_server.Endpoint);
        var options = _server.Options();
        options.Configuration = proxy.Endpoint;
        await using var api = await EventsAsync(await _server.ConnectedAsync(options));
        await using var publisher = await EventsAsync();
        var chatId = Guid.NewGuid();

        var release = Task.Delay(TimeSpan.FromMilliseconds(500)).ContinueWith(_ => proxy.Release(), TaskScheduler.Default);
        await using var subscription = await api.SubscribeAsync(chatId, CancellationToken.None);
        await publisher.PublishAsync(new ChatEvent(ChatEventTypes.Status, chatId, Status: "right after"), CancellationToken.None);
        var received = await ReadAsync(subscription, 1);
        await release;

        Assert.Multiple(() =>
        {
            Assert.That(proxy.SubscriptionConnectionsHeld, Is.EqualTo(1), "the subscription connection was held back");
            Assert.That(received.Single().Status, Is.EqualTo("right after"));
        });
    }

    [Test]
    public async Task Publish_ReachesOnlyTheSessionsOwnSubscribers()
    {
        await using var apiA = await EventsAsync();
        await using var apiB = await EventsAsync();
        var mine = Guid.NewGuid();
        var other = Guid.NewGuid();
        await using var subscription = await apiB.SubscribeAsync(mine, CancellationToken.None);

        await apiA.PublishAsync(new ChatEvent(ChatEventTypes.Status, other, Status: "queued"), CancellationToken.None);
        await apiA.PublishAsync(new ChatEvent(ChatEventTypes.Status, mine, Status: "streaming"), CancellationToken.None);

        var received = await ReadAsync(subscription, 1);
        Assert.That(received.Single().Status, Is.EqualTo("streaming"));
    }

    [Test]
    public async Task AnInstance_IsSentOnlyTheEventsOfTheSessionsItsClientsFollow()
    {
        var name = $"ml-test-{Guid.NewGuid():N}";
        var connectionA = await _server.ConnectedAsync(_server.Options(extra: $"name={name}"));
        await using var apiA = await EventsAsync(connectionA);
        await using var apiB = await EventsAsync();
        var followedOnA = Guid.NewGuid();
        var followedOnB = Guid.NewGuid();
        await using var onA = await apiA.SubscribeAsync(followedOnA, CancellationToken.None);
        await using var onB = await apiB.SubscribeAsync(followedOnB, CancellationToken.None);

        var numsub = (A: await NumSubAsync(followedOnA), B: await NumSubAsync(followedOnB));

        await apiB.PublishAsync(new ChatEvent(ChatEventTypes.Status, followedOnA, Status: "for A"), CancellationToken.None);
        await apiA.PublishAsync(new ChatEvent(ChatEventTypes.Status, followedOnB, Status: "for B"), CancellationToken.None);
        var receivedOnA = await ReadAsync(onA, 1);
        var receivedOnB = await ReadAsync(onB, 1);
        var subscriptionsOfA = await SubscriptionsAsync(connectionA, name);

        Assert.Multiple(() =>
        {
            Assert.That(numsub, Is.EqualTo((1L, 1L)), "each session's channel has one subscriber: the instance following it");
            Assert.That(receivedOnA.Single().Status, Is.EqualTo("for A"), "published on B, received on A");
            Assert.That(receivedOnB.Single().Status, Is.EqualTo("for B"), "published on A, received on B");
            // Redis sends a connection its messages in order: had either instance been sent the other's event too, it
            // would have had it before its own.
            Assert.That(apiA.PayloadsReceived, Is.EqualTo(1), "A was sent nothing of B's session");
            Assert.That(apiB.PayloadsReceived, Is.EqualTo(1), "B was sent nothing of A's session");
            Assert.That(subscriptionsOfA, Does.StartWith("psub=0 "), "no pattern subscription");
        });
    }

    [Test]
    public async Task ASessionRejoinedWithinTheLinger_CostsNoSubscribe_AndIsLetGoAfterIt()
    {
        var linger = TimeSpan.FromSeconds(1.5);
        await using var api = await EventsAsync(linger: linger);
        await using var publisher = await EventsAsync();
        var chatId = Guid.NewGuid();

        // A chat asking one message after another: each wait joins, reads its answer and leaves.
        var numsubs = new List<long>();
        for (var message = 0; message < 3; message++)
        {
            await using (var wait = await api.SubscribeAsync(chatId, CancellationToken.None))
            {
                numsubs.Add(await NumSubAsync(chatId));
                await publisher.PublishAsync(new ChatEvent(ChatEventTypes.Status, chatId, Status: $"answer {message}"),
                    CancellationToken.None);
                Assert.That((await ReadAsync(wait, 1)).Single().Status, Is.EqualTo($"answer {message}"));
            }

            numsubs.Add(await NumSubAsync(chatId));
        }

        var subscribesWhileChatting = api.SubscribesSent;
        var leftAt = Stopwatch.StartNew();
        var letGo = await WaitForNumSubAsync(chatId, 0, TimeSpan.FromSeconds(10));
        var letGoAfter = leftAt.Elapsed;

        await using var returning = await api.SubscribeAsync(chatId, CancellationToken.None);
        var numsubOnReturn = await NumSubAsync(chatId);
        await publisher.PublishAsync(new ChatEvent(ChatEventTypes.Status, chatId, Status: "back"), CancellationToken.None);
        var receivedOnReturn = await ReadAsync(returning, 1);

        Assert.Multiple(() =>
        {
            Assert.That(numsubs, Is.EqualTo(new long[] { 1, 1, 1, 1, 1, 1 }), "subscribed throughout the chat, also between waits");
            Assert.That(subscribesWhileChatting, Is.EqualTo(1), "one SUBSCRIBE for three messages");
            Assert.That(letGo, Is.True, "unsubscribed once the linger passed with no follower");
            Assert.That(letGoAfter, Is.GreaterThanOrEqualTo(linger - TimeSpan.FromMilliseconds(100)), "not before the linger");
            Assert.That(api.SubscribesSent, Is.EqualTo(2), "a client returning after the linger subscribes again");
            Assert.That(numsubOnReturn, Is.EqualTo(1));
            Assert.That(receivedOnReturn.Single().Status, Is.EqualTo("back"));
        });
    }

    [Test]
    public async Task ClientsJoiningAtOnce_ShareOneSubscribe_AndAllReceive()
    {
        await using var api = await EventsAsync();
        await using var publisher = await EventsAsync();
        var chatId = Guid.NewGuid();

        var subscriptions = await Task.WhenAll(Enumerable.Range(0, 20)
            .Select(_ => api.SubscribeAsync(chatId, CancellationToken.None).AsTask()));
        try
        {
            await publisher.PublishAsync(new ChatEvent(ChatEventTypes.Status, chatId, Status: "to all"), CancellationToken.None);
            var received = await Task.WhenAll(subscriptions.Select(s => ReadAsync(s, 1)));
            var numsub = await NumSubAsync(chatId);

            Assert.Multiple(() =>
            {
                Assert.That(api.SubscribesSent, Is.EqualTo(1), "the clients joining while the SUBSCRIBE was in flight awaited it");
                Assert.That(numsub, Is.EqualTo(1));
                Assert.That(received.Select(r => r.Single().Status), Is.All.EqualTo("to all"));
            });
        }
        finally
        {
            foreach (var subscription in subscriptions)
            {
                await subscription.DisposeAsync();
            }
        }
    }

    [Test]
    public async Task EventsPublishedTogether_TravelAsOnePublish_AndArriveInOrderAsSeparateEvents()
    {
        await using var api = await EventsAsync();
        await using var publisher = await EventsAsync();
        var chatId = Guid.NewGuid();
        var request = Guid.NewGuid();
        await using var subscription = await api.SubscribeAsync(chatId, CancellationToken.None);
        var raw = await RawSubscribeAsync(chatId);
        var answer = new MessageDto(Guid.NewGuid(), chatId, "assistant", "Rayleigh scattering.", "Model",
            new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), new TokensDto(3, 2, 5), request);
        ChatEvent[] together =
        [
            new(ChatEventTypes.Delta, chatId, request, Seq: 1, Text: "Rayleigh scattering."),
            new(ChatEventTypes.Message, chatId, request, Message: answer),
            new(ChatEventTypes.Status, chatId, request, Status: "completed"),
        ];

        await publisher.PublishAsync(together, CancellationToken.None);
        await publisher.PublishAsync(new ChatEvent(ChatEventTypes.Status, chatId, Status: "after"), CancellationToken.None);
        var received = await ReadAsync(subscription, 4);
        var payloads = await raw.ReadAsync(2);

        Assert.Multiple(() =>
        {
            Assert.That(received, Is.EqualTo(together.Append(new ChatEvent(ChatEventTypes.Status, chatId, Status: "after"))));
            Assert.That(payloads, Has.Count.EqualTo(2), "three events in one PUBLISH, then one");
            Assert.That(payloads[0], Does.StartWith("["), "a list of events");
            Assert.That(payloads[1], Does.StartWith("{"), "a single event keeps the format of one event");
            Assert.That(api.PayloadsReceived, Is.EqualTo(2));
        });
    }

    [Test]
    public async Task ASingleEventPayload_AsAnEarlierVersionPublishesIt_IsStillRead()
    {
        await using var api = await EventsAsync();
        var chatId = Guid.NewGuid();
        var request = Guid.NewGuid();
        await using var subscription = await api.SubscribeAsync(chatId, CancellationToken.None);
        var database = await _server.Connect().GetDatabaseAsync();

        await database.PublishAsync(Channel(chatId),
            $"{{\"type\":\"status\",\"sessionId\":\"{chatId}\",\"requestId\":\"{request}\",\"status\":\"queued\"}}");

        var received = await ReadAsync(subscription, 1);
        Assert.That(received.Single(), Is.EqualTo(new ChatEvent(ChatEventTypes.Status, chatId, request, Status: "queued")));
    }

    [Test]
    public async Task EventsOfSeveralSessions_CannotBePublishedTogether()
    {
        await using var api = await EventsAsync();

        Assert.ThrowsAsync<ArgumentException>(async () => await api.PublishAsync(
            [new ChatEvent(ChatEventTypes.Status, Guid.NewGuid()), new ChatEvent(ChatEventTypes.Status, Guid.NewGuid())],
            CancellationToken.None));
    }

    [Test]
    public async Task Disposal_UnsubscribesEveryChannel_FollowedOrLingering()
    {
        var api = await EventsAsync();
        var followed = Guid.NewGuid();
        var lingering = Guid.NewGuid();
        await using var stillOpen = await api.SubscribeAsync(followed, CancellationToken.None);
        await (await api.SubscribeAsync(lingering, CancellationToken.None)).DisposeAsync();
        var before = (await NumSubAsync(followed), await NumSubAsync(lingering));

        await api.DisposeAsync();
        var after = (await WaitForNumSubAsync(followed, 0, Patience), await WaitForNumSubAsync(lingering, 0, Patience));

        Assert.That(before, Is.EqualTo((1L, 1L)));
        Assert.That(after, Is.EqualTo((true, true)), "both channels unsubscribed: the followed and the lingering one");
    }

    [Test]
    public async Task ASessionLeftByEveryClient_IsReceivedAgainWhenAClientReturns()
    {
        await using var api = await EventsAsync();
        await using var publisher = await EventsAsync();
        var chatId = Guid.NewGuid();

        var first = await api.SubscribeAsync(chatId, CancellationToken.None);
        await first.DisposeAsync();
        await using var second = await api.SubscribeAsync(chatId, CancellationToken.None);
        await publisher.PublishAsync(new ChatEvent(ChatEventTypes.Status, chatId, Status: "seen"), CancellationToken.None);

        var received = await ReadAsync(second, 1);
        Assert.That(received.Single().Status, Is.EqualTo("seen"));
    }

    /// <summary>An API instance's bus: its own multiplexer, lingering 30 s unless told.</summary>
    /// <summary>
    /// An instance's chat events on a connection that has finished connecting: on a loaded machine a connect still under
    /// way sends the first publish to the outage fallback (this instance only), and the test would measure the
    /// machine's speed rather than the routing.
    /// </summary>
    private async Task<RedisChatEvents> EventsAsync(RedisConnection? connection = null, TimeSpan? linger = null) =>
        new(connection ?? await _server.ConnectedAsync(), _server.Outages(), linger ?? TimeSpan.FromSeconds(30));

    private RedisChannel Channel(Guid chatId) => new($"{_server.KeyPrefix}chat:{chatId:N}", RedisChannel.PatternMode.Literal);

    /// <summary>How many connections Redis has subscribed to the session's channel (PUBSUB NUMSUB).</summary>
    private async Task<long> NumSubAsync(Guid chatId)
    {
        var database = await (_observer ??= _server.Connect()).GetDatabaseAsync();
        var reply = (RedisResult[])(await database.ExecuteAsync("PUBSUB", "NUMSUB", (string)Channel(chatId)!))!;
        return (long)reply[1];
    }

    private async Task<bool> WaitForNumSubAsync(Guid chatId, long expected, TimeSpan patience)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < patience)
        {
            if (await NumSubAsync(chatId) == expected)
            {
                return true;
            }

            await Task.Delay(20);
        }

        return false;
    }

    /// <summary>
    /// Every payload published on the session's channel, as Redis sends it, on a multiplexer of the test's own,
    /// subscribed as the product subscribes (the multiplexer's own SubscribeAsync may return before Redis has it).
    /// </summary>
    private async Task<RawChannel> RawSubscribeAsync(Guid chatId)
    {
        var raw = new RawChannel();
        var connection = await _server.ConnectedAsync();
        await connection.SubscribeAsync(await connection.GetSubscriberAsync(), Channel(chatId),
            (_, payload) => raw.Payloads.Writer.TryWrite((string)payload!));
        return raw;
    }

    private sealed class RawChannel
    {
        public System.Threading.Channels.Channel<string> Payloads { get; } =
            System.Threading.Channels.Channel.CreateUnbounded<string>();

        public async Task<List<string>> ReadAsync(int count)
        {
            using var timeout = new CancellationTokenSource(Patience);
            var payloads = new List<string>();
            while (payloads.Count < count)
            {
                payloads.Add(await Payloads.Reader.ReadAsync(timeout.Token));
            }

            // Anything more that came meanwhile counts too.
            await Task.Delay(200);
            while (Payloads.Reader.TryRead(out var more))
            {
                payloads.Add(more);
            }

            return payloads;
        }
    }

    internal static async Task<List<ChatEvent>> ReadAsync(IChatEventSubscription subscription, int count)
    {
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<ChatEvent>();
        try
        {
            await foreach (var chatEvent in subscription.ReadAllAsync(timeout.Token))
            {
                received.Add(chatEvent);
                if (received.Count == count)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"Received {received.Count} of {count} events within {Patience.TotalSeconds} s.");
        }

        return received;
    }

    /// <summary>"psub=N sub=M" of the subscription connection of the multiplexer named <paramref name="name"/>.</summary>
    private static async Task<string> SubscriptionsAsync(RedisConnection connection, string name)
    {
        var database = await connection.GetDatabaseAsync();
        var clients = ((string)(await database.ExecuteAsync("CLIENT", "LIST"))!).Split('\n')
            .Where(line => line.Contains($" name={name} ", StringComparison.Ordinal))
            .Select(line => line.Split(' ').ToDictionary(f => f.Split('=')[0], f => f.Split('=', 2).ElementAtOrDefault(1)))
            .ToList();
        var subscriptions = clients.Sum(c => int.Parse(c.GetValueOrDefault("psub") ?? "0", System.Globalization.CultureInfo.InvariantCulture));
        var channels = clients.Sum(c => int.Parse(c.GetValueOrDefault("sub") ?? "0", System.Globalization.CultureInfo.InvariantCulture));
        return $"psub={subscriptions} sub={channels}";
    }
}
