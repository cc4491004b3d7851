using System.Diagnostics;
using MeatLizard.Infrastructure.Redis;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using StackExchange.Redis;

namespace MeatLizard.Infrastructure.Tests.Redis;

/// <summary>The one subscription a process's caches share (<see cref="RedisCacheInvalidations"/>).</summary>
[NonParallelizable]
public sealed class RedisCacheInvalidationsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A loaded machine (a CI run): the multiplexer's subscription connection is still coming up when the caches first
    /// ask, for longer than a command may take, so the first attempt to subscribe fails with its handler left in the
    /// multiplexer's table. The next attempt, once the connection is up, must subscribe — before, it added a second
    /// handler beside the first, taking it out and putting it back sent no SUBSCRIBE, and the process never listened
    /// (its user cache read every request through: RedisUserCacheTests failed so in CI) — and every message is heard
    /// once, not once per attempt.
    /// </summary>
    [Test]
    public async Task AfterAFirstAttemptTimedOutOnASlowSubscriptionConnection_TheProcessListens_AndHearsEachMessageOnce()
    {
        await using var redis = new RedisTestServer();
        await using var proxy = new SlowSubscriptionConnectionProxy(redis.Endpoint);
        var options = redis.Options();
        options.Configuration = proxy.Endpoint;
        var connection = await redis.ConnectedAsync(options);
        await using var invalidations = new RedisCacheInvalidations(connection,
            new RedisOutages(redis.MeterFactory, NullLogger<RedisOutages>.Instance), NullLogger<RedisCacheInvalidations>.Instance);
        var heard = new List<string?>();
        invalidations.Listen("user", argument =>
        {
            lock (heard)
            {
                heard.Add(argument);
            }
        });

        // The first attempt waits for the subscription connection and gives up: an outage, as the callers see it.
        var firstAttempt = invalidations.EnsureSubscribedAsync();
        Assert.That(async () => await firstAttempt,
            Throws.InstanceOf<TimeoutException>().Or.InstanceOf<RedisConnectionException>(), "the first attempt failed");
        Assert.That(invalidations.IsListening, Is.False);
        proxy.Release();

        Assert.That(await EventuallyAsync(() => invalidations.IsListening), Is.True,
            "the process listens once the subscription connection is up");
        var publisher = await (await redis.ConnectedAsync()).GetSubscriberAsync();
        await publisher.PublishAsync(invalidations.Channel, "user:first");
        await publisher.PublishAsync(invalidations.Channel, "user:marker");
        Assert.That(await EventuallyAsync(() => Heard().Contains("marker")), Is.True, "the messages arrive");

        Assert.Multiple(() =>
        {
            Assert.That(proxy.SubscriptionConnectionsHeld, Is.EqualTo(1), "the subscription connection was held back");
            Assert.That(Heard(), Is.EqualTo(new[] { "first", "marker" }), "each message heard once, in order");
        });

        string?[] Heard()
        {
            lock (heard)
            {
                return [.. heard];
            }
        }
    }

    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Patience)
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(20);
        }

        return false;
    }
}
