using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using MeatLizard.Infrastructure.Inference.OpenAiCompatible;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Inference.LlamaCpp.LlamaTestEnvironment;

namespace MeatLizard.Infrastructure.Tests.Inference.OpenAiCompatible;

/// <summary>
/// The OpenAI-compatible engine against a real OpenAI-compatible server: llama-server's /v1 endpoint on the real
/// llama.cpp build and the generated test model (started by the managed engine, which also gives its key).
/// </summary>
[NonParallelizable]
public sealed class OpenAiCompatibleOnLlamaServerTests
{
    private LlamaServerEngine _llama = null!;
    private OpenAiCompatibleEngine _engine = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var options = Options(("Parallel", "2"), ("ExtraArgs:0", "--ignore-eos"));
        _llama = new LlamaServerEngine(options, LlamaCppInstallation.Resolve(options, needsCompletionBinary: false),
            NullLogger<LlamaServerEngine>.Instance);
        await _llama.StartAsync(CancellationToken.None);
        await _llama.WaitUntilReadyAsync(CancellationToken.None);
        _engine = Engine(_llama.ApiKey);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _engine.Dispose();
        await _llama.DisposeAsync();
    }

    [Test]
    public async Task Generate_StreamsFromLlamaServersOpenAiEndpoint_WithItsCountsAndFinishReason()
    {
        var (text, deltas, completed) = await CollectAsync(_engine, Request(maxTokens: 24) with { Model = "tiny" });

        Assert.That(text, Is.Not.Empty);
        Assert.That(deltas, Is.GreaterThan(1), "the answer came in one piece, not streamed");
        Assert.That(completed.PromptTokens, Is.GreaterThan(5));
        Assert.That(completed.CompletionTokens, Is.EqualTo(24));
        Assert.That(completed.FinishReason, Is.EqualTo("length"));
        Assert.That(completed.Timings?.GenerationMs, Is.GreaterThan(0), "llama-server's own timings came through");
    }

    [Test]
    public async Task Health_IsReady_WithTheHostsModelsAndSlots()
    {
        var health = await _engine.CheckHealthAsync(CancellationToken.None);

        Assert.That(health.Ready, Is.True, health.Detail);
        Assert.That(health.Models, Is.EqualTo(new[] { "tiny", "tiny-too" }));
        Assert.That(health.Slots, Is.EqualTo(2));
    }

    [Test]
    public async Task TheSeedIsPassedOn_SameSeedSameAnswer_OtherSeedOtherAnswer()
    {
        var seeded = Request("Tell me about lizards.", maxTokens: 16) with { Extras = new GenerationExtras(Seed: 11) };

        var (first, _, _) = await CollectAsync(_engine, seeded);
        var (again, _, _) = await CollectAsync(_engine, seeded);
        var (other, _, _) = await CollectAsync(_engine, seeded with { Extras = new GenerationExtras(Seed: 12) });

        Assert.That(again, Is.EqualTo(first));
        Assert.That(other, Is.Not.EqualTo(first));
    }

    [Test]
    public async Task StopSequencesAndMaxTokens_ArePassedOn()
    {
        var free = Request("Tell me about lizards.", maxTokens: 24) with { Extras = new GenerationExtras(Seed: 11) };
        var (text, _, _) = await CollectAsync(_engine, free);
        Assert.That(text.Trim().Length, Is.GreaterThanOrEqualTo(6), "the model's answer is too short to stop inside");
        var stop = text.Trim()[3..6];

        var (stopped, _, completed) = await CollectAsync(_engine, free with
        {
            Extras = new GenerationExtras(Stop: [stop], Seed: 11),
        });
        var (short_, _, shortCompleted) = await CollectAsync(_engine, free with { MaxTokens = 3 });

        Assert.That(stopped, Does.Not.Contain(stop));
        Assert.That(stopped.Length, Is.LessThan(text.Length));
        Assert.That(completed.FinishReason, Is.EqualTo("stop"));
        Assert.That(shortCompleted.CompletionTokens, Is.EqualTo(3));
        Assert.That(short_.Length, Is.LessThan(text.Length));
    }

    [Test]
    public async Task Cancel_MidStream_FreesLlamaServersSlot_LongBeforeTheAnswerWouldEnd()
    {
        // How long the whole answer would take at the speed llama-server shows now (it varies with the machine's load).
        var (_, _, measured) = await CollectAsync(_engine, Request(maxTokens: 32));
        var wholeAnswer = TimeSpan.FromMilliseconds(measured.Timings!.GenerationMs / measured.CompletionTokens * 900);
        using var cancellation = new CancellationTokenSource();
        var seen = 0;
        var cancelled = System.Diagnostics.Stopwatch.StartNew();

        Assert.CatchAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in _engine.GenerateAsync(Request(maxTokens: 900), cancellation.Token))
            {
                if (update is InferenceDelta && ++seen == 2)
                {
                    cancelled.Restart();
                    await cancellation.CancelAsync();
                }
            }
        });

        Assert.That(seen, Is.EqualTo(2));
        Assert.That(await WaitUntilIdleAsync(TimeSpan.FromSeconds(30)), Is.True, "llama-server kept generating after the cancel");
        Assert.That(cancelled.Elapsed, Is.LessThan(wholeAnswer / 2),
            $"the slot was busy until about when the whole answer ({wholeAnswer.TotalMilliseconds:F0} ms) would have ended");
    }

    [Test]
    public async Task AWrongKey_FailsWithLlamaServersOwnMessage()
    {
        using var engine = Engine("not-the-key");

        var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request(maxTokens: 4)));
        var health = await engine.CheckHealthAsync(CancellationToken.None);

        Assert.That(error!.Message, Does.Match("answered 401: .*[Ii]nvalid API [Kk]ey"));
        Assert.That(health.Ready, Is.False);
        Assert.That(health.Detail, Does.Contain("answered 401"));
    }

    private OpenAiCompatibleEngine Engine(string apiKey)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            // The server's address without /v1, as an operator may well write it.
            ["Inference:OpenAiCompatible:BaseUrl"] = _llama.BaseAddress!.ToString(),
            ["Inference:OpenAiCompatible:ApiKey"] = apiKey,
            ["Inference:OpenAiCompatible:Models:0:Name"] = "tiny",
            ["Inference:OpenAiCompatible:Models:0:Upstream"] = Path.GetFileName(ModelPath),
            ["Inference:OpenAiCompatible:Models:1"] = "tiny-too",
            ["Inference:ContextSize"] = "1024",
            ["Inference:MaxTokens"] = "64",
            ["Inference:Seed"] = "7",
            ["Inference:Parallel"] = "2",
            ["Inference:TimeoutSeconds"] = "60",
        }).Build();
        return new OpenAiCompatibleEngine(OpenAiCompatibleOptions.Read(configuration), LlamaCppOptions.Read(configuration),
            NullLogger<OpenAiCompatibleEngine>.Instance);
    }

    private async Task<bool> WaitUntilIdleAsync(TimeSpan within)
    {
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", _llama.ApiKey);
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            var slots = await http.GetFromJsonAsync<JsonElement>(new Uri(_llama.BaseAddress!, "slots"));
            if (slots.EnumerateArray().All(s => !s.GetProperty("is_processing").GetBoolean()))
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }
}
