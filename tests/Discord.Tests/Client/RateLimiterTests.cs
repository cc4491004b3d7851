using System.Collections.Concurrent;
using MeatLizard.Infrastructure.Discord.Rest;
using NUnit.Framework;

namespace MeatLizard.Discord.Tests.Client;

/// <summary>The client-side limiter's global window (Discord's 50 requests per second per bot), when it is full.</summary>
public sealed class RateLimiterTests
{
    private static DiscordRoute Route(int i) =>
        new(HttpMethod.Post, "/channels/{channel_id}/messages", $"{i}", $"/channels/{i}/messages");

    [Test]
    public async Task AFullGlobalWindow_ServesTheRequestsWaitingForIt_InTheOrderTheyCame()
    {
        // Four a second, and the window full: twelve requests on twelve channels (a host's heartbeat among the pieces of
        // many answers) wait. Each must get its turn in the order it came — none passed over by one that came later.
        const int PerSecond = 4;
        var limiter = new DiscordRateLimiter(TimeProvider.System, PerSecond);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < PerSecond; i++)
        {
            (await limiter.AcquireAsync(Route(100 + i), CancellationToken.None)).Complete(new HttpResponseMessage());
        }

        var servedAt = new ConcurrentDictionary<int, TimeSpan>();
        // Each asks in turn, and is waiting (its first await) before the next asks.
        var waiting = Enumerable.Range(0, 3 * PerSecond)
            .Select(i => ServedAsync(i, limiter.AcquireAsync(Route(i), CancellationToken.None))).ToList();

        async Task ServedAsync(int index, ValueTask<DiscordRateLimiter.Lease> acquiring)
        {
            var lease = await acquiring;
            servedAt[index] = clock.Elapsed;
            lease.Complete(new HttpResponseMessage());
        }

        await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(10));
        // The window frees its four places a second after they were taken, and four more each second after: the first
        // four to come get the first four places (in whatever order their threads record it), the next four the next.
        var rounds = servedAt.OrderBy(s => s.Value).ToLookup(s => (int)Math.Round(s.Value.TotalSeconds), s => s.Key);
        var said = string.Join(", ", servedAt.OrderBy(s => s.Value).Select(s => $"#{s.Key} at {s.Value.TotalMilliseconds:0} ms"));
        for (var round = 1; round <= 3; round++)
        {
            Assert.That(rounds[round].Order(), Is.EqualTo(Enumerable.Range((round - 1) * PerSecond, PerSecond)), said);
        }
    }
}
