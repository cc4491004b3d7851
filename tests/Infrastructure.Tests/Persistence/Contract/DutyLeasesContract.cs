using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Persistence.Contract.PersistenceTestData;

namespace MeatLizard.Infrastructure.Tests.Persistence.Contract;

/// <summary>
/// Duties one process at a time does (<see cref="IDutyLeases"/>, <see cref="DutyRunner"/>): two server bots on one
/// database poll Telegram once, post the metrics once and answer each slash command once; when the one doing a duty
/// stops or dies, the other takes it over.
/// </summary>
public abstract class DutyLeasesContract : ScopedDatabaseContract
{
    private IDutyLeases Leases => Services.GetRequiredService<IDutyLeases>();

    [Test]
    public async Task AFreeDuty_IsTaken_AnotherHolderWaits_TheHolderRenews()
    {
        Assert.That(await Leases.TryHoldAsync("poll", "a", At(0), At(15), None), Is.True);
        Assert.That(await Leases.TryHoldAsync("poll", "b", At(5), At(20), None), Is.False, "a's lease still runs");
        Assert.That(await Leases.TryHoldAsync("poll", "a", At(10), At(25), None), Is.True, "a renews");
        Assert.That(await Leases.TryHoldAsync("poll", "b", At(20), At(35), None), Is.False, "renewed until 25");
        Assert.That(await Leases.TryHoldAsync("other", "b", At(20), At(35), None), Is.True, "each duty has its own lease");
    }

    [Test]
    public async Task ALapsedLease_IsTakenOver_AndItsOldHolderCannotRenewIt()
    {
        await Leases.TryHoldAsync("poll", "a", At(0), At(15), None);

        Assert.That(await Leases.TryHoldAsync("poll", "b", At(15), At(30), None), Is.True, "a died: its lease lapsed");
        Assert.That(await Leases.TryHoldAsync("poll", "a", At(16), At(31), None), Is.False, "b holds it now");
    }

    [Test]
    public async Task ALetGoDuty_IsTakenAtOnce_AndOnlyItsHolderLetsItGo()
    {
        await Leases.TryHoldAsync("poll", "a", At(0), At(15), None);
        await Leases.ReleaseAsync("poll", "b", None);

        Assert.That(await Leases.TryHoldAsync("poll", "b", At(1), At(16), None), Is.False, "b could not let a's lease go");
        await Leases.ReleaseAsync("poll", "a", None);
        Assert.That(await Leases.TryHoldAsync("poll", "b", At(2), At(17), None), Is.True);
    }

    [Test]
    public async Task Purging_ForgetsOnlyLapsedLeases()
    {
        await Leases.TryHoldAsync("old", "a", At(0), At(10), None);
        await Leases.TryHoldAsync("new", "a", At(0), At(100), None);

        Assert.That(await Leases.PurgeLapsedAsync(At(50), None), Is.EqualTo(1));
        Assert.That(await Leases.TryHoldAsync("new", "b", At(50), At(60), None), Is.False, "the running lease is kept");
    }

