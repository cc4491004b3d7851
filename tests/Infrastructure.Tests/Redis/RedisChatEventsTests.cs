using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Infrastructure.Redis;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Redis;

public sealed class RedisChatEventsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private RedisTestServer _server = null!;

    [SetUp]
    public void SetUp() => _server = new RedisTestServer();

    [TearDown]
    public async Task TearDown() => await _server.DisposeAsync();

    [Test]
    public async Task Publish_OnOneInstance_ReachesASubscriberOnTheOtherInOrder()
    {
        await using var apiA = new RedisChatEvents(_server.Connect(), _server.Outages());
        await using var apiB = new RedisChatEvents(_server.Connect(), _server.Outages());
        var session = Guid.NewGuid();
        var request = Guid.NewGuid();
        await using var subscription = await apiB.SubscribeAsync(session, CancellationToken.None);
        var final = new MessageDto(Guid.NewGuid(), session, "assistant", "Hello there", "Model",
            new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), new TokensDto(3, 2, 5), request);

        for (var seq = 0; seq < 50; seq++)
        {
            await apiA.PublishAsync(new ChatEvent(ChatEventTypes.Delta, session, request, seq, $"piece {seq}"), CancellationToken.None);
        }

        await apiA.PublishAsync(new ChatEvent(ChatEventTypes.Message, session, request, Message: final), CancellationToken.None);

        var received = await ReadAsync(subscription, 51);
        Assert.Multiple(() =>
        {
            Assert.That(received.Take(50).Select(e => e.Seq), Is.EqualTo(Enumerable.Range(0, 50).Cast<int?>()));
            Assert.That(received.Take(50).Select(e => e.Text), Is.EqualTo(Enumerable.Range(0, 50).Select(i => $"piece {i}")));
            Assert.That(received[50].Type, Is.EqualTo(ChatEventTypes.Message));
            Assert.That(received[50].Message, Is.EqualTo(final));
        });
    }

    [Test]
    public async Task Publish_ReachesOnlyTheSessionsOwnSubscribers()
    {
        await using var apiA = new RedisChatEvents(_server.Connect(), _server.Outages());
        await using var apiB = new RedisChatEvents(_server.Connect(), _server.Outages());
        var mine = Guid.NewGuid();
        var other = Guid.NewGuid();
        await using var subscription = await apiB.SubscribeAsync(mine, CancellationToken.None);

        await apiA.PublishAsync(new ChatEvent(ChatEventTypes.Status, other, Status: "queued"), CancellationToken.None);
        await apiA.PublishAsync(new ChatEvent(ChatEventTypes.Status, mine, Status: "streaming"), CancellationToken.None);

        var received = await ReadAsync(subscription, 1);
        Assert.That(received.Single().Status, Is.EqualTo("streaming"));
    }

    [Test]
    public async Task Subscribers_OnOneInstance_ShareOneRedisSubscriptionUntilTheLastLeaves()
    {
        var connection = _server.Connect();
        await using var api = new RedisChatEvents(connection, _server.Outages());
        var session = Guid.NewGuid();
        var channel = $"{_server.KeyPrefix}chat:{session:N}";

        var first = await api.SubscribeAsync(session, CancellationToken.None);
        var second = await api.SubscribeAsync(session, CancellationToken.None);
        var whileBoth = await SubscriberCountAsync(connection, channel);
        await first.DisposeAsync();
        var whileOne = await SubscriberCountAsync(connection, channel);
        await second.DisposeAsync();
        // Redis applies an UNSUBSCRIBE after it answered the client's call: allow it a moment.
        var afterBoth = await SubscriberCountAsync(connection, channel);
        for (var wait = 0; afterBoth != 0 && wait < 50; wait++)
        {
            await Task.Delay(100);
            afterBoth = await SubscriberCountAsync(connection, channel);
        }

        Assert.That((whileBoth, whileOne, afterBoth), Is.EqualTo((1L, 1L, 0L)));
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

    private static async Task<long> SubscriberCountAsync(RedisConnection connection, string channel)
    {
        var database = await connection.GetDatabaseAsync();
        var reply = (StackExchange.Redis.RedisResult[])(await database.ExecuteAsync("PUBSUB", "NUMSUB", channel))!;
        return (long)reply[1];
    }
}
