using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using MeatLizard.Application.Abstractions;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.Logging.Abstractions;
using NUnit.Framework;
using static MeatLizard.Infrastructure.Tests.Inference.LlamaCpp.LlamaTestEnvironment;

namespace MeatLizard.Infrastructure.Tests.Inference.LlamaCpp;

/// <summary>The managed-server engine against the real llama-server and the generated test model.</summary>
[NonParallelizable]
public sealed partial class LlamaServerEngineTests
{
    private LlamaServerEngine _engine = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _engine = Engine(Options(("Parallel", "2"), ("ExtraArgs:0", "--ignore-eos")));
        await _engine.StartAsync(CancellationToken.None);
        await _engine.WaitUntilReadyAsync(CancellationToken.None);
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _engine.DisposeAsync();

    [Test]
    public async Task Generate_StreamsSeveralDeltas_AndReportsTokenCounts()
    {
        var (text, deltas, completed) = await CollectAsync(_engine, Request(maxTokens: 24));

        Assert.That(text, Is.Not.Empty);
        Assert.That(deltas, Is.GreaterThan(1), "the answer came in one piece, not streamed");
        Assert.That(completed.PromptTokens, Is.GreaterThan(5));
        Assert.That(completed.CompletionTokens, Is.EqualTo(24));
        Assert.That(completed.FinishReason, Is.EqualTo("length"));
        Assert.That((await _engine.CheckHealthAsync(CancellationToken.None)).Ready, Is.True);
    }

    [Test]
    public async Task TheServersLoopbackPort_RefusesEveryoneWithoutTheKey()
    {
        using var http = new HttpClient();
        var completion = new
        {
            messages = new[] { new { role = "user", content = "Say something." } },
            max_tokens = 2,
        };

        using var anonymous = await http.PostAsJsonAsync(new Uri(_engine.BaseAddress!, "v1/chat/completions"), completion);
        using var guessed = new HttpRequestMessage(HttpMethod.Post, new Uri(_engine.BaseAddress!, "v1/chat/completions"))
        {
            Content = JsonContent.Create(completion),
        };
        guessed.Headers.Authorization = new("Bearer", "a-guess");
        using var withGuess = await http.SendAsync(guessed);
        using var slots = await http.GetAsync(new Uri(_engine.BaseAddress!, "slots"));

        Assert.That((int)anonymous.StatusCode, Is.EqualTo(401));
        Assert.That((int)withGuess.StatusCode, Is.EqualTo(401));
        Assert.That((int)slots.StatusCode, Is.EqualTo(401));
        Assert.That(_engine.ApiKey, Has.Length.GreaterThanOrEqualTo(43), "a random key of 32 bytes");
        Assert.That(await SlotsAsync(), Is.Not.Empty, "with the key it answers");
    }

    [Test]
    public async Task AnAnswerToGoOnFrom_IsItsFirstPiece_ThenOnlyWhatLlamaServerWritesAfterIt()
    {
        const string Start = "Once upon a time, a small green lizard";
        var pieces = new List<InferenceDelta>();
        InferenceCompleted? completed = null;
        await foreach (var update in _engine.GenerateAsync(Request(maxTokens: 24) with { AnswerStart = Start }, CancellationToken.None))
        {
            if (update is InferenceDelta delta)
            {
                pieces.Add(delta);
            }
            else
            {
                completed = (InferenceCompleted)update;
            }
        }

        Assert.That(pieces[0], Is.EqualTo(new InferenceDelta(Start, 0)), "the start first, as none of the engine's tokens");
        var written = string.Concat(pieces.Skip(1).Select(p => p.Text));
        Assert.That(written, Is.Not.Empty);
        // The pinned llama-server sends the prefilled start back in front of what it writes: it is taken out, so the
        // answer holds it once.
        Assert.That(written, Does.Not.StartWith("Once upon"), "the start given back by llama-server was taken out");
        Assert.That(completed!.FinishReason, Is.EqualTo("length"));
        Assert.That(completed.CompletionTokens, Is.InRange(1, 24 - 5),
            "the 24 tokens asked for hold the start's (by llama-server's count, several): what it writes takes the rest");
    }

