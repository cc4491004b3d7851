using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Inference.LlamaCpp.LlamaTestEnvironment;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>The one-shot engine against the real llama-completion and the generated test model.</summary>
[NonParallelizable]
public sealed class LlamaCliEngineTests
{
    private static LlamaCliEngine Engine(LlamaCppOptions options) =>
        new(options, LlamaCppInstallation.Resolve(options, needsCompletionBinary: true), NullLogger<LlamaCliEngine>.Instance);

    [Test]
    public async Task Generate_StreamsSeveralDeltas_AndReportsTokenCounts()
    {
        var engine = Engine(Options());

        var (text, deltas, completed) = await CollectAsync(engine, Request(maxTokens: 24));

        Assert.That(text, Is.Not.Empty);
        Assert.That(deltas, Is.GreaterThan(1), "the answer came in one piece, not streamed");
        Assert.That(completed.PromptTokens, Is.GreaterThan(5));
        Assert.That(completed.CompletionTokens, Is.InRange(1, 24));
        Assert.That(text, Does.Not.Contain("[end of text]"));
        Assert.That(text, Does.Not.Contain("llama"), "llama.cpp's log lines leaked into the answer");
    }

    [Test]
    public async Task Completion_CarriesLlamaCppsTimings()
    {
        var engine = Engine(Options());

        // llama-completion sometimes loses its closing perf lines at exit (llama.cpp issue 22142): then the counts
        // are estimated and there are no timings. One of a few runs has them.
        InferenceCompleted? timed = null;
        for (var run = 0; run < 4 && timed is null; run++)
        {
            var (_, _, completed) = await CollectAsync(engine, Request(maxTokens: 12));
            timed = completed.Timings is null ? null : completed;
        }

        Assert.That(timed, Is.Not.Null, "no run reported llama.cpp's timings");
        Assert.That(timed!.Timings!.PromptMs, Is.GreaterThan(0));
        Assert.That(timed.Timings.GenerationMs, Is.GreaterThan(0));
        Assert.That(timed.PromptTokens, Is.GreaterThan(5));
    }

    [Test]
    public async Task Generate_WithAFixedSeed_IsRepeatable()
    {
        var engine = Engine(Options());

        var first = await CollectAsync(engine, Request(maxTokens: 16));
        var second = await CollectAsync(engine, Request(maxTokens: 16));

        // The same text, except that llama-completion can lose the very end of its output at exit (its logger thread
        // is not joined: llama.cpp issue 22142), so one may stop a token short of the other.
        var (shorter, longer) = first.Text.Length <= second.Text.Length ? (first.Text, second.Text) : (second.Text, first.Text);
        Assert.That(shorter.Length, Is.GreaterThan(10));
        Assert.That(longer, Does.StartWith(shorter));
    }

    [Test]
    public async Task Generate_StopsAtMaxTokens()
    {
        var engine = Engine(Options(("ExtraArgs:0", "--ignore-eos")));

        var (_, deltas, completed) = await CollectAsync(engine, Request(maxTokens: 5));

        // llama-completion sometimes loses its closing perf lines (llama.cpp issue 22142); then the count is the
        // streamed pieces, which can hold several tokens each: at most 5 either way.
        Assert.That(completed.CompletionTokens, Is.InRange(1, 5));
        Assert.That(deltas, Is.InRange(1, 5));
    }

    [Test]
    public async Task Cancel_MidStream_KillsTheProcess()
    {
        var engine = Engine(Options(("ExtraArgs:0", "--ignore-eos")));
        using var cancellation = new CancellationTokenSource();
        var seen = 0;

        Assert.CatchAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in engine.GenerateAsync(Request(maxTokens: 900), cancellation.Token))
            {
                if (update is InferenceDelta && ++seen == 2)
                {
                    Assert.That(ProcessTable.LlamaDescendants().Select(p => p.Name), Has.Some.StartsWith("llama-"),
                        "no llama.cpp process was running while it streamed");
                    await cancellation.CancelAsync();
                }
            }
        });

        Assert.That(seen, Is.EqualTo(2));
        Assert.That(await ProcessTable.WaitUntilGoneAsync("llama-", TimeSpan.FromSeconds(30)), Is.Empty,
            "a llama.cpp process was left running after the cancel");
    }

    [Test]
    public async Task Timeout_FailsWithTheSettingName_AndKillsTheProcess()
    {
        // 900 tokens of the test model can come in under 0.3 s on a quiet machine: ask for more than it can write in time.
        var engine = Engine(Options(("TimeoutSeconds", "0.3"), ("ContextSize", "8192"), ("ExtraArgs:0", "--ignore-eos")));

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request(maxTokens: 8000)));

        Assert.That(error!.Message, Does.Contain("Inference:TimeoutSeconds (0.3 s)"));
        Assert.That(await ProcessTable.WaitUntilGoneAsync("llama-", TimeSpan.FromSeconds(30)), Is.Empty);
    }

    [Test]
    public void NonZeroExit_FailsWithLlamaCppsReason()
    {
        var engine = Engine(Options(("ExtraArgs:0", "--no-such-flag")));

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request()));

        Assert.That(error!.Message, Does.StartWith("llama.cpp exited with code"));
        Assert.That(error.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void ModelRemovedAfterStart_FailsNamingTheSetting()
    {
        var model = Path.Combine(Path.GetTempPath(), $"meatlizard-model-{Guid.NewGuid():N}.gguf");
        File.Copy(ModelPath, model);
        var options = Options(("ModelPath", model));
        var engine = Engine(options);
        File.Delete(model);

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request()));

        Assert.That(error!.Message, Does.Contain("Inference:ModelPath"));
    }

    [Test]
    public async Task LongHistory_IsCutToTheContext_KeepingTheSystemPrompt()
    {
        var engine = Engine(Options(("ContextSize", "512"), ("MaxTokens", "16")));
        var turns = Enumerable.Range(0, 41)
            .Select(i => new Application.Common.Models.ChatTurn(
                i % 2 == 0 ? Domain.Messages.MessageRole.User : Domain.Messages.MessageRole.Assistant,
                $"turn {i}: " + string.Concat(Enumerable.Repeat("lizards bask in the sun ", 10))))
            .ToList();
        var request = Request() with { Turns = turns };

        // Uncut, these 41 turns are about 4,000 tokens and llama.cpp would refuse the prompt as too long.
        var (_, _, completed) = await CollectAsync(engine, request);

        Assert.That(completed.PromptTokens, Is.InRange(100, 512));
        Assert.That(completed.CompletionTokens, Is.GreaterThan(0));
    }
}
