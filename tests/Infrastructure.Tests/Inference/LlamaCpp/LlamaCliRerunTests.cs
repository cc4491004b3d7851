using System.Collections.Concurrent;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.Logging;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Inference.LlamaCpp.LlamaTestEnvironment;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>
/// llama-completion loses the end of its output at exit now and then, perf lines included (its logger thread is not
/// drained: llama.cpp issue 22142). A scripted llama-completion plays such runs on cue, so the engine's answer to them
/// is tested without waiting for the race.
/// </summary>
[NonParallelizable]
public sealed class LlamaCliRerunTests
{
    private const string PerfLines =
        "common_perf_print: prompt eval time =      12.34 ms /    29 tokens (    0.43 ms per token,  2350.08 tokens per second)\n" +
        "common_perf_print:        eval time =      56.78 ms /    11 runs   (    5.16 ms per token,   193.73 tokens per second)\n";

    private ScriptedCompletion _llama = null!;
    private RecordingLogger _logs = null!;

    [SetUp]
    public void SetUp()
    {
        _llama = new ScriptedCompletion();
        _logs = new RecordingLogger();
    }

    [TearDown]
    public void TearDown() => _llama.Dispose();

    [Test]
    public async Task RunThatLostItsEnd_IsRunAgain_AndTheWholeAnswerStreamsOnce_WithTheRealCounts()
    {
        _llama.Run(1, ["Liz", "ards bask"]);
        _llama.Run(2, ["Liz", "ards bask in", " the sun.", " [end of text]\n\n"], PerfLines);

        var (text, _, completed) = await CollectAsync(Engine(seed: 7), Request());

        Assert.That(text, Is.EqualTo("Lizards bask in the sun."));
        Assert.That(_llama.Runs, Is.EqualTo(2));
        Assert.That(completed.PromptTokens, Is.EqualTo(29));
        Assert.That(completed.CompletionTokens, Is.EqualTo(12));
        Assert.That(completed.Timings, Is.Not.Null, "the counts of the run that kept its perf lines were not used");
        Assert.That(_logs.Text, Does.Not.Contain("Warning"));
    }

    [Test]
    public async Task RerunCutShorterStill_IsRunAgain()
    {
        _llama.Run(1, ["Lizards bask"]);
        _llama.Run(2, ["Lizards"]);
        _llama.Run(3, ["Lizards bask in the sun.", " [end of text]\n"], PerfLines);

        var (text, _, completed) = await CollectAsync(Engine(seed: 7), Request());

        Assert.That(text, Is.EqualTo("Lizards bask in the sun."));
        Assert.That(_llama.Runs, Is.EqualTo(3));
        Assert.That(completed.CompletionTokens, Is.EqualTo(12));
        Assert.That(_logs.Text, Does.Not.Contain("Warning"));
    }

    [Test]
    public async Task RunCutInsideACharacter_IsTakenOverByTheRerun()
    {
        _llama.Run(1, ["Lizards "], bytes: [0xF0, 0x9F]); // the first half of 🦎
        _llama.Run(2, ["Lizards 🦎 bask.", " [end of text]\n"], PerfLines);

        var (text, _, completed) = await CollectAsync(Engine(seed: 7), Request());

        Assert.That(text, Is.EqualTo("Lizards 🦎 bask."));
        Assert.That(completed.Timings, Is.Not.Null);
        Assert.That(_logs.Text, Does.Not.Contain("Warning"));
    }

    [Test]
    public async Task RunThatLostOnlyItsLastPerfLine_IsRunAgain_ForTheRealCounts()
    {
        // The text is whole (the prompt line came after it), but the generated tokens and their time went with the
        // "eval time" line: taken as they were, the answer counted 1 token made in 0 ms. (No end-of-text marker: the
        // answer stopped at the token limit.)
        _llama.Run(1, ["Lizards bask."], PerfLines.Split('\n')[0] + "\n");
        _llama.Run(2, ["Lizards bask."], PerfLines);

        var (text, _, completed) = await CollectAsync(Engine(seed: 7), Request());

        Assert.That(text, Is.EqualTo("Lizards bask."));
        Assert.That(_llama.Runs, Is.EqualTo(2));
        Assert.That(completed.CompletionTokens, Is.EqualTo(12));
        Assert.That(completed.Timings!.GenerationMs, Is.EqualTo(56.78));
    }

