using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Memory;
using MeatLizard.Infrastructure.Redis;
using MeatLizard.Infrastructure.Relay;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Redis;

public sealed class RedisReplayGuardAndPresenceTests
{
    private RedisTestServer _server = null!;

    [SetUp]
    public void SetUp() => _server = new RedisTestServer();

    [TearDown]
    public async Task TearDown() => await _server.DisposeAsync();

    [Test]
    public async Task ReplayGuard_WasSeen_TellsWhatAnyInstanceRegistered_AndRegistersNothing()
    {
        var serverBot = Guard(await _server.ConnectedAsync());
        var restarted = Guard(await _server.ConnectedAsync());
        var key = $"{Guid.NewGuid():N}:final:3";

        var before = await restarted.WasSeenAsync(key, CancellationToken.None);
        var stillFirst = await serverBot.TryRegisterAsync(key, TimeSpan.FromMinutes(1), CancellationToken.None);
        var after = await restarted.WasSeenAsync(key, CancellationToken.None);

        Assert.That((before, stillFirst, after), Is.EqualTo((false, true, true)));
    }

    [Test]
    public async Task ReplayGuard_AKeySeenByOneInstance_IsRefusedByTheOtherUntilItExpires()
    {
        var serverBot = Guard(await _server.ConnectedAsync());
        var otherBot = Guard(await _server.ConnectedAsync());
        var key = $"{Guid.NewGuid():N}:final:3";

        // A TTL long enough that the three calls land inside it even on a loaded CI machine.
        var ttl = TimeSpan.FromSeconds(2);
        var first = await serverBot.TryRegisterAsync(key, ttl, CancellationToken.None);
        var replayElsewhere = await otherBot.TryRegisterAsync(key, ttl, CancellationToken.None);
        var replayHere = await serverBot.TryRegisterAsync(key, ttl, CancellationToken.None);
        await Task.Delay(ttl + TimeSpan.FromMilliseconds(300));
        var afterExpiry = await otherBot.TryRegisterAsync(key, ttl, CancellationToken.None);

        Assert.That((first, replayElsewhere, replayHere, afterExpiry), Is.EqualTo((true, false, false, true)));
    }

    [Test]
    public async Task ReplayGuard_SaysWhetherThisProcessOrAnotherSawAKeyFirst()
    {
        // Two server bots read the same envelopes: the one that did not take an envelope first leaves it to the other
        // quietly, while a replay to the one that took it is still a replay.
        IReplayGuard serverBot = Guard(await _server.ConnectedAsync());
        IReplayGuard otherBot = Guard(await _server.ConnectedAsync());
        var key = $"{Guid.NewGuid():N}:final:3";

        var first = await serverBot.SightAsync(key, TimeSpan.FromMinutes(1), CancellationToken.None);
        var atTheOther = await otherBot.SightAsync(key, TimeSpan.FromMinutes(1), CancellationToken.None);
        var again = await serverBot.SightAsync(key, TimeSpan.FromMinutes(1), CancellationToken.None);

        Assert.That((first, atTheOther, again),
            Is.EqualTo((ReplaySighting.First, ReplaySighting.SeenElsewhere, ReplaySighting.SeenHere)));
    }

    [Test]
    public async Task ReplayGuard_SeenBy_SaysWhichProcessRegisteredAKey_AndRegistersNothing()
    {
        IReplayGuard serverBot = Guard(await _server.ConnectedAsync());
        IReplayGuard otherBot = Guard(await _server.ConnectedAsync());
        var key = $"{Guid.NewGuid():N}:final:3";

        var before = await otherBot.SeenByAsync(key, CancellationToken.None);
        var stillFirst = await serverBot.TryRegisterAsync(key, TimeSpan.FromMinutes(1), CancellationToken.None);
        var atTheOther = await otherBot.SeenByAsync(key, CancellationToken.None);
        var here = await serverBot.SeenByAsync(key, CancellationToken.None);

        Assert.That((before, stillFirst, atTheOther, here),
            Is.EqualTo((ReplaySighting.First, true, ReplaySighting.SeenElsewhere, ReplaySighting.SeenHere)));
    }

