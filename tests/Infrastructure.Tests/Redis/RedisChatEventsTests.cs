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
    public async Task Subscribers_OnOneInstance_ShareOnePatternSubscription_WhateverTheSessions()
    {
        var name = $"ml-test-{Guid.NewGuid():N}";
        var connection = _server.Connect(_server.Options(extra: $"name={name}"));
        await using var api = new RedisChatEvents(connection, _server.Outages());

        var subscriptions = new List<IChatEventSubscription>();
        for (var i = 0; i < 5; i++)
        {
            subscriptions.Add(await api.SubscribeAsync(Guid.NewGuid(), CancellationToken.None));
        }

        var whileFive = await SubscriptionsAsync(connection, name);
        foreach (var subscription in subscriptions)
        {
            await subscription.DisposeAsync();
        }

        var afterAll = await SubscriptionsAsync(connection, name);
        // (sub counts the multiplexer's own channel, which it subscribes to whatever we do.)
        Assert.That(whileFive, Does.StartWith("psub=1 "), "one PSUBSCRIBE for five sessions");
        Assert.That(afterAll, Is.EqualTo(whileFive),
            "kept when the sessions are left, and no channel of a session's own: joining or leaving costs no round trip");
    }

    [Test]
    public async Task ASessionLeftByEveryClient_IsReceivedAgainWhenAClientReturns()
    {
        await using var api = new RedisChatEvents(_server.Connect(), _server.Outages());
        await using var publisher = new RedisChatEvents(_server.Connect(), _server.Outages());
        var session = Guid.NewGuid();

        var first = await api.SubscribeAsync(session, CancellationToken.None);
        await first.DisposeAsync();
        await using var second = await api.SubscribeAsync(session, CancellationToken.None);
        await publisher.PublishAsync(new ChatEvent(ChatEventTypes.Status, session, Status: "seen"), CancellationToken.None);

        var received = await ReadAsync(second, 1);
        Assert.That(received.Single().Status, Is.EqualTo("seen"));
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
