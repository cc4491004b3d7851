using MeatLizard.Distributed.Tests.Support;
using MeatLizard.Faults.Tests.Support;
using NUnit.Framework;

namespace MeatLizard.Faults.Tests;

/// <summary>
/// PostgreSQL, then Redis, restarted mid-run, and Redis away for 30 s (servers of this fixture's own, on the same port,
/// every connection cut) while 24 messages are in flight through the client bot on real llama.cpp; no process of ours is restarted.
/// </summary>
[NonParallelizable]
public sealed class DependencyRestartTests : OwnServersFixture
{
    [Test]
    public async Task PostgresRestartedMidAnswer_LosesNothing()
    {
        using var traffic = await Traffic.PrepareAsync(Cluster, "postgres-restart");
        var sending = traffic.SendRoundAsync("first");
        await traffic.WaitUntilMidAnswerAsync();

        await Postgres.RestartAsync();
        Npgsql.NpgsqlConnection.ClearAllPools(); // the test's own connections were cut too
        await sending;
        await traffic.SendRoundAsync("second");

        var outcome = await FinishAsync(traffic, "PostgreSQL restarted mid-answer");
        // The queue stands still while the database is down (a second or two) and until each dispatch's next try: a
        // dispatch the restart failed paused for the poll interval (20 s here), deaf to wake-ups — 13.4 s of a standing
        // queue in one CI run — and now tries again within a few seconds (RelayDispatchLoop.LongestPauseAfterFailure).
        Assert.That(outcome.LongestQueueStall, Is.LessThan(TimeSpan.FromSeconds(10)),
            "the queue moved once the database was back" + Environment.NewLine + Cluster.Diagnostics);
    }

    [Test]
    public async Task RedisRestartedMidAnswer_LosesNothing()
    {
        using var traffic = await Traffic.PrepareAsync(Cluster, "redis-restart", openAiCallers: 4);
        var sending = traffic.SendRoundAsync("first");
        await traffic.WaitUntilMidAnswerAsync();

        Redis.Kill();
        await Task.Delay(TimeSpan.FromSeconds(2));
        await Redis.StartAsync();
        await sending;
        await traffic.SendRoundAsync("second");

        await FinishAsync(traffic, "Redis restarted mid-answer");
    }

    [Test]
    public async Task RedisAwayFor30sMidAnswer_LosesNothing()
    {
        // Redis is down for 30 s: longer than the worker timeout, the ack timeout and a chat's answer. Presence, the
        // replay memory, limits and chat events fall back to each process's own (Redis:FailMode Open); messages sent
        // while it is away are accepted and answered by the model like the rest.
        using var traffic = await Traffic.PrepareAsync(Cluster, "redis-outage");
        var sending = traffic.SendRoundAsync("first");
        await traffic.WaitUntilMidAnswerAsync();

        Redis.Kill();
        await sending;
        await Task.Delay(TimeSpan.FromSeconds(10));
        await traffic.SendRoundAsync("during");
        await Task.Delay(TimeSpan.FromSeconds(20));
        await Redis.StartAsync();
        await traffic.SendRoundAsync("after");

        await FinishAsync(traffic, "Redis away for 30 s mid-answer");
    }

    private async Task<FaultOutcome> FinishAsync(Traffic traffic, string fault)
    {
        var outcome = await traffic.FinishAsync(fault, FaultCluster.BlockedAtMost);
        outcome.AssertNoNotice("a restart shorter than the timeouts costs no answer", Cluster.Diagnostics);
        return outcome;
    }
}
