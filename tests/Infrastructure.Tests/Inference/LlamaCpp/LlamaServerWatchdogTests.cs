using System.Diagnostics;
using System.Net;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>
/// The hang watch of a ready llama-server run, on a stub (the real llama-server frozen with SIGSTOP is in
/// <c>LlamaServerHangTests</c>): any answer to /slots keeps it alive; none for the hang timeout is a hang.
/// </summary>
public sealed class LlamaServerWatchdogTests
{
    private static readonly LlamaServerRun Run = new(LlamaServerStub.BaseAddress, "key-1", 1);

    [Test]
    public async Task ARunThatAnswersItsSlots_EvenWithAnError_IsNotHung_ForThreeTimesTheTimeout()
    {
        using var stub = new LlamaServerStub((_, _) => Task.FromResult(LlamaServerStub.Json("{}", HttpStatusCode.NotImplemented)));
        using var http = new HttpClient(stub);
        var exited = Task.Delay(TimeSpan.FromSeconds(3));

        var hung = await new LlamaServerWatchdog(http, hangTimeoutSeconds: 1).HungAsync(exited, Run, CancellationToken.None);

        Assert.That(hung, Is.False, "llama-server answered (501, as with --no-slots) until it exited");
        Assert.That(stub.Asked, Has.Count.GreaterThanOrEqualTo(3));
        Assert.That(stub.Asked, Has.All.EqualTo(("/slots", "key-1")), "its slots, with the run's key");
    }

    [Test]
    public async Task ARunThatLeavesItsSlotsUnanswered_IsHung_SoonAfterTheTimeout()
    {
        using var stub = new LlamaServerStub(LlamaServerStub.Silent);
        using var http = new HttpClient(stub);
        var exited = new TaskCompletionSource();
        var watch = Stopwatch.StartNew();

        var hung = await new LlamaServerWatchdog(http, hangTimeoutSeconds: 1).HungAsync(exited.Task, Run, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(hung, Is.True);
        Assert.That(watch.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1)), "not before the timeout");
    }

    [Test]
    public async Task ARunThatExits_EndsTheWatch_NotHung()
    {
        using var stub = new LlamaServerStub(LlamaServerStub.Silent);
        using var http = new HttpClient(stub);
        var exited = new TaskCompletionSource();
        var watch = new LlamaServerWatchdog(http, hangTimeoutSeconds: 60).HungAsync(exited.Task, Run, CancellationToken.None);

        exited.SetResult();

        Assert.That(await watch.WaitAsync(TimeSpan.FromSeconds(30)), Is.False);
    }

    [Test]
    public async Task StoppingEndsTheWatch_NotHung()
    {
        using var stub = new LlamaServerStub(LlamaServerStub.Silent);
        using var http = new HttpClient(stub);
        using var stopping = new CancellationTokenSource();
        var watch = new LlamaServerWatchdog(http, hangTimeoutSeconds: 1).HungAsync(new TaskCompletionSource().Task, Run, stopping.Token);

        await stopping.CancelAsync();

        Assert.That(await watch.WaitAsync(TimeSpan.FromSeconds(30)), Is.False);
    }
}
