using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Relay;
using MeatLizard.Application.Relay.Commands;
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
    public async Task AHostBackAsANewRun_HasItsLostRequestsLookedAtAtOnce_WhicheverDispatchTheNewsWakes()
    {
        // A wake-up wakes one of the dispatches; the news used to wait for the one that looks for overdue requests,
        // which then came at its poll (20 s in the fault suite's cluster: the queue stood still that long after a
        // client bot's kill -9, over Discord and the direct relay alike).
        var dispatched = 0;
        var expiries = 0;
        var expiredAgain = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var mediator = new Mock<IMediator>();
        mediator.Setup(m => m.Send(It.IsAny<DispatchPendingRequests>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(() =>
            {
                Interlocked.Increment(ref dispatched);
                return 0;
            });
        mediator.Setup(m => m.Send(It.IsAny<ExpireOverdueRequests>(), It.IsAny<CancellationToken>()))
            .Returns(async () =>
            {
                if (Interlocked.Increment(ref expiries) > 1)
                {
                    expiredAgain.TrySetResult();
                }
                else
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(300)); // so the first dispatch waits last, behind the others
                }

                return 0;
            });
        await using var services = new ServiceCollection().AddSingleton(mediator.Object).BuildServiceProvider();
        var signal = new OneWaiterPerWakeUp();
        var runs = new HostRuns(new FakeClock());
        var loop = new RelayDispatchLoop(services.GetRequiredService<IServiceScopeFactory>(), signal,
            new RelayTransportHealth(new FakeClock()), runs,
            Options.Create(new RelayOptions { PollInterval = TimeSpan.FromMinutes(5) }), NullLogger<RelayDispatchLoop>.Instance);
        var host = Guid.NewGuid();
        runs.NoteBoot(host, Guid.NewGuid());

        await loop.StartAsync(CancellationToken.None);
        // Every dispatch has looked once, the first for overdue requests too, and they all wait: the first last.
        while (Volatile.Read(ref dispatched) < 4 || Volatile.Read(ref expiries) < 1 || signal.Waiting < 4)
        {
            await Task.Delay(10);
        }

        runs.NoteBoot(host, Guid.NewGuid()); // the host's new run is heard
        signal.NotifyPending();
        var lookedAtOnce = await Task.WhenAny(expiredAgain.Task, Task.Delay(TimeSpan.FromSeconds(10))) == expiredAgain.Task;
        await loop.StopAsync(CancellationToken.None);

        Assert.That(lookedAtOnce, Is.True, "the lost requests were looked at on the news, not at the next poll");
    }

    /// <summary>As the product's queue signal: notifies coalesce, and each wake-up wakes one waiter, the longest waiting.</summary>
    private sealed class OneWaiterPerWakeUp : IRelayQueueSignal
    {
        private readonly SemaphoreSlim _wake = new(0, 1);
        private int _waiting;

        public int Waiting => Volatile.Read(ref _waiting);

        public void NotifyPending()
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }

        public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _waiting);
            try
            {
                await _wake.WaitAsync(timeout, cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }
        }
    }
}
