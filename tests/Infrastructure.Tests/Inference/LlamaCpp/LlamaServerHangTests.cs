using System.Diagnostics;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Inference.LlamaCpp.LlamaTestEnvironment;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>
/// The engine's watchdog (Inference:HangTimeoutSeconds) against the real llama-server: a run that stops answering —
/// here frozen with SIGSTOP, as a deadlock or a machine that stops scheduling it would leave it — is stopped and started
/// again, and the answer it held is handed back; a run that is busy answering is left alone.
/// </summary>
[NonParallelizable]
public sealed class LlamaServerHangTests
{
    /// <summary>
    /// Frozen (SIGSTOP: a deadlock, a machine that stops scheduling it), or told to stop from outside (SIGTERM: an
    /// operator's pkill, a shutdown in the wrong order) — llama-server then closes its port but stays alive, its open
    /// streams silent until their clients give up, and has been seen to answer <c>/health</c> meanwhile with its task loop
    /// gone (a soak's questions waited 90 s). Either way the run is given up, and the answer it held handed back.
    /// </summary>
    [TestCase("STOP")]
    [TestCase("TERM")]
    public async Task StoppedAnsweringMidAnswer_IsStoppedAndStartedAgain_AndTheAnswerIsHandedBackAsEngineLost(string signal)
    {
        var engine = Engine(Options(("HangTimeoutSeconds", "2"), ("ExtraArgs:0", "--ignore-eos")));
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine.WaitUntilReadyAsync(CancellationToken.None);
            var server = ChildrenOf(engine.ProcessId!.Value).Single();

            var signalled = false;
            var failure = Assert.ThrowsAsync<InferenceFailedException>(async () =>
            {
                await foreach (var update in engine.GenerateAsync(Request(maxTokens: 4000), CancellationToken.None))
                {
                    if (update is InferenceDelta && !signalled)
                    {
                        Signal(signal, server);
                        signalled = true;
                    }
                }
            });

            Assert.That(signalled, Is.True, $"the answer was streaming when llama-server got SIG{signal}");
            Assert.That(failure!.EngineLost, Is.True, failure.Message);
            Assert.That(await WaitUntilDeadAsync(server, TimeSpan.FromSeconds(10)), Is.True, "the llama-server was stopped");

            // The next run answers: the question handed back is asked of it.
            var (text, _, completed) = await CollectAsync(engine, Request(maxTokens: 4));
            Assert.That(text, Is.Not.Empty);
            Assert.That(completed.CompletionTokens, Is.GreaterThan(0));
            Assert.That(engine.Starts, Is.EqualTo(2), "started once more");
            Assert.That(ChildrenOf(engine.ProcessId!.Value).Single(), Is.Not.EqualTo(server));
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    [Test]
    public async Task FrozenWhileIdle_SaysWhyWhileItStartsAgain()
    {
        var engine = Engine(Options(("HangTimeoutSeconds", "1")));
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine.WaitUntilReadyAsync(CancellationToken.None);
            var server = ChildrenOf(engine.ProcessId!.Value).Single();

            Signal("STOP", server);
            EngineHealth health;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            do
            {
                Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the frozen run was still taken for ready after 30 s");
                await Task.Delay(20);
                health = await engine.CheckHealthAsync(CancellationToken.None);
            }
            while (health.Ready);

            Assert.That(health.Restarting, Is.True, health.Detail);
            Assert.That(health.Detail, Does.Contain("Inference:HangTimeoutSeconds"));
            await engine.WaitUntilReadyAsync(CancellationToken.None);
            Assert.That(await WaitUntilDeadAsync(server, TimeSpan.FromSeconds(10)), Is.True, "the frozen llama-server was stopped, not left behind");
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    [Test]
    public async Task BusyAnswering_IsNotTakenForHung()
    {
        // One slot generating for several times the hang timeout: its health check still answers, so nothing restarts.
        var engine = Engine(Options(("HangTimeoutSeconds", "3"), ("Parallel", "1"), ("ExtraArgs:0", "--ignore-eos")));
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine.WaitUntilReadyAsync(CancellationToken.None);
            var started = Stopwatch.GetTimestamp();
            var answers = 0;
            while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(10))
            {
                var (_, _, completed) = await CollectAsync(engine, Request(maxTokens: 400));
                Assert.That(completed.CompletionTokens, Is.EqualTo(400));
                answers++;
            }

            Assert.That(engine.Starts, Is.EqualTo(1), $"llama-server was restarted while busy ({answers} answers)");
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))!;
        kill.WaitForExit();
        Assert.That(kill.ExitCode, Is.Zero, $"kill -{signal} {pid}");
    }
}
