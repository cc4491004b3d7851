using System.Diagnostics;
using MeatLizard.Infrastructure.Relay;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Relay;

public sealed class InProcessRelayQueueSignalTests
{
    private static readonly TimeSpan s_long = TimeSpan.FromSeconds(30);

    [Test]
    public async Task Notify_WakesAWaitingWaiterBeforeItsTimeout()
    {
        using var signal = new InProcessRelayQueueSignal();
        var stopwatch = Stopwatch.StartNew();
        var waiting = signal.WaitAsync(s_long, CancellationToken.None);

        signal.NotifyPending();
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public async Task NotifyBeforeWait_IsNotLost()
    {
        using var signal = new InProcessRelayQueueSignal();
        signal.NotifyPending();

        var waiting = signal.WaitAsync(s_long, CancellationToken.None);

        Assert.That(waiting.IsCompleted, Is.True);
        await waiting;
    }

    [Test]
    public async Task RepeatedNotifies_Coalesce_IntoOneWakeUp()
    {
        using var signal = new InProcessRelayQueueSignal();
        signal.NotifyPending();
        signal.NotifyPending();
        signal.NotifyPending();

        await signal.WaitAsync(s_long, CancellationToken.None);
        var stopwatch = Stopwatch.StartNew();
        await signal.WaitAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None);

        Assert.That(stopwatch.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(150)), "second wait timed out");
    }

    [Test]
    public async Task OneNotify_WakesOneOfTwoWaiters()
    {
        using var signal = new InProcessRelayQueueSignal();
        var first = signal.WaitAsync(s_long, CancellationToken.None);
        var second = signal.WaitAsync(s_long, CancellationToken.None);

        signal.NotifyPending();
        var woken = await Task.WhenAny(first, second).WaitAsync(TimeSpan.FromSeconds(5));
        await Task.Delay(100);

        Assert.That(new[] { first, second }.Count(t => t.IsCompleted), Is.EqualTo(1));
        signal.NotifyPending();
        await (woken == first ? second : first).WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Test]
    public async Task Wait_WithoutNotify_ReturnsAfterTheTimeout()
    {
        using var signal = new InProcessRelayQueueSignal();
        var stopwatch = Stopwatch.StartNew();

        await signal.WaitAsync(TimeSpan.FromMilliseconds(100), CancellationToken.None);

        Assert.That(stopwatch.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(90)).And.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public void Wait_Cancelled_ThrowsOperationCanceled()
    {
        using var signal = new InProcessRelayQueueSignal();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        Assert.That(async () => await signal.WaitAsync(s_long, cancel.Token), Throws.InstanceOf<OperationCanceledException>());
    }
}
