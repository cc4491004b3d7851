using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Relay.Hosts;
using MeatLizard.Application.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

/// <summary>
/// A host silent while this process stood still is not known to be gone: the fault suite's server bot, frozen 8 s
/// (SIGSTOP) and thawed, answered the next round's 24 questions "no host" in one CI run, its heartbeats unread in its
/// socket when the dispatcher looked.
/// </summary>
public class HostsHeardPauseTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    [Test]
    public void AHostSilentPastTheGrace_IsNotKnown_UnlessThisProcessStoodStillMeanwhile()
    {
        var clock = new FakeClock();
        var pauses = new ProcessPauses(watch: false);
        var heard = new HostsHeard(clock, pauses);
        heard.Note(new HostHealth(Guid.NewGuid(), "scripted", true, 0, false, null, clock.UtcNow), Guid.NewGuid(),
            TimeSpan.FromSeconds(20));

        clock.UtcNow = clock.UtcNow.AddSeconds(8);
        Assert.That(heard.KnewAHostWithin(Grace), Is.False, "silent 8 s while this process ran: gone");

        pauses.PausedJustNow();
        Assert.That(heard.KnewAHostWithin(Grace), Is.True, "silent while this process stood still: not known to be gone");
    }

    [Test]
    public async Task TheWatchingThread_EndsWhenItsContainerDisposesIt()
    {
        // Registered as a singleton, it watched on after its host stopped: a thread per container, forever (a test suite
        // builds hundreds).
        var provider = new ServiceCollection().AddSingleton(_ => new ProcessPauses()).BuildServiceProvider();
        var pauses = provider.GetRequiredService<ProcessPauses>();
        Assert.That(pauses.Watching, Is.True);

        await provider.DisposeAsync();

        for (var waited = 0; waited < 50 && pauses.Watching; waited++)
        {
            await Task.Delay(20);
        }

        Assert.That(pauses.Watching, Is.False, "its thread ended with the container");
    }

    [Test]
    public void APause_KnowsNoHostThatWasNeverHeard()
    {
        var pauses = new ProcessPauses(watch: false);
        var heard = new HostsHeard(new FakeClock(), pauses);

        pauses.PausedJustNow();

        Assert.That(heard.KnewAHostWithin(Grace), Is.False, "with no host ever heard, the fallback answers at once");
    }
}
