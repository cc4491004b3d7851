using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Relay.Commands;
using MeatLizard.Application.Relay.Dispatch;
using MeatLizard.Application.Relay.Hosts;
using MeatLizard.Application.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Relay;

public class RelayDispatchLoopTests
{
    [Test]
    public async Task AHostBackAsANewRun_HasItsLastRunsWorkLookedAtAtOnce_WhicheverDispatchTheWakeUpWakes()
    {
        // A wake-up wakes one of the dispatches, and only the first of them also looks for overdue requests on its poll.
        // The news of a restarted host used to wait for that one: the fault suite's client bot kill left the queue
        // standing still for up to Relay:PollInterval (20 s there) after the host was back.
        var expiries = new List<DateTime>();
        var mediator = Counting(expiries, () => new ExpiryPass(0, null));
        var clock = new FakeClock();
        var runs = new HostRuns(clock);
        var signal = new OneWaiterSignal();
        var (loop, services) = LoopOver(mediator, clock, runs, signal);
        await using var _ = services;
        var host = Guid.NewGuid();
        runs.NoteBoot(host, Guid.NewGuid());

        await loop.StartAsync(CancellationToken.None);
        try
        {
            // The first pass at the start, then every dispatch asleep (for the 5-minute poll).
            Assert.That(await EventuallyAsync(() => Count(expiries) == 1 && signal.Waiting == 4), Is.True, "all asleep");

            // Woken once per restart, as a host's heartbeat wakes them: each time one dispatch wakes, and looks.
            for (var restart = 1; restart <= 4; restart++)
            {
                Assert.That(runs.NoteBoot(host, Guid.NewGuid()), Is.True, "a new run");
                signal.NotifyPending();
                var seen = restart + 1;
                Assert.That(await EventuallyAsync(() => Count(expiries) == seen && signal.Waiting == 4), Is.True,
                    $"restart {restart}: its last run's work was looked at at once, not at the next poll");
            }
        }
        finally
        {
            await loop.StopAsync(CancellationToken.None);
        }
    }

    [Test]
    [Repeat(5)]
    public async Task TheLookAtTheStart_CoversTheHostsHeardBeforeIt_OnePassNotTwo()
    {
        // A host heard before the loop starts is news (it may be back as a new run), and the first dispatch looks at the
        // start anyway. A sibling dispatch that ran first took that news and looked as well: two passes over the same
        // rows at every start (and a CI failure of the test above, which counts them). A slow pass, and dispatches
        // that start in any order, open that window wide.
        var expiries = new List<DateTime>();
        var mediator = new Mock<IMediator>();
        mediator.Setup(m => m.Send(It.IsAny<DispatchPendingRequests>(), It.IsAny<CancellationToken>()))
            .Returns(async () =>
            {
                await Task.Delay(Random.Shared.Next(0, 30));
                return 0;
            });
        mediator.Setup(m => m.Send(It.IsAny<ExpireOverdueRequests>(), It.IsAny<CancellationToken>()))
            .Returns(async () =>
            {
                lock (expiries)
                {
                    expiries.Add(DateTime.UtcNow);
                }

                await Task.Delay(200);
                return new ExpiryPass(0, null);
            });
        var clock = new FakeClock();
        var runs = new HostRuns(clock);
        var signal = new OneWaiterSignal();
        var (loop, services) = LoopOver(mediator, clock, runs, signal);
        await using var _ = services;
        Assert.That(runs.NoteBoot(Guid.NewGuid(), Guid.NewGuid()), Is.True, "first heard: news");

        await loop.StartAsync(CancellationToken.None);
        try
        {
            Assert.That(await EventuallyAsync(() => signal.Waiting == 4), Is.True, "all asleep");
            Assert.That(Count(expiries), Is.EqualTo(1), "one look at the start");
        }
        finally
        {
            await loop.StopAsync(CancellationToken.None);
        }
    }