    [Test]
    public async Task TheHoldersOfDutiesNamedAlike_AreListed_WhileTheirLeasesRun()
    {
        await Leases.TryHoldAsync("server-bot:a", "a", At(0), At(15), None);
        await Leases.TryHoldAsync("server-bot:b", "b", At(0), At(30), None);
        await Leases.TryHoldAsync("server_bot:c", "c", At(0), At(30), None); // '_' is no wildcard
        await Leases.TryHoldAsync("poll", "d", At(0), At(30), None);

        Assert.That(await Leases.ListHoldersAsync("server-bot:", At(10), None), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(await Leases.ListHoldersAsync("server-bot:", At(20), None), Is.EqualTo(new[] { "b" }), "a's lapsed");
    }

    [Test]
    public async Task TheHoldersOfDutiesNamedAlikeWhoseLeasesLapsed_AreListed_NotTheLiveOnesNorOthers()
    {
        // A dispatcher run's liveness lease: one that lapsed says its run is dead (a server bot killed on another machine).
        await Leases.TryHoldAsync("dispatcher:a", "a", At(0), At(15), None);
        await Leases.TryHoldAsync("dispatcher:b", "b", At(0), At(30), None);
        await Leases.TryHoldAsync("server-bot:c", "c", At(0), At(5), None);

        Assert.That(await Leases.ListLapsedHoldersAsync("dispatcher:", At(10), None), Is.Empty, "both still run");
        Assert.That(await Leases.ListLapsedHoldersAsync("dispatcher:", At(20), None), Is.EqualTo(new[] { "a" }));
        Assert.That(await Leases.TryHoldAsync("dispatcher:a", "a", At(20), At(35), None), Is.True);
        Assert.That(await Leases.ListLapsedHoldersAsync("dispatcher:", At(20), None), Is.Empty, "a renewed: alive again");
    }

    [Test]
    public async Task AHolderKnownDead_IsTakenOver_OnlyWhileItStillHoldsTheDuty()
    {
        await Leases.TryHoldAsync("poll", "a", At(0), At(15), None);

        Assert.That(await Leases.HolderOfAsync("poll", None), Is.EqualTo("a"));
        Assert.That(await Leases.HolderOfAsync("other", None), Is.Null);
        Assert.That(await Leases.TakeOverAsync("poll", "b", "c", At(20), None), Is.False, "b does not hold it");
        Assert.That(await Leases.TakeOverAsync("poll", "a", "c", At(20), None), Is.True);
        Assert.That(await Leases.HolderOfAsync("poll", None), Is.EqualTo("c"));
        Assert.That(await Leases.TryHoldAsync("poll", "a", At(16), At(31), None), Is.False, "c's lease runs to 20");
    }

    [Test]
    public async Task ALeaseOfAProcessThatDiedOnThisMachine_IsTakenAtOnce_ALiveOnesOrAnotherMachinesIsWaitedOut()
    {
        // A server bot killed -9 and started again: its old run let nothing go, and its leases run 15 s more.
        int dead;
        using (var exited = System.Diagnostics.Process.Start("true")!)
        {
            await exited.WaitForExitAsync();
            dead = exited.Id;
        }

        var now = DateTimeOffset.UtcNow;
        var machine = Environment.MachineName;
        await Leases.TryHoldAsync("dead-here", $"{machine}:{dead}:run1", now, now.AddHours(1), None);
        await Leases.TryHoldAsync("alive-here", $"{machine}:{Environment.ProcessId}:run2", now, now.AddHours(1), None);
        await Leases.TryHoldAsync("elsewhere", $"another-{machine}:{dead}:run3", now, now.AddHours(1), None);
        var runner = Runner(Db.Services);

        Assert.Multiple(async () =>
        {
            Assert.That(await RunsWithinAsync(runner, "dead-here"), Is.True, "the dead holder's duty is taken at once");
            Assert.That(await RunsWithinAsync(runner, "alive-here"), Is.False, "this process holds it: waited out");
            Assert.That(await RunsWithinAsync(runner, "elsewhere"), Is.False, "another machine's process: waited out");
        });
    }

    /// <summary>Whether <paramref name="runner"/> gets to do <paramref name="duty"/> within two seconds.</summary>
    private static async Task<bool> RunsWithinAsync(DutyRunner runner, string duty)
    {
        var ran = false;
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await runner.RunOnceAsync(duty, _ =>
        {
            ran = true;
            return Task.CompletedTask;
        }, patience.Token);
        return ran;
    }

    [Test]
    public async Task ManyHoldersAtOnce_OneTakesTheDuty()
    {
        var hosts = Enumerable.Range(0, 8).Select(_ => Db.StartHost()).ToList();
        var taken = await Task.WhenAll(hosts.Select((host, i) => Task.Run(async () =>
        {
            await using var scope = host.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<IDutyLeases>()
                .TryHoldAsync("poll", $"holder-{i}", At(0), At(15), None);
        })));

        Assert.That(taken.Count(t => t), Is.EqualTo(1));
    }

    [Test]
    public async Task TwoProcesses_OneDoesTheDuty_AndWhenItStops_TheOtherTakesOver()
    {
        var (first, second) = (Runner(Db.Services), Runner(Db.StartHost()));
        var doing = new List<string>();
        var lockObject = new object();
        var overlapped = false;
        Func<CancellationToken, Task> Work(string who) => async token =>
        {
            lock (lockObject)
            {
                overlapped |= doing.Count > 0;
                doing.Add(who);
            }

            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            finally
            {
                lock (lockObject)
                {
                    doing.Remove(who);
                }
            }
        };

        using var stopFirst = new CancellationTokenSource();
        using var stopSecond = new CancellationTokenSource();
        var firstRun = first.RunAsync("poll", Work("first"), stopFirst.Token);
        await WaitUntilAsync(() => Doing(doing, lockObject) == "first");
        var secondRun = second.RunAsync("poll", Work("second"), stopSecond.Token);
        await Task.Delay(DutyRunner.Lease / 3 + TimeSpan.FromSeconds(1));
        var whileFirstRuns = Doing(doing, lockObject);

        await stopFirst.CancelAsync();
        await firstRun;
        await WaitUntilAsync(() => Doing(doing, lockObject) == "second");
        await stopSecond.CancelAsync();
        await secondRun;

        Assert.Multiple(() =>
        {
            Assert.That(whileFirstRuns, Is.EqualTo("first"), "the second waits while the first holds the duty");
            Assert.That(overlapped, Is.False, "never both at once");
        });
    }

    [Test]
    public async Task AOneOffDuty_IsClaimedByOneProcessOnly()
    {
        var runners = new[] { Runner(Db.Services), Runner(Db.StartHost()), Runner(Db.StartHost()) };

        var claimed = await Task.WhenAll(runners.Select(r =>
            Task.Run(() => r.TryClaimOnceAsync("interaction:42", TimeSpan.FromMinutes(15), None))));
        var again = await runners[0].TryClaimOnceAsync("interaction:42", TimeSpan.FromMinutes(15), None);

        Assert.Multiple(() =>
        {
            Assert.That(claimed.Count(c => c), Is.EqualTo(1));
            Assert.That(again, Is.False, "the claim is kept: nobody takes the duty up again");
        });
    }

    private static DutyRunner Runner(IServiceProvider host) =>
        new(host.GetRequiredService<IServiceScopeFactory>(), TimeProvider.System, NullLogger<DutyRunner>.Instance);

    private static string Doing(List<string> doing, object lockObject)
    {
        lock (lockObject)
        {
            return string.Join(",", doing);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "waited too long");
            await Task.Delay(20);
        }
    }
}
