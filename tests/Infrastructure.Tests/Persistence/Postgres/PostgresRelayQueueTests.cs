using System.Collections.Concurrent;
using System.Diagnostics;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Postgres;

/// <summary>
/// relay_requests as the queue of several dispatcher processes on a real PostgreSQL server. "Answered" means what a
/// user sees: exactly one assistant message stored for the request, and the request finished.
/// </summary>
[TestFixture]
public sealed class PostgresRelayQueueTests
{
    private const string Unfinished = "SELECT COUNT(*) FROM relay_requests WHERE status IN ('pending', 'dispatched', 'streaming')";
    private const string AnsweredTwice = """
        SELECT COUNT(*) FROM (SELECT request_id FROM messages WHERE role = 'assistant'
                              GROUP BY request_id HAVING COUNT(*) > 1) twice
        """;

    private PostgresTestDatabase _db = null!;
    private readonly List<RelayHost> _hosts = [];

    [SetUp]
    public async Task SetUp() => _db = await PostgresTestDatabase.CreateAsync();

    [TearDown]
    public async Task TearDown()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        _hosts.Clear();
        if (_db is not null)
        {
            await _db.DisposeAsync();
            _db = null!;
        }
    }

    [Test]
    public async Task FourDispatchers_AnswerEveryRequestExactlyOnce()
    {
        const int count = 120;
        for (var i = 0; i < 4; i++)
        {
            _hosts.Add(await RelayHost.StartAsync(_db.ConnectionString));
        }

        var (owner, chats) = await SeedAsync(count);

        // Queued by a fifth process (the test's own host, which runs no dispatcher): only NOTIFY wakes the four.
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(chats.Select(chat => RelayHost.QueueAsync(_db.Services, owner, chat, "question")));
        await WaitUntilAsync(Unfinished, 0, TimeSpan.FromSeconds(60));
        await TestContext.Out.WriteLineAsync($"{count} requests answered by 4 dispatchers in {clock.ElapsedMilliseconds} ms");

        Assert.That(await _db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests WHERE status = 'completed'"),
            Is.EqualTo(count), "every request was answered by the model worker, none by a timeout");
        Assert.That(await _db.ScalarAsync<long>("SELECT COUNT(DISTINCT request_id) FROM messages WHERE role = 'assistant'"),
            Is.EqualTo(count));
        Assert.That(await _db.ScalarAsync<long>(AnsweredTwice), Is.Zero, "no request was answered twice");
        Assert.That(await _db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests WHERE attempts <> 1"), Is.Zero,
            "each request was dispatched once");
    }

    [Test]
    public async Task RequestsClaimedByADispatcherThatDied_AreAnsweredOnceTheLeaseRunsOut()
    {
        // It ran on another machine, so nothing here knows it to be dead.
        var leaseEnds = DateTimeOffset.UtcNow.AddSeconds(3);
        await QueueFiveClaimedByAsync("another-machine:4242:run", leaseEnds);

        _hosts.Add(await RelayHost.StartAsync(_db.ConnectionString));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.That(await _db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests WHERE status = 'pending'"),
            Is.EqualTo(5), "the live dispatcher leaves leased requests alone while the lease holds");

        await WaitUntilAsync(Unfinished, 0, TimeSpan.FromSeconds(20));

        Assert.That(await _db.ScalarAsync<long>("SELECT COUNT(*) FROM relay_requests WHERE status = 'completed'"),
            Is.EqualTo(5));
        Assert.That(await _db.ScalarAsync<long>(
                $"SELECT COUNT(*) FROM relay_requests WHERE dispatched_at < {_db.InstantLiteral(leaseEnds)}"),
            Is.Zero, "nothing was dispatched before the lease ran out");
        Assert.That(await _db.ScalarAsync<long>(AnsweredTwice), Is.Zero);
    }

    [Test]
    public async Task RequestsClaimedByADispatcherKnownToBeDead_AreAnsweredWithoutWaitingOutTheLease()
    {
        // A run that ended (as a killed server bot's process of this machine is gone): its claims are given back at once.
        var dead = Application.Common.DutyHolders.ThisRun();
        Application.Common.DutyHolders.Ended(dead);
        var leaseEnds = DateTimeOffset.UtcNow.AddSeconds(60);
        await QueueFiveClaimedByAsync(dead, leaseEnds);

        _hosts.Add(await RelayHost.StartAsync(_db.ConnectionString));
        // Taken by the live dispatcher long before the dead one's lease runs out. (How each ends is not this test's: the
        // dispatcher here may look before it has heard of its worker, and then answers that no host is online.)
        await WaitUntilAsync(Unfinished, 0, TimeSpan.FromSeconds(20));

        Assert.That(await _db.ScalarAsync<long>("SELECT COUNT(DISTINCT request_id) FROM messages WHERE role = 'assistant'"),
            Is.EqualTo(5), "each one answered");
        Assert.That(await _db.ScalarAsync<long>(AnsweredTwice), Is.Zero);
    }

    [Test]
    public async Task RequestsClaimedByARunOnAnotherMachineWhoseLivenessLeaseLapsed_AreAnsweredLongBeforeTheirLease()
    {
        // A server bot killed on another machine: nothing here sees its process, but its liveness lease lapsed.
        var killed = $"another-machine:4242:{Guid.NewGuid():N}";
        var leaseEnds = DateTimeOffset.UtcNow.AddSeconds(60);
        await QueueFiveClaimedByAsync(killed, leaseEnds);
        var lapsedAt = DateTimeOffset.UtcNow.AddSeconds(-1);
        await HoldLivenessLeaseAsync(killed, lapsedAt.AddSeconds(-6), lapsedAt);

        var started = Stopwatch.StartNew();
        _hosts.Add(await RelayHost.StartAsync(_db.ConnectionString));
        await WaitUntilAsync(Unfinished, 0, TimeSpan.FromSeconds(20));

        Assert.That(started.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), "not waited out: the claims' lease was 60 s");
        Assert.That(await _db.ScalarAsync<long>("SELECT COUNT(DISTINCT request_id) FROM messages WHERE role = 'assistant'"),
            Is.EqualTo(5), "each one answered");
        Assert.That(await _db.ScalarAsync<long>(AnsweredTwice), Is.Zero);
    }

    [Test]
    public async Task RequestsClaimedByARunOnAnotherMachineWhoseLivenessLeaseRuns_AreLeftToIt()
    {
        // Alive elsewhere, and renewing: a live run's claims are never taken, however long it holds them.
        var live = $"another-machine:4242:{Guid.NewGuid():N}";
        await QueueFiveClaimedByAsync(live, DateTimeOffset.UtcNow.AddSeconds(60));
        await HoldLivenessLeaseAsync(live, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddSeconds(60));

        _hosts.Add(await RelayHost.StartAsync(_db.ConnectionString));
        await Task.Delay(TimeSpan.FromSeconds(3));

        Assert.That(await _db.ScalarAsync<long>(
                $"SELECT COUNT(*) FROM relay_requests WHERE status = 'pending' AND claimed_by = '{live}'"),
            Is.EqualTo(5), "still the live run's");
    }

    /// <summary>The liveness lease of the dispatcher run <paramref name="claimer"/>, as its process would hold it.</summary>
    private async Task HoldLivenessLeaseAsync(string claimer, DateTimeOffset from, DateTimeOffset until)
    {
        await using var scope = _db.Scope();
        Assert.That(await scope.ServiceProvider.GetRequiredService<Application.Abstractions.IDutyLeases>()
            .TryHoldAsync(Application.Relay.Dispatch.DispatcherRun.LivenessPrefix + claimer, claimer, from, until,
                CancellationToken.None), Is.True);
    }

    /// <summary>
    /// Five requests queued and claimed by <paramref name="claimer"/> until <paramref name="leaseEnds"/>, as by a
    /// dispatcher killed before it dispatched any: its lease stays on the rows.
    /// </summary>
    private async Task QueueFiveClaimedByAsync(string claimer, DateTimeOffset leaseEnds)
    {
        var (owner, chats) = await SeedAsync(5);
        foreach (var chat in chats)
        {
            await RelayHost.QueueAsync(_db.Services, owner, chat, "question");
        }

        await using var dying = _db.Scope();
        var claimed = await dying.ServiceProvider.GetRequiredService<Application.Abstractions.IRelayRequestRepository>()
            .ClaimPendingAsync(10, 10, DateTimeOffset.UtcNow, leaseEnds, claimer, CancellationToken.None);
        Assert.That(claimed, Has.Count.EqualTo(5));
    }

    /// <summary>
    /// How it checks: a producer queues requests one by one through the restart, retrying a failed transaction; every
    /// request whose commit it saw must afterwards be in the table and answered exactly once, and no request may be
    /// left unfinished. Answers interrupted by the restart may come from the timeout fallback — still exactly one.
    /// The server restarted is one of the test's own, so tests running meanwhile on the shared server are not cut off.
    /// </summary>
    [Test]
    public async Task PostgresRestartMidRun_LosesNoMessageAndAnswersNothingTwice()
    {
        await using var server = await OwnPostgresServer.StartAsync();
        await _db.DisposeAsync();
        _db = await PostgresTestDatabase.CreateAsync(server: server.ConnectionString);
        try
        {
            const int count = 60;
            _hosts.Add(await RelayHost.StartAsync(_db.ConnectionString));
            _hosts.Add(await RelayHost.StartAsync(_db.ConnectionString));
            var (owner, chats) = await SeedAsync(count);
            var committed = new ConcurrentBag<RelayRequestId>();
            var failedAttempts = 0;

            var producer = Task.Run(async () =>
            {
                foreach (var chat in chats)
                {
                    var deadline = DateTime.UtcNow.AddSeconds(30);
                    while (true)
                    {
                        try
                        {
                            committed.Add((await RelayHost.QueueAsync(_db.Services, owner, chat, "question")).Id);
                            break;
                        }
                        catch (Exception) when (DateTime.UtcNow < deadline)
                        {
                            Interlocked.Increment(ref failedAttempts);
                            await Task.Delay(200);
                        }
                    }

                    await Task.Delay(40);
                }
            });
            while (committed.Count < count / 3)
            {
                await Task.Delay(20);
            }

            await server.RestartAsync();
            NpgsqlConnection.ClearAllPools(); // the test's own pooled connections died with the server
            await producer;
            await WaitUntilAsync(Unfinished, 0, TimeSpan.FromSeconds(60));
            await TestContext.Out.WriteLineAsync(
                $"{committed.Count} requests committed; {failedAttempts} attempts failed during the restart and were retried");

            var ids = string.Join(", ", committed.Select(id => $"'{id.Value}'"));
            Assert.That(committed, Has.Count.EqualTo(count));
            Assert.That(await _db.ScalarAsync<long>($"SELECT COUNT(*) FROM relay_requests WHERE id IN ({ids})"),
                Is.EqualTo(count), "every committed request is still there");
            Assert.That(await _db.ScalarAsync<long>(
                    $"SELECT COUNT(DISTINCT request_id) FROM messages WHERE role = 'assistant' AND request_id IN ({ids})"),
                Is.EqualTo(count), "every committed request was answered");
            Assert.That(await _db.ScalarAsync<long>(AnsweredTwice), Is.Zero, "no request was answered twice");
            Assert.That(await _db.ScalarAsync<long>(
                "SELECT COUNT(*) FROM messages m WHERE m.role = 'user' AND NOT EXISTS " +
                "(SELECT 1 FROM relay_requests r WHERE r.user_message_id = m.id)"), Is.Zero, "no message without its request");
        }
        finally
        {
            // Everything on the own server goes before the server stops.
            await TearDown();
        }
    }

    private async Task<(User Owner, List<Chat> Sessions)> SeedAsync(int sessions)
    {
        await using var scope = _db.Scope();
        var owner = await AddUserAsync(scope.ServiceProvider);
        var chats = new List<Chat>();
        for (var i = 0; i < sessions; i++)
        {
            chats.Add(await AddSessionAsync(scope.ServiceProvider, owner));
        }

        return (owner, chats);
    }

    private async Task WaitUntilAsync(string countSql, long expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        long last;
        while ((last = await _db.ScalarAsync<long>(countSql)) != expected)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"After {timeout.TotalSeconds:0} s, '{countSql}' is {last}, not {expected}.");
            }

            await Task.Delay(100);
        }
    }
}