    [Test]
    public async Task RunThatLostItsPerfLines_AfterTheEndOfTextMarker_IsNotRunAgain()
    {
        // The marker is logged after all the text: only the counts are missing, not worth the whole answer's time again.
        _llama.Run(1, ["Lizards bask.", " [end of text]\n"]);
        _llama.Run(2, ["Lizards bask.", " [end of text]\n"], PerfLines);

        var (text, _, completed) = await CollectAsync(Engine(seed: 7), Request());

        Assert.That(text, Is.EqualTo("Lizards bask."));
        Assert.That(_llama.Runs, Is.EqualTo(1));
        Assert.That(completed.Timings, Is.Null);
        Assert.That(completed.FinishReason, Is.EqualTo("stop"));
        Assert.That(_logs.Text, Does.Not.Contain("Warning"));
    }

    [Test]
    public async Task RerunThatWritesAnotherAnswer_SendsNothingTwice_AndWarns()
    {
        _llama.Run(1, ["Lizards bask"]);
        _llama.Run(2, ["Snakes sleep all day.", " [end of text]\n"], PerfLines);

        var (text, _, completed) = await CollectAsync(Engine(seed: 7), Request());

        Assert.That(text, Is.EqualTo("Lizards bask"));
        Assert.That(completed.Timings, Is.Null, "the counts of another answer were taken for this one");
        Assert.That(completed.CompletionTokens, Is.GreaterThan(0));
        Assert.That(_logs.Text, Does.Contain("Warning: ").And.Contain("llama.cpp issue 22142"));
        Assert.That(_logs.Text, Does.Not.Contain("Lizards").And.Not.Contain("Snakes"), "answer text in the logs");
    }

    [Test]
    public async Task EveryRunLosingItsEnd_KeepsAllThatWasSent_WithEstimatedCounts_AndWarns()
    {
        _llama.Run(1, ["Lizards"]);
        _llama.Run(2, ["Lizards bask"]);
        _llama.Run(3, ["Lizards bask in"]);
        _llama.Run(4, ["Lizards bask in the sun.", " [end of text]\n"], PerfLines);

        var (text, _, completed) = await CollectAsync(Engine(seed: 7), Request());

        Assert.That(text, Is.EqualTo("Lizards bask in"));
        Assert.That(_llama.Runs, Is.EqualTo(1 + LlamaCliEngine.MaxReruns));
        Assert.That(completed.Timings, Is.Null);
        Assert.That(completed.PromptTokens, Is.GreaterThan(5));
        Assert.That(_logs.Text, Does.Contain("Warning: ").And.Contain("llama.cpp issue 22142"));
    }

    [Test]
    public async Task RerunThatTimesOut_IsStopped_AndWhatWasSentStays()
    {
        _llama.Run(1, ["Lizards"]);
        _llama.Run(2, ["Lizards bask.", " [end of text]\n"], PerfLines, sleepSeconds: 60);

        var (text, _, completed) = await CollectAsync(Engine(seed: 7, timeoutSeconds: 3), Request());

        Assert.That(text, Is.EqualTo("Lizards"));
        Assert.That(completed.Timings, Is.Null);
        Assert.That(_logs.Text, Does.Contain("Warning: ").And.Contain("timed out"));
        Assert.That(await ProcessTable.WaitUntilGoneAsync("llama-", TimeSpan.FromSeconds(30)), Is.Empty,
            "the rerun was left running");
    }

