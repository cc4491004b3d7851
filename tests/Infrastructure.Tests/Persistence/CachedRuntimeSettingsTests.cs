using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence;
using MeatLizard.Infrastructure.Tests.TestDoubles;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Persistence;

/// <summary>
/// The admin settings held by one process without Redis, over a settings table in memory that counts its reads and
/// can be made to fail them or answer late (the database restarting, or a network gone silent).
/// </summary>
public sealed class CachedRuntimeSettingsTests
{
    private CountingSettingsStore _table = null!;
    private ServiceProvider _services = null!;
    private ManualClock _clock = null!;
    private CachedRuntimeSettings _settings = null!;

    [SetUp]
    public async Task SetUp()
    {
        _table = new CountingSettingsStore();
        await _table.SetAsync(CountingSettingsStore.Entry("ratelimit.user.per_minute", "10"), CancellationToken.None);
        _services = new ServiceCollection().AddScoped<ISettingsStore>(_ => _table).BuildServiceProvider();
        _clock = new ManualClock();
        _settings = new CachedRuntimeSettings(_services.GetRequiredService<IServiceScopeFactory>(), _clock);
    }

    [TearDown]
    public async Task TearDown()
    {
        _settings.Dispose();
        await _services.DisposeAsync();
    }

    [Test]
    public async Task TheTable_IsReadOncePerLifetime_AndAgainAfterAWriteHere()
    {
        await ReadAsync(3);
        Assert.That(_table.Reads, Is.EqualTo(1));

        _clock.Advance(CachedRuntimeSettings.Lifetime);
        await ReadAsync(2);
        Assert.That(_table.Reads, Is.EqualTo(2));

        await _table.SetAsync(CountingSettingsStore.Entry("ratelimit.user.per_minute", "25"), CancellationToken.None);
        _settings.Invalidate();
        Assert.That(await ReadAsync(1), Is.All.EqualTo("25"));
        Assert.That(_table.Reads, Is.EqualTo(3));
    }

    [Test]
    public async Task WhileTheTableFails_TheLastSettingsAreServed_AndItIsTriedAgainOnlyAfterAPause()
    {
        await ReadAsync(1);
        _table.Failing = true;
        _clock.Advance(CachedRuntimeSettings.Lifetime);

        Assert.That(await ReadAsync(4), Is.All.EqualTo("10"));
        Assert.That(_table.Reads, Is.EqualTo(2), "one failed read, not one per caller");

        _clock.Advance(SettingsSnapshot.RetryAfterFailure);
        Assert.That(await ReadAsync(1), Is.All.EqualTo("10"));
        Assert.That(_table.Reads, Is.EqualTo(3), "tried again after the pause");

        _table.Failing = false;
        await _table.SetAsync(CountingSettingsStore.Entry("ratelimit.user.per_minute", "25"), CancellationToken.None);
        _clock.Advance(SettingsSnapshot.RetryAfterFailure);
        Assert.That(await ReadAsync(1), Is.All.EqualTo("25"), "back to the table once it answers");
    }

    [Test]
    public async Task CallersWaitingBehindAFailingRead_AreServedTheLastSettings_WithoutEachReadingAgain()
    {
        await ReadAsync(1);
        _clock.Advance(CachedRuntimeSettings.Lifetime);
        var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _table.Gate = answer.Task;
        _table.Failing = true;

        // A network gone silent: the first caller's read hangs; the others queue behind it.
        var callers = Enumerable.Range(0, 5).Select(_ => _settings.GetAsync("ratelimit.user.per_minute", CancellationToken.None).AsTask()).ToList();
        answer.SetResult(); // ... until it fails

        Assert.That(await Task.WhenAll(callers), Is.All.EqualTo("10"));
        Assert.That(_table.Reads, Is.EqualTo(2), "the callers behind the failed read took its answer, not a read each");
    }

    [Test]
    public void WithNothingReadYet_AFailingTable_IsTheCallersFailure()
    {
        _table.Failing = true;

        Assert.ThrowsAsync<InvalidOperationException>(async () => await _settings.GetAsync("ratelimit.user.per_minute", CancellationToken.None));
    }

    private async Task<string?[]> ReadAsync(int times)
    {
        var values = new string?[times];
        for (var i = 0; i < times; i++)
        {
            values[i] = await _settings.GetAsync("ratelimit.user.per_minute", CancellationToken.None);
        }

        return values;
    }
}
