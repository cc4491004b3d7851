using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Inference.LlamaCpp.LlamaTestEnvironment;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>The engine's llama-server stopped, crashed or killed: nothing left behind, started again, nothing lost.</summary>
public sealed partial class LlamaServerEngineTests
{
    [Test]
    public async Task Stop_LeavesNoProcessBehind()
    {
        var engine = Engine(Options());
        await engine.StartAsync(CancellationToken.None);
        await engine.WaitUntilReadyAsync(CancellationToken.None);
        var guard = engine.ProcessId!.Value;
        var server = ChildrenOf(guard);
        Assert.That(server, Has.Count.EqualTo(1));

        await engine.StopAsync(CancellationToken.None);

        Assert.That(IsAlive(guard), Is.False);
        Assert.That(await WaitUntilDeadAsync(server[0], TimeSpan.FromSeconds(30)), Is.True, "llama-server outlived the engine");
        // The container disposes it once per registration (engine, port, hosted service): that must be harmless.
        await engine.DisposeAsync();
        Assert.DoesNotThrowAsync(async () => await engine.DisposeAsync());
    }

    [Test]
    public async Task CrashedServer_IsStartedAgain_AndAnswers()
    {
        var engine = Engine(Options());
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine.WaitUntilReadyAsync(CancellationToken.None);
            var server = ChildrenOf(engine.ProcessId!.Value).Single();

            Process.GetProcessById(server).Kill();

            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (engine.Starts < 2 || !(await engine.CheckHealthAsync(CancellationToken.None)).Ready)
            {
                Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "llama-server was not started again within 60 s");
                await Task.Delay(50);
            }

            var (text, _, completed) = await CollectAsync(engine, Request(maxTokens: 4));
            Assert.That(text, Is.Not.Empty);
            Assert.That(completed.CompletionTokens, Is.GreaterThan(0));
            Assert.That(engine.ProcessId, Is.Not.Null);
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    [Test]
    public async Task ServerKilledMidAnswer_FailsTheAnswerAsEngineLost_SoItIsAskedAgain()
    {
        var engine = Engine(Options(("ExtraArgs:0", "--ignore-eos")));
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine.WaitUntilReadyAsync(CancellationToken.None);
            var server = ChildrenOf(engine.ProcessId!.Value).Single();

            var killed = false;
            var failure = Assert.ThrowsAsync<InferenceFailedException>(async () =>
            {
                await foreach (var update in engine.GenerateAsync(Request(maxTokens: 4000), CancellationToken.None))
                {
                    if (update is InferenceDelta && !killed)
                    {
                        Process.GetProcessById(server).Kill();
                        killed = true;
                    }
                }
            });

            Assert.That(failure!.EngineLost, Is.True, failure.Message);
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    [Test]
    public async Task ServerKilled_SaysItIsStartingAgainUntilTheNextRunIsReady_AndRaisesEachChange()
    {
        var engine = Engine(Options());
        var changes = 0;
        engine.HealthChanged += () => Interlocked.Increment(ref changes);
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine.WaitUntilReadyAsync(CancellationToken.None);
            var readyChanges = Volatile.Read(ref changes);
            Assert.That(readyChanges, Is.GreaterThanOrEqualTo(1), "becoming ready is a change");

            Process.GetProcessById(ChildrenOf(engine.ProcessId!.Value).Single()).Kill();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            var health = await HealthOnceAsync(engine, h => !h.Ready, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(10));

            Assert.That((health.Ready, health.Restarting, health.Loading), Is.EqualTo((false, true, false)), health.Detail);
            Assert.That(Volatile.Read(ref changes), Is.GreaterThan(readyChanges), "the stop is a change");
            while (!(await engine.CheckHealthAsync(CancellationToken.None)).Ready)
            {
                Assert.That(DateTime.UtcNow, Is.LessThan(deadline.AddSeconds(30)), "not ready again within 60 s");
                Assert.That((await engine.CheckHealthAsync(CancellationToken.None)) is { Ready: true } or { Restarting: true },
                    "starting again until ready");
                await Task.Delay(20);
            }

            Assert.That((await engine.CheckHealthAsync(CancellationToken.None)).Restarting, Is.False);
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    [Test]
    public async Task ServerKilled_WhileARequestWaitsForASlot_ThatRequestIsAnsweredByTheNextRun_NotHandedBack()
    {
        // One slot: the second request waits for it while the first is generating when llama-server dies. The first
        // had the question (handed back, engine lost); the second had not reached it and is answered by the next run.
        var engine = Engine(Options(("Parallel", "1"), ("ExtraArgs:0", "--ignore-eos")));
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine.WaitUntilReadyAsync(CancellationToken.None);
            var server = ChildrenOf(engine.ProcessId!.Value).Single();
            var firstStreaming = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

            var first = Task.Run(async () =>
            {
                await foreach (var update in engine.GenerateAsync(Request(maxTokens: 4000), CancellationToken.None))
                {
                    firstStreaming.TrySetResult();
                }
            });
            await firstStreaming.Task.WaitAsync(TimeSpan.FromSeconds(60));
            var second = CollectAsync(engine, Request("waiting", maxTokens: 4));
            await Task.Delay(200);
            Assert.That(second.IsCompleted, Is.False, "the second request waits for the only slot");

            Process.GetProcessById(server).Kill();

            var lost = Assert.ThrowsAsync<InferenceFailedException>(async () => await first);
            Assert.That(lost!.EngineLost, Is.True, lost.Message);
            var (text, _, completed) = await second.WaitAsync(TimeSpan.FromSeconds(90));
            Assert.That(text, Is.Not.Empty);
            Assert.That(completed.CompletionTokens, Is.EqualTo(4));
            Assert.That(engine.Starts, Is.EqualTo(2), "answered by the next run");
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }
}
