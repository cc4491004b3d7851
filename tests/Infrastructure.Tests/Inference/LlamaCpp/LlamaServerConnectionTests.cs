using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using MeatLizard.Application.Abstractions;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Inference.LlamaCpp.LlamaTestEnvironment;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>
/// A connection to the real llama-server that breaks while llama-server lives (killed by the kernel with <c>ss -K</c>,
/// as a connection closed under one request would): that answer is handed back, and the same run answers the next
/// question. Before, any broken connection was taken for llama-server's death, and every later question waited for a
/// next run that never came (seen in the soak: a host that took work and answered none until it was restarted).
/// </summary>
[NonParallelizable]
public sealed partial class LlamaServerConnectionTests
{
    [Test]
    public async Task AConnectionBrokenMidAnswer_HandsThatAnswerBack_AndTheSameLlamaServerAnswersTheNextQuestion()
    {
        // A question that waited for a next run would fail after this, well before the test's own timeout.
        var engine = Engine(Options(("TimeoutSeconds", "20"), ("ExtraArgs:0", "--ignore-eos")));
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine.WaitUntilReadyAsync(CancellationToken.None);
            var server = ChildrenOf(engine.ProcessId!.Value).Single();
            var port = ListeningPortOf(server);

            var broken = false;
            var failure = Assert.ThrowsAsync<InferenceFailedException>(async () =>
            {
                await foreach (var update in engine.GenerateAsync(Request(maxTokens: 4000), CancellationToken.None))
                {
                    if (update is InferenceDelta && !broken)
                    {
                        await KillConnectionsToAsync(port);
                        broken = true;
                    }
                }
            });

            Assert.That(broken, Is.True, "the answer was streaming when its connection broke");
            Assert.That(failure!.EngineLost, Is.True, "handed back, to be asked again: " + failure.Message);
            Assert.That(IsAlive(server), Is.True, "llama-server itself lives");

            var (text, _, completed) = await CollectAsync(engine, Request(maxTokens: 4));
            Assert.That(text, Is.Not.Empty);
            Assert.That(completed.CompletionTokens, Is.GreaterThan(0));
            Assert.That(engine.Starts, Is.EqualTo(1), "the same run answered: nothing waited for another");
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    /// <summary>The TCP port <paramref name="pid"/> listens on (llama-server listens on one).</summary>
    private static int ListeningPortOf(int pid)
    {
        var listening = Run("ss", "-ltnpH");
        foreach (var line in listening.Split('\n'))
        {
            if (line.Contains($"pid={pid.ToString(CultureInfo.InvariantCulture)},", StringComparison.Ordinal)
                && LocalPort().Match(line) is { Success: true } match)
            {
                return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"Process {pid} listens on no TCP port: {listening}");
    }

    /// <summary>Has the kernel abort every TCP connection to <paramref name="port"/> (as root: <c>ss -K</c>).</summary>
    private static async Task KillConnectionsToAsync(int port)
    {
        await Task.Run(() => Run("ss", "-K", "dst", "127.0.0.1", "dport", "=", port.ToString(CultureInfo.InvariantCulture)));
    }

    private static string Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0
            ? output
            : throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed: {process.StandardError.ReadToEnd()}");
    }

    [GeneratedRegex(@"127\.0\.0\.1:(\d+)\s")]
    private static partial Regex LocalPort();
}
