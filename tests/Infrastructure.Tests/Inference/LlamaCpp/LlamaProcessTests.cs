using MeatLizard.Infrastructure.Inference.LlamaCpp;
using NUnit.Framework;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>The guard every llama.cpp child runs under: it must not outlive this process.</summary>
[NonParallelizable]
public sealed class LlamaProcessTests
{
    [Test]
    public async Task WhenThisProcessGoesAway_TheGuardKillsLlamaServer()
    {
        var server = Path.Combine(LlamaTestEnvironment.LlamaDir, "llama-server");
        await using var process = LlamaProcess.Start(server,
            ["--model", LlamaTestEnvironment.ModelPath, "--host", "127.0.0.1", "--port", "0"]);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!ProcessTable.Descendants(process.Id).Any(p => p.Name == "llama-server"))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "llama-server did not start");
            await Task.Delay(20);
        }

        process.CloseLifeline();

        var exitCode = await process.Exited.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.That(exitCode, Is.Not.Zero, "llama-server was killed, so the guard reports a failure");
        Assert.That(await ProcessTable.WaitUntilGoneAsync("llama-server", TimeSpan.FromSeconds(30)), Is.Empty);
    }

    [Test]
    public async Task ChildExitCode_IsPassedOn()
    {
        await using var process = LlamaProcess.Start("/bin/sh", ["-c", "echo oops >&2; exit 3"]);

        Assert.That(await process.Exited.WaitAsync(TimeSpan.FromSeconds(60)), Is.EqualTo(3));
        Assert.That(process.StderrTail, Is.EqualTo(new[] { "oops" }));
    }
}