    [Test]
    public async Task WhatFallsDueNext_IsLookedForWhenItComes_NotAtTheNextPoll()
    {
        // A deadline, or the claim of a dispatcher that died, falls due with no question or answer to wake the loop:
        // the fault suite's server bot kill left the queue standing still for up to Relay:PollInterval (20 s there).
        var clock = new FakeClock();
        var expiries = new List<DateTime>();
        // Something falls due 300 ms from now (by the loop's clock, which the test moves on at once).
        var mediator = Counting(expiries, () => new ExpiryPass(0, clock.UtcNow.AddMilliseconds(300)));
        var (loop, services) = LoopOver(mediator, clock, new HostRuns(clock), new OneWaiterSignal());
        await using var _ = services;

        await loop.StartAsync(CancellationToken.None);
        try
        {
            Assert.That(await EventuallyAsync(() => Count(expiries) == 1), Is.True, "the first look, at the start");
            clock.UtcNow = clock.UtcNow.AddMilliseconds(300);

            Assert.That(await EventuallyAsync(() => Count(expiries) >= 2), Is.True,
                "looked again when it fell due, not at the 5-minute poll");
        }
        finally
        {
            await loop.StopAsync(CancellationToken.None);
        }
    }

    [Test]
    public async Task ADispatchWokenThatFindsNothingToClaim_LooksAtTheClaimsHeld_AtMostOnceASecond()
    {
        // A server bot killed between its claim and its dispatch leaves its claims on the queue, and nothing announces
        // its death: the other server bot's dispatch, woken by an answer or a heartbeat, finds nothing claimable. It
        // looks (the pass gives back the claims of a run known to be dead) instead of sleeping until the lease or the
        // poll (Relay:PollInterval, 20 s in the fault suite: the queue stood still 17.5 s).
        var clock = new FakeClock();
        var expiries = new List<DateTime>();
        var mediator = Counting(expiries, () => new ExpiryPass(0, null));
        var signal = new OneWaiterSignal();
        var (loop, services) = LoopOver(mediator, clock, new HostRuns(clock), signal);
        await using var _ = services;

        await loop.StartAsync(CancellationToken.None);
        try
        {
            Assert.That(await EventuallyAsync(() => Count(expiries) == 1 && signal.Waiting == 4), Is.True, "all asleep");
            signal.NotifyPending();
            await Task.Delay(200);
            Assert.That(await EventuallyAsync(() => signal.Waiting == 4), Is.True);
            Assert.That(Count(expiries), Is.EqualTo(1), "just looked at the start: not again at once");

            clock.UtcNow = clock.UtcNow.AddSeconds(1);
            signal.NotifyPending();
            Assert.That(await EventuallyAsync(() => Count(expiries) == 2 && signal.Waiting == 4), Is.True,
                "a second on, the dispatch woken found nothing to claim and looked, long before the 5-minute poll");
            signal.NotifyPending();
            await Task.Delay(200);
            Assert.That(await EventuallyAsync(() => signal.Waiting == 4), Is.True);
            Assert.That(Count(expiries), Is.EqualTo(2), "at most once a second");
        }
        finally
        {
            await loop.StopAsync(CancellationToken.None);
        }
    }

    [Test]
    public async Task AnIdleQueue_IsPolledByOneDispatch_TheOthersSleepUntilWoken()
    {
        // The poll is the safety net for a wake-up lost; all four dispatches polling woke an idle process and read the
        // queue eight times a second at the default Relay:PollInterval (500 ms), for what one poll finds as well.
        var expiries = new List<DateTime>();
        var mediator = Counting(expiries, () => new ExpiryPass(0, null));
        var clock = new FakeClock();
        var signal = new OneWaiterSignal();
        var (loop, services) = LoopOver(mediator, clock, new HostRuns(clock), signal);
        await using var _ = services;

        await loop.StartAsync(CancellationToken.None);
        try
        {
            Assert.That(await EventuallyAsync(() => signal.Waiting == 4), Is.True, "all asleep");
            var waits = signal.Timeouts;
            Assert.That(waits, Has.Count.EqualTo(4), "each dispatch went to sleep once");
            Assert.That(waits.Count(t => t == Timeout.InfiniteTimeSpan), Is.EqualTo(3),
                "three sleep until a wake-up comes");
            Assert.That(waits.Single(t => t != Timeout.InfiniteTimeSpan), Is.LessThanOrEqualTo(TimeSpan.FromMinutes(5)),
                "one polls, at most at Relay:PollInterval");

            // A wake-up still wakes one of them, which finds the work and sleeps again as it was.
            signal.NotifyPending();
            Assert.That(await EventuallyAsync(() => signal.Timeouts.Count == 5 && signal.Waiting == 4), Is.True,
                "woken, one dispatch looked and slept again");
        }
        finally
        {
            await loop.StopAsync(CancellationToken.None);
        }
    }

