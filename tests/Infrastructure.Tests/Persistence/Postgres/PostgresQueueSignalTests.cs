using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence.Postgres;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Postgres;

[TestFixture]
public sealed class PostgresQueueSignalTests
{
    private PostgresTestDatabase _db = null!;

    [SetUp]
    public async Task SetUp() => _db = await PostgresTestDatabase.CreateAsync();

    [TearDown]
    public async Task TearDown() => await _db.DisposeAsync();

    [Test]
    public async Task AnInsertByAnotherProcess_WakesTheWaitingDispatcher()
    {
        var dispatcherHost = _db.StartHost();
        var signal = (PostgresRelayQueueSignal)dispatcherHost.GetRequiredService<IRelayQueueSignal>();
        signal.EnsureListening();
        await signal.Listening.WaitAsync(TimeSpan.FromSeconds(10));
        await signal.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None); // the wake-up every (re)connect gives

        var clock = Stopwatch.StartNew();
        var waiting = signal.WaitAsync(TimeSpan.FromSeconds(20), CancellationToken.None);
        await Task.Delay(200);
        Assert.That(waiting.IsCompleted, Is.False, "nothing was queued yet");
        await using (var scope = _db.Scope())
        {
            var owner = await AddUserAsync(scope.ServiceProvider);
            var chat = await AddSessionAsync(scope.ServiceProvider, owner);
            await AddRequestAsync(scope.ServiceProvider, chat, owner, At(1));
        }

        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "woken by NOTIFY, not by the timeout");
    }

    [Test]
    public async Task WithoutInserts_WaitReturnsAfterTheTimeout()
    {
        var signal = (PostgresRelayQueueSignal)_db.Services.GetRequiredService<IRelayQueueSignal>();
        signal.EnsureListening();
        await signal.Listening.WaitAsync(TimeSpan.FromSeconds(10));
        await signal.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);

        var clock = Stopwatch.StartNew();
        await signal.WaitAsync(TimeSpan.FromMilliseconds(300), CancellationToken.None);

        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(250)));
    }
}
