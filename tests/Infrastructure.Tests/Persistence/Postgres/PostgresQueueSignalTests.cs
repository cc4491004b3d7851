using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Persistence.Postgres;
using MeatLizard.Infrastructure.Tests.Persistence.Contract;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
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

    /// <summary>A signal listening, past the wake-up every (re)connect gives.</summary>
    private static async Task<PostgresRelayQueueSignal> ListeningAsync(IServiceProvider host)
    {
        var signal = (PostgresRelayQueueSignal)host.GetRequiredService<IRelayQueueSignal>();
        signal.EnsureListening();
        await signal.Listening.WaitAsync(TimeSpan.FromSeconds(10));
        await signal.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
        return signal;
    }

    [Test]
    public async Task AWakeOfTheOthers_WakesAnotherProcess_NotTheOneThatSentIt()
    {
        var sender = await ListeningAsync(_db.Services);
        var other = await ListeningAsync(_db.StartHost());

        var clock = Stopwatch.StartNew();
        var otherWaiting = other.WaitAsync(TimeSpan.FromSeconds(20), CancellationToken.None);
        var senderWaiting = sender.WaitAsync(TimeSpan.FromSeconds(2), CancellationToken.None);
        sender.NotifyOthers();

        await otherWaiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "the other process was woken, not timed out");
        await senderWaiting;
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1.9)),
            "the sender left those requests because its hosts do not serve them: it is not woken by its own NOTIFY");
    }

    [Test]
    public async Task WakesOfTheOthers_AskedAllTheTime_GoAtMostOncePerInterval_AndTheLastAskIsAnswered()
    {
        var sender = await ListeningAsync(_db.Services);
        var heard = new List<TimeSpan>();
        var clock = Stopwatch.StartNew();
        await using var listener = await HearWakesOfTheOthersAsync(heard, clock);

        var listening = ListenAsync(listener, TimeSpan.FromSeconds(2.5));

        // Two instances that each believe the other's hosts serve a request would ask this on every claim.
        var lastAsked = TimeSpan.Zero;
        var asking = Stopwatch.StartNew();
        while (asking.Elapsed < TimeSpan.FromSeconds(1))
        {
            sender.NotifyOthers();
            lastAsked = clock.Elapsed;
            await Task.Delay(10);
        }

        await listening;

        lock (heard)
        {
            Assert.That(heard, Has.Count.GreaterThanOrEqualTo(2), "asked for a second: woken more than once");
            Assert.That(heard.Zip(heard.Skip(1), (before, after) => after - before),
                Has.All.GreaterThanOrEqualTo(PostgresRelayQueueSignal.OthersWokenAtMostEvery * 0.8),
                "never more often than the interval");
            Assert.That(heard[^1], Is.GreaterThan(lastAsked), "the last ask is answered, not left to the others' poll");
        }
    }

    [Test]
    public async Task AWakeOfTheOthers_SlowToSend_IsFollowedByTheNextOnlyAnIntervalAfterItWasSent()
    {
        // Room for the listening connection and one more, which this test holds: the first wake-up waits for it.
        await using var dataSource = NpgsqlDataSource.Create(
            new NpgsqlConnectionStringBuilder(_db.ConnectionString) { MaxPoolSize = 2 }.ConnectionString);
        await using var sender = new PostgresRelayQueueSignal(dataSource, NullLogger<PostgresRelayQueueSignal>.Instance);
        sender.EnsureListening();
        await sender.Listening.WaitAsync(TimeSpan.FromSeconds(10));
        var heard = new List<TimeSpan>();
        await using var listener = await HearWakesOfTheOthersAsync(heard, Stopwatch.StartNew());
        var held = await dataSource.OpenConnectionAsync();
        var listening = ListenAsync(listener, TimeSpan.FromSeconds(1.8));

        sender.NotifyOthers(); // waits for the connection held
        await Task.Delay(50);
        sender.NotifyOthers(); // owed to the end of the interval
        await Task.Delay(250);
        await held.DisposeAsync();
        await listening;

        lock (heard)
        {
            Assert.That(heard, Has.Count.EqualTo(2), "the wake-up sent late, then the one owed");
            Assert.That(heard[1] - heard[0], Is.GreaterThanOrEqualTo(PostgresRelayQueueSignal.OthersWokenAtMostEvery * 0.8),
                "the interval counts from when the others were woken, not from when the first wake-up was asked");
        }
    }

    /// <summary>
    /// A connection of the test's own that records when each wake-up of the others (a NOTIFY naming its sender) arrives,
    /// as <see cref="ListenAsync"/> reads them.
    /// </summary>
    private async Task<NpgsqlConnection> HearWakesOfTheOthersAsync(List<TimeSpan> heard, Stopwatch clock)
    {
        var listener = new NpgsqlConnection(_db.ConnectionString);
        await listener.OpenAsync();
        listener.Notification += (_, e) =>
        {
            if (e.Payload.Length > 0)
            {
                lock (heard)
                {
                    heard.Add(clock.Elapsed);
                }
            }
        };
        await using (var listen = new NpgsqlCommand($"LISTEN {PostgresRelayQueueSignal.Channel}", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        return listener;
    }

    private static async Task ListenAsync(NpgsqlConnection listener, TimeSpan during)
    {
        var until = Stopwatch.StartNew();
        while (until.Elapsed < during)
        {
            await listener.WaitAsync(TimeSpan.FromMilliseconds(100));
        }
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