    [Test]
    public async Task ADispatchThatFailed_TriesAgainWithinSeconds_NotAtThePoll()
    {
        // The database restarting under a dispatch fails it. The dispatch slept the poll interval after a failure (20 s in
        // the fault suite, whose PostgreSQL restart row then showed the queue standing still 13.4 s), deaf to wake-ups:
        // the questions queued once the database was back waited for it. It tries again after a short pause instead.
        var clock = new FakeClock();
        var tries = new List<DateTime>();
        var mediator = new Mock<IMediator>();
        mediator.Setup(m => m.Send(It.IsAny<DispatchPendingRequests>(), It.IsAny<CancellationToken>()))
            .Returns(() =>
            {
                lock (tries)
                {
                    tries.Add(DateTime.UtcNow);
                    // The first try of each dispatch meets the outage.
                    return tries.Count <= 4
                        ? Task.FromException<int>(new InvalidOperationException("the database is restarting"))
                        : Task.FromResult(0);
                }
            });
        mediator.Setup(m => m.Send(It.IsAny<ExpireOverdueRequests>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(new ExpiryPass(0, null));
        var signal = new OneWaiterSignal();
        var (loop, services) = LoopOver(mediator, clock, new HostRuns(clock), signal);
        await using var _ = services;

        await loop.StartAsync(CancellationToken.None);
        try
        {
            Assert.That(await EventuallyAsync(() => Count(tries) >= 8 && signal.Waiting == 4), Is.True,
                "each of the four dispatches tried again within seconds of its failure, not at the 5-minute poll");
        }
        finally
        {
            await loop.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>The loop over <paramref name="mediator"/> with a 5-minute poll: only what the test does wakes it.</summary>
    private static (RelayDispatchLoop Loop, ServiceProvider Services) LoopOver(
        Mock<IMediator> mediator, FakeClock clock, HostRuns runs, IRelayQueueSignal signal)
    {
        var services = new ServiceCollection().AddSingleton(mediator.Object).BuildServiceProvider();
        var options = Options.Create(new RelayOptions { PollInterval = TimeSpan.FromMinutes(5) });
        return (new RelayDispatchLoop(services.GetRequiredService<IServiceScopeFactory>(), new QueueWakes(signal),
            new RelayTransportHealth(clock), runs, clock, options, NullLogger<RelayDispatchLoop>.Instance), services);
    }

    /// <summary>A mediator whose dispatches find nothing, and whose expiry passes are noted in <paramref name="expiries"/>.</summary>
    private static Mock<IMediator> Counting(List<DateTime> expiries, Func<ExpiryPass> pass)
    {
        var mediator = new Mock<IMediator>();
        mediator.Setup(m => m.Send(It.IsAny<DispatchPendingRequests>(), It.IsAny<CancellationToken>())).ReturnsAsync(0);
        mediator.Setup(m => m.Send(It.IsAny<ExpireOverdueRequests>(), It.IsAny<CancellationToken>()))
            .Returns(() =>
            {
                // The pass's answer first, then the count: a test that moves its clock once it sees the count must not
                // move it under the pass (a CI run saw the pass say "due 300 ms after the moved clock", which the
                // test's clock never reached).
                var result = pass();
                lock (expiries)
                {
                    expiries.Add(DateTime.UtcNow);
                }

                return Task.FromResult(result);
            });
        return mediator;
    }

    private static int Count(List<DateTime> list)
    {
        lock (list)
        {
            return list.Count;
        }
    }

    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        for (var waited = 0; waited < 100; waited++)
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return condition();
    }

    /// <summary>As the real signals wake: notifies coalesce, and one waiter wakes per wake-up.</summary>
    private sealed class OneWaiterSignal : IRelayQueueSignal
    {
        private readonly SemaphoreSlim _wake = new(0, 1);
        private int _pending;
        private int _waiting;

        public int Waiting => Volatile.Read(ref _waiting);

        private readonly List<TimeSpan> _timeouts = [];

        /// <summary>The timeout of every wait so far, in order.</summary>
        public IReadOnlyList<TimeSpan> Timeouts
        {
            get
            {
                lock (_timeouts)
                {
                    return [.. _timeouts];
                }
            }
        }

        public void NotifyPending()
        {
            if (Interlocked.Exchange(ref _pending, 1) == 0)
            {
                _wake.Release();
            }
        }

        public void NotifyOthers()
        {
        }

        public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            lock (_timeouts)
            {
                _timeouts.Add(timeout);
            }

            Interlocked.Increment(ref _waiting);
            try
            {
                if (await _wake.WaitAsync(timeout, cancellationToken))
                {
                    Volatile.Write(ref _pending, 0);
                }
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }
        }
    }
}