    [Test]
    public async Task RandomSeed_IsDrawnByTheEngine_AndTheRerunGetsTheSameOne()
    {
        _llama.Run(1, ["Lizards"]);
        _llama.Run(2, ["Lizards bask.", " [end of text]\n"], PerfLines);

        await CollectAsync(Engine(seed: -1), Request());

        var first = _llama.Seed(1);
        Assert.That(long.Parse(first, System.Globalization.CultureInfo.InvariantCulture), Is.InRange(0, uint.MaxValue - 1),
            "llama.cpp was left to draw the seed, so a run that lost its end cannot be run again to the same answer");
        Assert.That(_llama.Seed(2), Is.EqualTo(first));
    }

    private LlamaCliEngine Engine(long seed, double timeoutSeconds = 30)
    {
        var options = new LlamaCppOptions { Seed = seed, ContextSize = 1024, MaxTokens = 64, TimeoutSeconds = timeoutSeconds };
        return new LlamaCliEngine(options, _llama.Installation, _logs);
    }

    /// <summary>
    /// A llama-completion that plays its runs from files: run N writes the pieces out.N.* to stdout a moment apart,
    /// then err.N to stderr, and keeps its arguments in args.N.
    /// </summary>
    private sealed class ScriptedCompletion : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("meatlizard-scripted-llama-").FullName;

        public ScriptedCompletion()
        {
            var script = Path.Combine(_directory, "llama-completion");
            File.WriteAllText(script,
                "#!/bin/sh\n" +
                "dir=$(dirname \"$0\")\n" +
                "n=$(( $(cat \"$dir/runs\" 2>/dev/null || echo 0) + 1 ))\n" +
                "echo $n > \"$dir/runs\"\n" +
                "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$dir/args.$n\"\n" +
                "echo 'load_tensors: loading model' >&2\n" +
                "[ -e \"$dir/sleep.$n\" ] && sleep \"$(cat \"$dir/sleep.$n\")\"\n" +
                "for piece in \"$dir\"/out.$n.*; do [ -e \"$piece\" ] && cat \"$piece\"; sleep 0.05; done\n" +
                "[ -e \"$dir/err.$n\" ] && cat \"$dir/err.$n\" >&2\n" +
                "exit 0\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            var model = Path.Combine(_directory, "model.gguf");
            File.WriteAllText(model, "");
            Installation = new LlamaCppInstallation(_directory, Path.Combine(_directory, "llama-server"), script, model);
        }

        public LlamaCppInstallation Installation { get; }

        public int Runs => File.Exists(Path.Combine(_directory, "runs"))
            ? int.Parse(File.ReadAllText(Path.Combine(_directory, "runs")).Trim(), System.Globalization.CultureInfo.InvariantCulture)
            : 0;

        /// <summary>Run <paramref name="run"/> writes <paramref name="stdout"/>, then <paramref name="bytes"/>.</summary>
        public void Run(int run, string[] stdout, string stderr = "", int sleepSeconds = 0, byte[]? bytes = null)
        {
            if (bytes is not null)
            {
                File.WriteAllBytes(Path.Combine(_directory, $"out.{run}.99"), bytes);
            }

            if (sleepSeconds > 0)
            {
                File.WriteAllText(Path.Combine(_directory, $"sleep.{run}"), sleepSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            for (var i = 0; i < stdout.Length; i++)
            {
                File.WriteAllText(Path.Combine(_directory, $"out.{run}.{i:D2}"), stdout[i]);
            }

            File.WriteAllText(Path.Combine(_directory, $"err.{run}"), stderr);
        }

        /// <summary>The --seed run <paramref name="run"/> was given.</summary>
        public string Seed(int run)
        {
            var arguments = File.ReadAllLines(Path.Combine(_directory, $"args.{run}"));
            return arguments[Array.IndexOf(arguments, "--seed") + 1];
        }

        public void Dispose() => Directory.Delete(_directory, recursive: true);
    }

    private sealed class RecordingLogger : Support.RecordingLogger<LlamaCliEngine>
    {
    }
}
