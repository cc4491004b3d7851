using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Memory;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Redis;

/// <summary>
/// Redis dies mid-run and comes back on the same port (a server of the test's own, not the shared one). The checks:
/// while it is down every rate-limit check answers at once as the fail mode says and is counted, and a token given back
/// is dropped at once and counted; once it is back the same limiter and bus (same multiplexer, no restart of the host)
/// work against Redis again — a bucket is enforced again, and a subscription made before the outage receives events
/// published after it.
/// </summary>
[NonParallelizable]
public sealed class RedisRestartTests
{
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(30);

    [TestCase(RedisFailMode.Open)]
    [TestCase(RedisFailMode.Closed)]
    public async Task Restart_MidRun_FailModeIsHonouredAndTheHostRecoversByItself(RedisFailMode failMode)
    {
        using var redis = new OwnRedisServer();
        await redis.StartAsync();
        await using var server = new RedisTestServer(redis.Endpoint);
        var options = server.Options(failMode, "connectTimeout=1000,syncTimeout=1000");
        var outages = server.Outages();
        var measured = new ConcurrentQueue<string>();
        using var listener = ListenToOutageCounter(server, measured);
        var limits = new TestOptionsMonitor<RateLimitOptions>(new RateLimitOptions { PerUserPerMinute = 1, UserBurst = 2 });
        var connection = server.Connect(options);
        var limiter = new RedisRateLimiter(connection, new ConfiguredRateLimits(limits, new TestRuntimeSettings()), Options.Create(options), outages);
        await using var events = new RedisChatEvents(connection, outages, TimeSpan.FromSeconds(30));
        await using var publisherEvents =
            new RedisChatEvents(server.Connect(options), server.Outages(), TimeSpan.FromSeconds(30));
        var chatId = Guid.NewGuid();
        await using var subscription = await events.SubscribeAsync(chatId, CancellationToken.None);

        var before = await limiter.TryAcquireAsync(RateLimitScope.User, "erin", CancellationToken.None);

        redis.Kill();
        var clock = Stopwatch.StartNew();
        var during = await limiter.TryAcquireAsync(RateLimitScope.User, "erin", CancellationToken.None);
        var answeredIn = clock.Elapsed;
        clock.Restart();
        await limiter.GiveBackAsync(RateLimitScope.User, "erin", CancellationToken.None);
        var givenBackIn = clock.Elapsed;
        var countedDuring = outages.Total;

        await redis.StartAsync();

        // Back: a fresh server has forgotten the bucket, so two checks pass and the third is refused by Redis —
        // neither fail mode could give that answer.
        var recovered = await WaitUntilAsync(async () =>
        {
            var fresh = $"frank-{Guid.NewGuid():N}";
            var answers = new List<bool>();
            for (var i = 0; i < 3; i++)
            {
                answers.Add((await limiter.TryAcquireAsync(RateLimitScope.User, fresh, CancellationToken.None)).Allowed);
            }

            return answers.SequenceEqual([true, true, false]);
        });
        var delivered = await PublishedEventArrivesAsync(publisherEvents, subscription, chatId);

        Assert.Multiple(() =>
        {
            Assert.That(before.Allowed, Is.True, "before the outage");
            Assert.That(during.Allowed, Is.EqualTo(failMode == RedisFailMode.Open), "during the outage");
            Assert.That(during.RetryAfter,
                Is.EqualTo(failMode == RedisFailMode.Open ? TimeSpan.Zero : options.FailClosedRetryAfter));
            Assert.That(answeredIn, Is.LessThan(TimeSpan.FromSeconds(3)), "an outage answer must not hang");
            Assert.That(givenBackIn, Is.LessThan(TimeSpan.FromSeconds(3)), "a give-back during the outage must not hang");
            Assert.That(countedDuring, Is.GreaterThanOrEqualTo(2), "the check and the give-back are counted");
            Assert.That(measured, Does.Contain(failMode == RedisFailMode.Open
                    ? "rate-limit: allowed (fail open)"
                    : "rate-limit: refused (fail closed)"),
                "the meatlizard.redis.fallbacks metric records the check, tagged with operation and outcome");
            Assert.That(measured, Does.Contain("rate-limit: give-back dropped"), "and the dropped give-back");
            Assert.That(recovered, Is.True, $"the limiter works against Redis again within {Recovery.TotalSeconds} s");
            Assert.That(delivered, Is.True, "a subscription made before the outage receives events after it");
        });
    }