    [Test]
    public void ARequestWithTools_IsNotContinued_APrefilledAnswerCannotBecomeAToolCall()
    {
        var request = Request(maxTokens: 4) with
        {
            AnswerStart = "Once upon a time",
            Extras = new GenerationExtras(Tools: """[{"type":"function","function":{"name":"look","parameters":{"type":"object","properties":{}}}}]"""),
        };

        Assert.That(request.StartToContinue, Is.Null);
        Assert.That((request with { Extras = null }).StartToContinue, Is.EqualTo("Once upon a time"));
    }

    [Test]
    public async Task Generate_StopsAtMaxTokens()
    {
        var (_, deltas, completed) = await CollectAsync(_engine, Request(maxTokens: 3));

        Assert.That(completed.CompletionTokens, Is.EqualTo(3));
        Assert.That(deltas, Is.LessThanOrEqualTo(3));
    }

    [Test]
    public async Task ResponseFormatJsonObject_ConstrainsTheAnswerToJson()
    {
        // The test model writes gibberish; llama-server's grammar from response_format makes it JSON all the same.
        var (text, _, completed) = await CollectAsync(_engine, Request("Describe a lizard.", maxTokens: 48) with
        {
            Extras = new GenerationExtras(ResponseFormat: """{"type":"json_object"}"""),
        });

        Assert.That(text.TrimStart(), Does.StartWith("{"));
        if (completed.FinishReason == "stop")
        {
            Assert.DoesNotThrow(() => System.Text.Json.JsonDocument.Parse(text), text);
        }
    }

    [Test]
    public async Task StopSequences_EndTheAnswerBeforeThem()
    {
        // What the seeded model writes first, then the same request stopping at a piece of it.
        var (free, _, _) = await CollectAsync(_engine, Request("Tell me about lizards.", maxTokens: 24) with
        {
            Extras = new GenerationExtras(Seed: 11),
        });
        Assert.That(free.Trim().Length, Is.GreaterThanOrEqualTo(6), "the model's answer is too short to stop inside");
        var stop = free.Trim()[3..6];

        var (stopped, _, _) = await CollectAsync(_engine, Request("Tell me about lizards.", maxTokens: 24) with
        {
            Extras = new GenerationExtras(Stop: [stop], Seed: 11),
        });

        Assert.That(stopped, Does.Not.Contain(stop));
        Assert.That(stopped.Length, Is.LessThan(free.Length));
    }

    [Test]
    public async Task SecondTurnOfAConversation_ReusesThePromptCache()
    {
        var first = Request("Where do lizards live?", maxTokens: 8);
        var (answer, _, firstCompleted) = await CollectAsync(_engine, first);
        var second = first with
        {
            Turns =
            [
                .. first.Turns,
                new Application.Common.Models.ChatTurn(Domain.Messages.MessageRole.Assistant, answer),
                new Application.Common.Models.ChatTurn(Domain.Messages.MessageRole.User, "And what do they eat?"),
            ],
        };

        await CollectAsync(_engine, second);

        Assert.That(_engine.LastCachedPromptTokens, Is.GreaterThanOrEqualTo(firstCompleted.PromptTokens - 1),
            "the second turn did not reuse the first turn's prompt from llama-server's cache");
    }