    [Test]
    public async Task ReplayGuard_ConcurrentRegistrationsOfOneKey_LetExactlyOneThrough()
    {
        var guards = new[] { Guard(await _server.ConnectedAsync()), Guard(await _server.ConnectedAsync()) };
        var key = Guid.NewGuid().ToString("N");

        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => Task.Run(() =>
            guards[i % 2].TryRegisterAsync(key, TimeSpan.FromMinutes(1), CancellationToken.None).AsTask())));

        Assert.That(results.Count(r => r), Is.EqualTo(1));
    }

    [Test]
    public async Task Presence_AHeartbeatRecordedByOneInstance_IsSeenByTheOtherUntilItsTtlRunsOut()
    {
        var timeout = TimeSpan.FromSeconds(3); // room for a loaded CI machine between the record and the first read
        var serverBot = Presence(await _server.ConnectedAsync(), timeout);
        var api = Presence(await _server.ConnectedAsync(), timeout);
        var worker = new HostHealth(Guid.NewGuid(), "LlamaServer", true, 1, false, null, DateTimeOffset.UtcNow);

        await serverBot.RecordAsync(worker, CancellationToken.None);
        var whileFresh = await api.ListAliveAsync(CancellationToken.None);
        await Task.Delay(timeout + TimeSpan.FromMilliseconds(500));
        var afterTimeout = await api.ListAliveAsync(CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(whileFresh, Is.EqualTo(new[] { worker }));
            Assert.That(afterTimeout, Is.Empty);
        });
    }

    [Test]
    public async Task Presence_ALateHeartbeat_DoesNotReplaceANewerOne()
    {
        var presence = Presence(_server.Connect(), TimeSpan.FromSeconds(30));
        var id = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        var newer = new HostHealth(id, "LlamaServer", true, 2, false, null, now);
        var older = new HostHealth(id, "LlamaServer", false, 0, false, "late", now.AddSeconds(-3));
        var other = new HostHealth(Guid.NewGuid(), "LlamaCli", true, 0, true, null, now.AddSeconds(-1));

        await presence.RecordAsync(newer, CancellationToken.None);
        await presence.RecordAsync(older, CancellationToken.None);
        await presence.RecordAsync(other, CancellationToken.None);

        Assert.That(await presence.ListAliveAsync(CancellationToken.None), Is.EqualTo(new[] { newer, other }));
    }

    [Test]
    public async Task Presence_AfterRedisLostItsKeys_TheRecordingProcessStillSeesItsWorkers_OthersAtTheNextHeartbeat()
    {
        var timeout = TimeSpan.FromSeconds(30);
        var connection = _server.Connect();
        var serverBot = Presence(connection, timeout);
        var api = Presence(await _server.ConnectedAsync(), timeout);
        var worker = new HostHealth(Guid.NewGuid(), "LlamaServer", true, 0, false, null, DateTimeOffset.UtcNow);
        await serverBot.RecordAsync(worker, CancellationToken.None);

        // A Redis restart without persistence: the keys are gone, the connections come back.
        var database = await connection.GetDatabaseAsync();
        await database.KeyDeleteAsync([$"{connection.KeyPrefix}workers", $"{connection.KeyPrefix}worker:{worker.WorkerId:N}"]);
        var seenByServerBot = await serverBot.ListAliveAsync(CancellationToken.None);
        var seenByApi = await api.ListAliveAsync(CancellationToken.None);
        var next = worker with { SeenAt = worker.SeenAt.AddSeconds(1) };
        await serverBot.RecordAsync(next, CancellationToken.None);
        var seenByApiAfterHeartbeat = await api.ListAliveAsync(CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(seenByServerBot, Is.EqualTo(new[] { worker }), "the dispatching process keeps its workers");
            Assert.That(seenByApi, Is.Empty, "another process knows only what Redis holds");
            Assert.That(seenByApiAfterHeartbeat, Is.EqualTo(new[] { next }));
        });
    }

    private RedisReplayGuard Guard(RedisConnection connection) =>
        new(connection, new MemoryReplayGuard(new SystemClock(), NullLogger<MemoryReplayGuard>.Instance), _server.Outages());

    private RedisHostPresence Presence(RedisConnection connection, TimeSpan timeout)
    {
        var options = Options.Create(new RelayOptions { WorkerTimeout = timeout });
        return new RedisHostPresence(connection, new MemoryHostPresence(options, new SystemClock()), options,
            _server.Outages(), new SystemClock());
    }
}