    [Test]
    public async Task ASessionFirstFollowedWhileRedisIsDown_JoinsAtOnce_AndIsReceivedOnceRedisReturns()
    {
        using var redis = new OwnRedisServer();
        await redis.StartAsync();
        await using var server = new RedisTestServer(redis.Endpoint);
        var options = server.Options(extra: "connectTimeout=1000,syncTimeout=1000");
        await using var events = new RedisChatEvents(server.Connect(options), server.Outages(), TimeSpan.FromSeconds(30));
        await using var publisherEvents =
            new RedisChatEvents(server.Connect(options), server.Outages(), TimeSpan.FromSeconds(30));
        // Both connected before the outage, as running instances are.
        await (await events.SubscribeAsync(Guid.NewGuid(), CancellationToken.None)).DisposeAsync();
        await publisherEvents.PublishAsync(new ChatEvent(ChatEventTypes.Status, Guid.NewGuid()), CancellationToken.None);
        var chatId = Guid.NewGuid();

        redis.Kill();
        var clock = Stopwatch.StartNew();
        await using var subscription = await events.SubscribeAsync(chatId, CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var joinedIn = clock.Elapsed;
        await redis.StartAsync();

        var delivered = await PublishedEventArrivesAsync(publisherEvents, subscription, chatId);

        Assert.Multiple(() =>
        {
            Assert.That(joinedIn, Is.LessThan(TimeSpan.FromSeconds(3)), "joining during an outage must not hang");
            Assert.That(delivered, Is.True, $"events reach the subscription within {Recovery.TotalSeconds} s of Redis's return");
        });
    }

    [Test]
    public async Task ASubscriptionMadeBeforeRedisRestarted_SaysItMayHaveMissedEvents_OnceItsConnectionIsBack_AndGoesOn()
    {
        // An answer stored by another process while Redis was down was published into nothing: a chat stream that stayed
        // open would never show it (seen in the soak: answers stored, never reaching the stream that followed the chat).
        using var redis = new OwnRedisServer();
        await redis.StartAsync();
        await using var server = new RedisTestServer(redis.Endpoint);
        var options = server.Options(extra: "connectTimeout=1000,syncTimeout=1000");
        await using var events = new RedisChatEvents(server.Connect(options), server.Outages(), TimeSpan.FromSeconds(30));
        await using var publisherEvents =
            new RedisChatEvents(server.Connect(options), server.Outages(), TimeSpan.FromSeconds(30));
        var chatId = Guid.NewGuid();
        await using var before = await events.SubscribeAsync(chatId, CancellationToken.None);
        var missedBeforeOutage = before.EventsMissed.IsCancellationRequested;

        redis.Kill();
        await redis.StartAsync();
        var said = await WaitAsync(before.EventsMissed, Recovery);
        await using var after = await events.SubscribeAsync(chatId, CancellationToken.None);
        var delivered = await PublishedEventArrivesAsync(publisherEvents, before, chatId);

        Assert.Multiple(() =>
        {
            Assert.That(missedBeforeOutage, Is.False, "nothing missed before the outage");
            Assert.That(said, Is.True, $"said within {Recovery.TotalSeconds} s of Redis's return");
            Assert.That(after.EventsMissed.IsCancellationRequested, Is.False, "a subscription made after the return missed nothing");
            Assert.That(delivered, Is.True, "the subscription goes on: later events still reach it");
        });
    }

    private static async Task<bool> WaitAsync(CancellationToken token, TimeSpan within)
    {
        try
        {
            await Task.Delay(within, token);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    [Test]
    public async Task ARedisThatStopsAnswering_DoesNotHoldACheckOrAHeartbeat_BeyondTheCommandTimeout()
    {
        // CLIENT PAUSE keeps every connection open but answers nothing until it ends: a reply that does not come.
        // StackExchange.Redis 1.2.6 would await it for ever (until the pause ends here).
        using var redis = new OwnRedisServer();
        await redis.StartAsync();
        await using var server = new RedisTestServer(redis.Endpoint);
        var options = server.Options(RedisFailMode.Open);
        var connection = await server.ConnectedAsync(options);
        var outages = server.Outages();
        var limits = new TestOptionsMonitor<RateLimitOptions>(new RateLimitOptions { PerUserPerMinute = 1, UserBurst = 2 });
        var limiter = new RedisRateLimiter(connection, new ConfiguredRateLimits(limits, new TestRuntimeSettings()), Options.Create(options), outages);
        var relay = Options.Create(new RelayOptions { WorkerTimeout = TimeSpan.FromMinutes(1) });
        var presence = new RedisHostPresence(connection, new MemoryHostPresence(relay, new SystemClock()), relay, outages,
            new SystemClock());
        var pause = connection.CommandTimeout * 4;
        var admin = await (await server.ConnectedAsync(options)).GetDatabaseAsync();
        await admin.ExecuteAsync("CLIENT", "PAUSE", (long)pause.TotalMilliseconds);

        var clock = Stopwatch.StartNew();
        var check = await limiter.TryAcquireAsync(RateLimitScope.User, "gina", CancellationToken.None);
        var checkedIn = clock.Elapsed;
        clock.Restart();
        var worker = new HostHealth(Guid.NewGuid(), "LlamaServer", true, 0, false, null, DateTimeOffset.UtcNow);
        await presence.RecordAsync(worker, CancellationToken.None);
        var recordedIn = clock.Elapsed;

        Assert.Multiple(() =>
        {
            Assert.That(check.Allowed, Is.True, "fail open");
            Assert.That(checkedIn, Is.LessThan(pause / 2), "the check waited for the pause to end");
            Assert.That(recordedIn, Is.LessThan(pause / 2), "the heartbeat waited for the pause to end");
            Assert.That(outages.Total, Is.GreaterThanOrEqualTo(2), "each unanswered command is counted as an outage");
        });
    }

    [Test]
    public async Task AnInstanceThatOnlyReadsThePresence_KeepsTheWorkersItRead_ThroughAnOutage_AndARestartThatLostTheKeys()
    {
        // The API instance hears no heartbeat itself: without what it last read, a Redis restart would leave it with no
        // host online, and it would refuse /v1 questions (503) for a host that never went away (seen in the soak).
        using var redis = new OwnRedisServer();
        await redis.StartAsync();
        await using var server = new RedisTestServer(redis.Endpoint);
        var options = server.Options(RedisFailMode.Open);
        var relay = Options.Create(new RelayOptions { WorkerTimeout = TimeSpan.FromSeconds(20) });
        var serverBot = new RedisHostPresence(await server.ConnectedAsync(options),
            new MemoryHostPresence(relay, new SystemClock()), relay, server.Outages(), new SystemClock());
        var worker = new HostHealth(Guid.NewGuid(), "LlamaServer", true, 0, false, null, DateTimeOffset.UtcNow);
        var apiClock = new FakeClock(worker.SeenAt);
        var apiConnection = await server.ConnectedAsync(options);
        var api = new RedisHostPresence(apiConnection,
            new MemoryHostPresence(relay, apiClock), relay, server.Outages(), apiClock);
        // A second server bot hears its workers itself: their silence, not a stale read, says who is gone.
        var hearing = new RedisHostPresence(await server.ConnectedAsync(options),
            new MemoryHostPresence(relay, apiClock), relay, server.Outages(), apiClock);
        await serverBot.RecordAsync(worker, CancellationToken.None);
        var read = await api.ListAliveAsync(CancellationToken.None);
        await hearing.RecordAsync(worker with { WorkerId = Guid.NewGuid() }, CancellationToken.None);
        await hearing.ListAliveAsync(CancellationToken.None);

        redis.Kill();
        // An outage noticed later than a worker timeout after the last read (a command timeout longer than the worker
        // timeout, as in the fault suite's cluster): what Redis said last still stands.
        apiClock.Advance(relay.Value.WorkerTimeout * 2);
        var whileDown = await api.ListAliveAsync(CancellationToken.None);
        var heardWhileDown = await hearing.ListAliveAsync(CancellationToken.None);
        await redis.StartAsync(); // no persistence: the keys are gone
        await AnswersAgainAsync(apiConnection);
        var afterRestart = await api.ListAliveAsync(CancellationToken.None);
        apiClock.Advance(relay.Value.WorkerTimeout + TimeSpan.FromSeconds(1));
        var afterItsTimeout = await api.ListAliveAsync(CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(read, Is.EqualTo(new[] { worker }));
            Assert.That(whileDown, Is.EqualTo(new[] { worker }), "Redis unreachable");
            Assert.That(heardWhileDown, Is.Empty, "a process that hears heartbeats goes by them, all silent here");
            Assert.That(afterRestart, Is.EqualTo(new[] { worker }), "Redis back without the keys");
            Assert.That(afterItsTimeout, Is.Empty, "no longer than its key would have lived");
        });
    }

    /// <summary>Waits until <paramref name="connection"/> answers again after a restart (the multiplexer reconnects by itself).</summary>
    private static async Task AnswersAgainAsync(RedisConnection connection)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await (await connection.GetDatabaseAsync()).PingAsync();
                return;
            }
            catch (Exception) when (waited.Elapsed < Recovery)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>Collects "operation: outcome" of every measurement of this test's outage counter.</summary>
    private static MeterListener ListenToOutageCounter(RedisTestServer server, ConcurrentQueue<string> measured)
    {
        var meter = server.MeterFactory.Create(RedisOutages.MeterName);
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == "meatlizard.redis.fallbacks")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            string? operation = null, outcome = null;
            foreach (var tag in tags)
            {
                operation = tag.Key == "operation" ? tag.Value as string : operation;
                outcome = tag.Key == "outcome" ? tag.Value as string : outcome;
            }

            measured.Enqueue($"{operation}: {outcome}");
        });
        listener.Start();
        return listener;
    }

    /// <summary>
    /// Publishes "after restart" on <paramref name="publisher"/> until the subscription receives it, within
    /// <see cref="Recovery"/>.
    /// </summary>
    private static Task<bool> PublishedEventArrivesAsync(
        IChatEvents publisher, IChatEventSubscription subscription, Guid chatId) =>
        WaitUntilAsync(async () =>
        {
            await publisher.PublishAsync(new ChatEvent(ChatEventTypes.Status, chatId, Status: "after restart"),
                CancellationToken.None);
            using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            try
            {
                await foreach (var chatEvent in subscription.ReadAllAsync(wait.Token))
                {
                    return chatEvent.Status == "after restart";
                }
            }
            catch (OperationCanceledException)
            {
            }

            return false;
        });

    private static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Recovery)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(200);
        }

        return false;
    }
}
