using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Memory;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Memory;

public sealed class MemoryChatEventsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    [Test]
    public async Task Subscriber_ReceivesEventsPublishedAfterSubscribing_InOrder()
    {
        var events = new MemoryChatEvents();
        var chatId = Guid.NewGuid();
        await events.PublishAsync(Delta(chatId, -1), CancellationToken.None);

        await using var subscription = await events.SubscribeAsync(chatId, CancellationToken.None);
        for (var seq = 0; seq < 100; seq++)
        {
            await events.PublishAsync(Delta(chatId, seq), CancellationToken.None);
        }

        var received = await ReadAsync(subscription, 100);

        Assert.That(received.Select(e => e.Seq), Is.EqualTo(Enumerable.Range(0, 100).Cast<int?>()));
    }

    [Test]
    public async Task Publish_FansOutEveryEventToEverySubscriberOfTheSession()
    {
        var events = new MemoryChatEvents();
        var chatId = Guid.NewGuid();
        var subscriptions = new List<IChatEventSubscription>();
        for (var i = 0; i < 3; i++)
        {
            subscriptions.Add(await events.SubscribeAsync(chatId, CancellationToken.None));
        }

        for (var seq = 0; seq < 50; seq++)
        {
            await events.PublishAsync(Delta(chatId, seq), CancellationToken.None);
        }

        foreach (var subscription in subscriptions)
        {
            var received = await ReadAsync(subscription, 50);
            Assert.That(received.Select(e => e.Seq), Is.EqualTo(Enumerable.Range(0, 50).Cast<int?>()));
            await subscription.DisposeAsync();
        }
    }

    [Test]
    public async Task Publish_WithConcurrentPublishers_GivesEverySubscriberTheSameOrder()
    {
        var events = new MemoryChatEvents();
        var chatId = Guid.NewGuid();
        await using var first = await events.SubscribeAsync(chatId, CancellationToken.None);
        await using var second = await events.SubscribeAsync(chatId, CancellationToken.None);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(publisher => Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await events.PublishAsync(Delta(chatId, (publisher * 1000) + i), CancellationToken.None);
            }
        })));

        var a = await ReadAsync(first, 400);
        var b = await ReadAsync(second, 400);

        Assert.That(a.Select(e => e.Seq), Is.EqualTo(b.Select(e => e.Seq)));
    }

    [Test]
    public async Task Subscriber_DoesNotReceiveEventsOfOtherSessions()
    {
        var events = new MemoryChatEvents();
        var mine = Guid.NewGuid();
        var other = Guid.NewGuid();
        await using var subscription = await events.SubscribeAsync(mine, CancellationToken.None);
        await using var otherSubscription = await events.SubscribeAsync(other, CancellationToken.None);

        await events.PublishAsync(Delta(other, 1), CancellationToken.None);
        await events.PublishAsync(Delta(mine, 2), CancellationToken.None);

        var received = await ReadAsync(subscription, 1);

        Assert.That(received.Single().SessionId, Is.EqualTo(mine));
        Assert.That(received.Single().Seq, Is.EqualTo(2));
    }

    [Test]
    public async Task Dispose_EndsTheSubscriptionsStreamAndStopsDelivery()
    {
        var events = new MemoryChatEvents();
        var chatId = Guid.NewGuid();
        var subscription = await events.SubscribeAsync(chatId, CancellationToken.None);
        await events.PublishAsync(Delta(chatId, 1), CancellationToken.None);

        await subscription.DisposeAsync();
        await events.PublishAsync(Delta(chatId, 2), CancellationToken.None);

        using var timeout = new CancellationTokenSource(Patience);
        var remaining = new List<ChatEvent>();
        await foreach (var chatEvent in subscription.ReadAllAsync(timeout.Token))
        {
            remaining.Add(chatEvent);
        }

        // What was queued before disposing may still be read; nothing published afterwards arrives, and the loop ends.
        Assert.That(remaining.Select(e => e.Seq), Is.EqualTo(new int?[] { 1 }));
    }

    [Test]
    public async Task Dispose_OfOneSubscriber_LeavesTheOthersSubscribed()
    {
        var events = new MemoryChatEvents();
        var chatId = Guid.NewGuid();
        var leaving = await events.SubscribeAsync(chatId, CancellationToken.None);
        await using var staying = await events.SubscribeAsync(chatId, CancellationToken.None);

        await leaving.DisposeAsync();
        await leaving.DisposeAsync();
        await events.PublishAsync(Delta(chatId, 7), CancellationToken.None);

        var received = await ReadAsync(staying, 1);

        Assert.That(received.Single().Seq, Is.EqualTo(7));
    }

    [Test]
    public async Task Subscribe_AfterEveryoneLeft_ReceivesNewEvents()
    {
        var events = new MemoryChatEvents();
        var chatId = Guid.NewGuid();
        await (await events.SubscribeAsync(chatId, CancellationToken.None)).DisposeAsync();

        await using var again = await events.SubscribeAsync(chatId, CancellationToken.None);
        await events.PublishAsync(Delta(chatId, 3), CancellationToken.None);

        Assert.That((await ReadAsync(again, 1)).Single().Seq, Is.EqualTo(3));
    }

    [Test]
    public async Task SlowSubscriber_DoesNotBlockThePublisherOrOthers_AndLosesItsOldestEvents()
    {
        var events = new MemoryChatEvents(subscriberCapacity: 10);
        var chatId = Guid.NewGuid();
        await using var slow = await events.SubscribeAsync(chatId, CancellationToken.None);
        await using var fast = await events.SubscribeAsync(chatId, CancellationToken.None);
        using var timeout = new CancellationTokenSource(Patience);
        await using var fastReader = fast.ReadAllAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);

        var fastSeqs = new List<int?>();
        var allPublishesCompletedAtOnce = true;
        for (var seq = 0; seq < 25; seq++)
        {
            var publish = events.PublishAsync(Delta(chatId, seq), CancellationToken.None);
            allPublishesCompletedAtOnce &= publish.IsCompletedSuccessfully;
            await publish;
            Assert.That(await fastReader.MoveNextAsync(), Is.True);
            fastSeqs.Add(fastReader.Current.Seq);
        }

        var slowSeqs = (await ReadAsync(slow, 10)).Select(e => e.Seq);

        Assert.Multiple(() =>
        {
            Assert.That(allPublishesCompletedAtOnce, Is.True);
            Assert.That(fastSeqs, Is.EqualTo(Enumerable.Range(0, 25).Cast<int?>()));
            Assert.That(slowSeqs, Is.EqualTo(Enumerable.Range(15, 10).Cast<int?>()));
        });
    }

    [Test]
    public async Task Publish_ToASessionWithoutSubscribers_CompletesAtOnce()
    {
        var events = new MemoryChatEvents();

        var publish = events.PublishAsync(Delta(Guid.NewGuid(), 1), CancellationToken.None);

        Assert.That(publish.IsCompletedSuccessfully, Is.True);
        await publish;
    }

    [Test]
    public async Task EventsPublishedTogether_ArriveInOrder_WithNoOtherEventBetweenThem()
    {
        var events = new MemoryChatEvents();
        var chatId = Guid.NewGuid();
        await using var subscription = await events.SubscribeAsync(chatId, CancellationToken.None);

        // Units of three (3k, 3k+1, 3k+2) from one task while another publishes single events (-1, -2, …).
        var together = Task.Run(async () =>
        {
            for (var unit = 0; unit < 200; unit++)
            {
                await events.PublishAsync([Delta(chatId, 3 * unit), Delta(chatId, 3 * unit + 1), Delta(chatId, 3 * unit + 2)],
                    CancellationToken.None);
            }
        });
        var alone = Task.Run(async () =>
        {
            for (var seq = 1; seq <= 300; seq++)
            {
                await events.PublishAsync(Delta(chatId, -seq), CancellationToken.None);
            }
        });
        await Task.WhenAll(together, alone);

        var received = (await ReadAsync(subscription, 900)).Select(e => e.Seq!.Value).ToList();
        var units = received.Where(seq => seq >= 0).ToList();
        var unitsUnbroken = received.Select((seq, i) => seq < 0 || seq % 3 == 0
            || (i > 0 && received[i - 1] == seq - 1)).All(ok => ok);

        Assert.Multiple(() =>
        {
            Assert.That(units, Is.EqualTo(Enumerable.Range(0, 600)), "every event of every unit, in order");
            Assert.That(received.Where(seq => seq < 0), Is.EqualTo(Enumerable.Range(1, 300).Select(seq => -seq)));
            Assert.That(unitsUnbroken, Is.True, "no single event between the events of a unit");
        });
    }

    [Test]
    public void EventsOfSeveralSessions_CannotBePublishedTogether()
    {
        var events = new MemoryChatEvents();

        Assert.ThrowsAsync<ArgumentException>(async () => await events.PublishAsync(
            [Delta(Guid.NewGuid(), 1), Delta(Guid.NewGuid(), 2)], CancellationToken.None));
    }

    [Test]
    public async Task NoEventsPublishedTogether_PublishesNothing()
    {
        var events = new MemoryChatEvents();
        var chatId = Guid.NewGuid();
        await using var subscription = await events.SubscribeAsync(chatId, CancellationToken.None);

        await events.PublishAsync([], CancellationToken.None);
        await events.PublishAsync(Delta(chatId, 1), CancellationToken.None);

        Assert.That((await ReadAsync(subscription, 1)).Single().Seq, Is.EqualTo(1));
    }

    private static ChatEvent Delta(Guid chatId, int seq) =>
        new(ChatEventTypes.Delta, chatId, Guid.Empty, seq, $"piece {seq}");

    private static async Task<List<ChatEvent>> ReadAsync(IChatEventSubscription subscription, int count)
    {
        using var timeout = new CancellationTokenSource(Patience);
        var received = new List<ChatEvent>();
        await foreach (var chatEvent in subscription.ReadAllAsync(timeout.Token))
        {
            received.Add(chatEvent);
            if (received.Count == count)
            {
                break;
            }
        }

        return received;
    }
}