    [Test]
    public async Task Cancel_MidStream_StopsGeneration_AndTheServerKeepsServing()
    {
        using var cancellation = new CancellationTokenSource();
        var seen = 0;

        Assert.CatchAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in _engine.GenerateAsync(Request(maxTokens: 900), cancellation.Token))
            {
                if (update is InferenceDelta && ++seen == 2)
                {
                    await cancellation.CancelAsync();
                }
            }
        });

        Assert.That(seen, Is.EqualTo(2));
        Assert.That(await WaitUntilIdleAsync(TimeSpan.FromSeconds(30)), Is.True, "a slot kept generating after the cancel");
        var (_, _, completed) = await CollectAsync(_engine, Request(maxTokens: 4));
        Assert.That(completed.CompletionTokens, Is.EqualTo(4));
    }

    [Test]
    public async Task TwoRequestsAtOnce_UseTwoSlots()
    {
        var both = await Task.WhenAll(
            CollectAsync(_engine, Request("first", maxTokens: 12)),
            CollectAsync(_engine, Request("second", maxTokens: 12)));

        Assert.That(both.Select(r => r.Completed.CompletionTokens), Is.EqualTo(new[] { 12, 12 }));
    }

    [Test]
    public async Task Timeout_FailsWithTheSettingName()
    {
        var engine = Engine(Options(("TimeoutSeconds", "0.3"), ("ContextSize", "4096"), ("ExtraArgs:0", "--ignore-eos")));
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine.WaitUntilReadyAsync(CancellationToken.None);

            var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request(maxTokens: 3000)));

            Assert.That(error!.Message, Does.Contain("Inference:TimeoutSeconds (0.3 s)"));
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    [Test]
    public async Task AModelWhoseTemplateWritesToolCalls_MakesTheHostSayItTakesTools()
    {
        // The generated model's own template knows no tools (the fixture's engine says none, above). A chat template that
        // renders the tools and an answer's calls is one llama-server reports as writing tool calls (/props).
        var template = Path.Combine(Path.GetTempPath(), $"meatlizard-tools-{Guid.NewGuid():N}.jinja");
        await File.WriteAllTextAsync(template, """
            {%- if tools %}<|im_start|>system
            Functions: {{ tools | tojson }}<|im_end|>
            {% endif -%}
            {%- for message in messages -%}
            <|im_start|>{{ message.role }}
            {% if message.tool_calls -%}
            {%- for call in message.tool_calls -%}
            <tool_call>{"name": "{{ call.function.name }}", "arguments": {{ call.function.arguments | tojson }}}</tool_call>
            {% endfor -%}
            {%- else -%}
            {{ message.content }}
            {% endif -%}
            <|im_end|>
            {% endfor -%}
            {%- if add_generation_prompt %}<|im_start|>assistant
            {% endif -%}
            """);
        var engine = Engine(Options(("ExtraArgs:0", "--chat-template-file"), ("ExtraArgs:1", template)));
        try
        {
            await engine.StartAsync(CancellationToken.None);
            var health = await HealthOnceAsync(engine, h => h.Ready, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));

            Assert.That((health.Ready, health.TakesTools), Is.EqualTo((true, true)));
            Assert.That((await _engine.CheckHealthAsync(CancellationToken.None)).TakesTools, Is.False,
                "the generated model's own template writes none");
        }
        finally
        {
            await engine.DisposeAsync();
            File.Delete(template);
        }
    }

    [Test]
    public async Task ServerThatCannotStart_ReportsWhyInHealth()
    {
        var engine = Engine(Options(("ExtraArgs:0", "--no-such-flag"), ("StartupTimeoutSeconds", "2")));
        try
        {
            await engine.StartAsync(CancellationToken.None);
            var health = await HealthOnceAsync(engine, h => h.Detail?.Contains("exited", StringComparison.Ordinal) == true,
                TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));

            Assert.That(health.Ready, Is.False);
            Assert.That(health.Loading, Is.False, "a server that keeps failing is not worth waiting for");
            Assert.That(health.Detail, Does.StartWith("llama-server exited with code"));
            var error = Assert.ThrowsAsync<InferenceFailedException>(() => CollectAsync(engine, Request()));
            Assert.That(error!.Message, Does.Contain("llama-server"));
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    [Test]
    public async Task History_IsCutToTheContextByLlamaServersOwnTokenCounts()
    {
        // Symbols take about one token per byte, three times what a bytes/3 estimate expects: fitted by estimate,
        // this history would overflow the 512-token context and llama-server would refuse it.
        var engine = Engine(Options(("ContextSize", "512"), ("MaxTokens", "16")));
        try
        {
            await engine.StartAsync(CancellationToken.None);
            await engine.WaitUntilReadyAsync(CancellationToken.None);
            var turns = Enumerable.Range(0, 12)
                .Select(i => new Application.Common.Models.ChatTurn(
                    i % 2 == 0 ? Domain.Messages.MessageRole.User : Domain.Messages.MessageRole.Assistant,
                    string.Concat(Enumerable.Repeat($"{i}#Zx!9@kP%2&vL*w4^", 6))))
                .ToList();

            var (text, _, completed) = await CollectAsync(engine, Request() with { Turns = turns, MaxTokens = 16 });

            Assert.That(text, Is.Not.Empty);
            Assert.That(completed.PromptTokens, Is.InRange(200, 512 - 16),
                "the newest turns that fit were kept, and no more than fit");
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    [Test]
    public async Task Completion_CarriesLlamaServersTimings()
    {
        var (_, _, completed) = await CollectAsync(_engine, Request(maxTokens: 16));

        Assert.That(completed.Timings, Is.Not.Null);
        Assert.That(completed.Timings!.PromptMs, Is.GreaterThan(0));
        Assert.That(completed.Timings.GenerationMs, Is.GreaterThan(0));
        Assert.That(completed.Timings.TokensPerSecond(completed.CompletionTokens), Is.GreaterThan(0));
    }

    [Test]
    public async Task WhileTheModelLoads_HealthSaysLoading_AndARequestMadeThenIsAnsweredOnceReady()
    {
        // The real llama-server, held back until the test opens the gate: a model that takes a while to load, as a
        // large one does, for as long as the test needs however slow the machine is.
        var (slow, gate) = await SlowStartingLlamaServerAsync();
        var engine = Engine(Options(("LlamaCppDir", slow)));
        try
        {
            await engine.StartAsync(CancellationToken.None);
            var health = await HealthOnceAsync(engine, h => h.Loading, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(20));

            Assert.That(health, Is.EqualTo(new EngineHealth(false, "llama-server is loading the model", Loading: true, Slots: 1)));
            var answering = CollectAsync(engine, Request(maxTokens: 4));
            await Task.Delay(200);
            Assert.That(answering.IsCompleted, Is.False, "the request waits for the model");

            await File.WriteAllTextAsync(gate, "");
            var (text, _, completed) = await answering;

            Assert.That(text, Is.Not.Empty, "the request made while loading waited for the model and was answered");
            Assert.That(completed.CompletionTokens, Is.GreaterThan(0));
            Assert.That(await engine.CheckHealthAsync(CancellationToken.None), Is.EqualTo(new EngineHealth(true, null, Slots: 1)),
                "ready; the generated model's template writes no tool calls (llama-server's /props), so no tools");
        }
        finally
        {
            await engine.DisposeAsync();
            Directory.Delete(slow, recursive: true);
        }
    }

    /// <summary>
    /// A directory whose llama-server waits until the returned gate file exists, then runs the real one (the script
    /// is named llama-server, so the process table lists it as llama.cpp too).
    /// </summary>
    internal static async Task<(string Directory, string Gate)> SlowStartingLlamaServerAsync()
    {
        var directory = Directory.CreateTempSubdirectory("meatlizard-slow-llama-").FullName;
        var gate = Path.Combine(directory, "open");
        var wrapper = Path.Combine(directory, "llama-server");
        await File.WriteAllTextAsync(wrapper,
            $"#!/bin/sh\nwhile [ ! -e '{gate}' ]; do sleep 0.05; done\nexec '{Path.Combine(LlamaDir, "llama-server")}' \"$@\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return (directory, gate);
    }

    private async Task<List<JsonElement>> SlotsAsync()
    {
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", _engine.ApiKey);
        var slots = await http.GetFromJsonAsync<JsonElement>(new Uri(_engine.BaseAddress!, "slots"));
        return slots.EnumerateArray().ToList();
    }

    /// <summary>The engine's health once <paramref name="until"/> holds, or its last health when <paramref name="within"/> ran out.</summary>
    private static async Task<EngineHealth> HealthOnceAsync(LlamaServerEngine engine, Func<EngineHealth, bool> until, TimeSpan within, TimeSpan every)
    {
        var deadline = DateTime.UtcNow + within;
        var health = await engine.CheckHealthAsync(CancellationToken.None);
        while (!until(health) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(every);
            health = await engine.CheckHealthAsync(CancellationToken.None);
        }

        return health;
    }

    private async Task<bool> WaitUntilIdleAsync(TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            if ((await SlotsAsync()).All(s => !s.GetProperty("is_processing").GetBoolean()))
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }
}
