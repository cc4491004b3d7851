using MeatLizard.Application.Common;
using NUnit.Framework;

namespace MeatLizard.Application.Tests.Common;

public class TaskWaitsTests
{
    [Test]
    public async Task ATaskThatCompletesInTime_IsSaidToHave_AndLeavesNoTimerRunning()
    {
        var before = Timer.ActiveCount;
        for (var i = 0; i < 100; i++)
        {
            var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var waiting = answered.Task.CompletesWithinAsync(TimeSpan.FromMinutes(1), CancellationToken.None);
            answered.SetResult();
            Assert.That(await waiting, Is.True);
        }

        // Task.WhenAny(task, Task.Delay(a minute)) would leave 100 timers running for the minute.
        Assert.That(Timer.ActiveCount - before, Is.LessThan(10));
    }

    [Test]
    public async Task ATaskThatTakesLonger_IsSaidNotToHave_WithoutAnException()
    {
        var never = new TaskCompletionSource().Task;

        Assert.That(await never.CompletesWithinAsync(TimeSpan.FromMilliseconds(20), CancellationToken.None), Is.False);
        Assert.That(await never.CompletesWithinAsync(TimeSpan.Zero, CancellationToken.None), Is.False);
        Assert.That(await Task.CompletedTask.CompletesWithinAsync(TimeSpan.Zero, CancellationToken.None), Is.True);
    }

    [Test]
    public async Task AWaitCancelled_EndsAtOnce_SayingTheTaskDidNotComplete()
    {
        using var cancel = new CancellationTokenSource();
        var waiting = new TaskCompletionSource().Task.CompletesWithinAsync(TimeSpan.FromMinutes(1), cancel.Token);
        await cancel.CancelAsync();

        Assert.That(await waiting.WaitAsync(TimeSpan.FromSeconds(10)), Is.False);
    }

    [Test]
    public async Task AFaultedTask_HasCompleted_ItsFaultLeftToWhoAwaitsIt()
    {
        var failed = Task.FromException(new InvalidOperationException("boom"));
        var slow = Task.Run(async () =>
        {
            await Task.Delay(10);
            throw new InvalidOperationException("late boom");
        });

        Assert.That(await failed.CompletesWithinAsync(TimeSpan.FromSeconds(1), CancellationToken.None), Is.True);
        Assert.That(await slow.CompletesWithinAsync(TimeSpan.FromSeconds(10), CancellationToken.None), Is.True);
        Assert.ThrowsAsync<InvalidOperationException>(async () => await slow);
    }
}
