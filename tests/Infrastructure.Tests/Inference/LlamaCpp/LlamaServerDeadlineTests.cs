using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>A request's Inference:TimeoutSeconds: named when it cuts a step, silent when the caller does.</summary>
public sealed class LlamaServerDeadlineTests
{
    [Test]
    public void AStepCutByTheDeadline_FailsNamingTheSetting()
    {
        using var deadline = new LlamaServerDeadline(0.05, CancellationToken.None);

        var failure = Assert.ThrowsAsync<InferenceFailedException>(() =>
            deadline.KeepAsync(token => Task.Delay(Timeout.Infinite, token)));

        Assert.That(failure!.Message, Is.EqualTo("llama-server did not finish within Inference:TimeoutSeconds (0.05 s)."));
        Assert.That(deadline.Passed, Is.True);
    }

    [Test]
    public async Task AStepCutByTheCaller_IsCancelled_NotTimedOut()
    {
        using var caller = new CancellationTokenSource();
        using var deadline = new LlamaServerDeadline(60, caller.Token);
        var step = deadline.KeepAsync(token => Task.Delay(Timeout.Infinite, token));

        await caller.CancelAsync();

        Assert.That(async () => await step, Throws.InstanceOf<OperationCanceledException>());
        Assert.That(deadline.Passed, Is.False);
    }

    [Test]
    public async Task AStepInTime_GivesItsResult()
    {
        using var deadline = new LlamaServerDeadline(60, CancellationToken.None);

        Assert.That(await deadline.KeepAsync(_ => Task.FromResult(42)), Is.EqualTo(42));
    }
}
