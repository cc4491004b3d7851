using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Infrastructure.Memory;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Memory;

public sealed class MemoryHostPresenceTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private FakeClock _clock = null!;
    private MemoryHostPresence _presence = null!;

    [SetUp]
    public void SetUp()
    {
        _clock = new FakeClock();
        _presence = new MemoryHostPresence(Options.Create(new RelayOptions { WorkerTimeout = Timeout }), _clock);
    }

    [Test]
    public async Task ListAlive_IncludesAWorkerUntilItsHeartbeatIsOlderThanTheTimeout()
    {
        var worker = Guid.NewGuid();
        await _presence.RecordAsync(Health(worker, _clock.UtcNow), CancellationToken.None);

        _clock.Advance(Timeout);
        var atTimeout = await _presence.ListAliveAsync(CancellationToken.None);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        var afterTimeout = await _presence.ListAliveAsync(CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(atTimeout.Select(w => w.WorkerId), Is.EqualTo(new[] { worker }));
            Assert.That(afterTimeout, Is.Empty);
        });
    }

    [Test]
    public async Task ListAlive_AfterANewHeartbeat_ShowsTheWorkerAgain()
    {
        var worker = Guid.NewGuid();
        await _presence.RecordAsync(Health(worker, _clock.UtcNow), CancellationToken.None);
        _clock.Advance(TimeSpan.FromMinutes(30));
        Assert.That(await _presence.ListAliveAsync(CancellationToken.None), Is.Empty);

        await _presence.RecordAsync(Health(worker, _clock.UtcNow), CancellationToken.None);

        Assert.That((await _presence.ListAliveAsync(CancellationToken.None)).Select(w => w.WorkerId),
            Is.EqualTo(new[] { worker }));
    }

    [Test]
    public async Task Record_KeepsOnlyTheLatestHealthOfEachWorker()
    {
        var worker = Guid.NewGuid();
        await _presence.RecordAsync(Health(worker, _clock.UtcNow, jobs: 1), CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _presence.RecordAsync(Health(worker, _clock.UtcNow, jobs: 3), CancellationToken.None);

        // A heartbeat delivered late must not overwrite the newer one.
        await _presence.RecordAsync(Health(worker, _clock.UtcNow.AddSeconds(-4), jobs: 2), CancellationToken.None);

        var alive = await _presence.ListAliveAsync(CancellationToken.None);

        Assert.That(alive.Single().JobsRunning, Is.EqualTo(3));
    }

    [Test]
    public async Task ListAlive_ReportsOnlyTheWorkersSeenRecently()
    {
        var old = Guid.NewGuid();
        var recent = Guid.NewGuid();
        await _presence.RecordAsync(Health(old, _clock.UtcNow), CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(15));
        await _presence.RecordAsync(Health(recent, _clock.UtcNow), CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(10));

        var alive = await _presence.ListAliveAsync(CancellationToken.None);

        Assert.That(alive.Select(w => w.WorkerId), Is.EqualTo(new[] { recent }));
    }

    private static HostHealth Health(Guid worker, DateTimeOffset seenAt, int jobs = 0) =>
        new(worker, "LlamaServer", EngineReady: true, jobs, Draining: false, LastError: null, seenAt);
}
