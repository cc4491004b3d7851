using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.OpenAi.Commands;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The OpenAI-compatible API (<c>/v1</c>) over HTTP with the scripted engine as the model host, on both databases: the
/// objects and errors as OpenAI documents them, and the chats the completions are stored in.
/// </summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class OpenAiApiTests(string storage) : ApiHostFixture(storage)
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Api:OpenAi:KeepAliveInterval"] = "00:00:00.200",
        // The embedded default, not the test hosts' 20 ms: how streams are cut is part of what is judged here.
        ["Relay:PartialInterval"] = null,
    };

    [SetUp]
    public void ResetEngine()
    {
        Host.Engine.DelayBetweenTokens = TimeSpan.Zero;
        Host.Engine.FailWith = null;
        Host.Engine.Hang = false;
        Host.Engine.Reply = r => $"You said: {r.Turns[^1].Content}";
        Host.Engine.FinishReason = null;
        Host.Engine.LoseEngineAfterWords = null;
    }

    [Test]
    public async Task Models_ListsTheDefaultModel_AndAnUnknownOneIs404InOpenAisShape()
    {
        var (client, _) = await KeyClientAsync();

        var list = await ApiClient.ReadAsync(await client.GetAsync("v1/models"));
        Assert.That(list.GetProperty("object").GetString(), Is.EqualTo("list"));
        Assert.That(list.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()),
            Does.Contain("default"));
        Assert.That(list.GetProperty("data")[0].GetProperty("object").GetString(), Is.EqualTo("model"));

        var one = await client.GetAsync("v1/models/default");
        Assert.That(one.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var missing = await client.GetAsync("v1/models/gpt-4o");
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        var error = (await ApiClient.ReadAsync(missing)).GetProperty("error");
        Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("model_not_found"));
        Assert.That(error.GetProperty("param").GetString(), Is.EqualTo("model"));
    }

    [Test]
    public async Task Completion_AnswersAsChatCompletion_WithUsage_AndIsStoredAsAChat()
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.PostAsync("v1/chat/completions", new
        {
            model = "default",
            messages = new object[]
            {
                new { role = "system", content = "You are terse." },
                new { role = "user", content = new object[] { new { type = "text", text = "hello " }, new { type = "text", text = "there" } } },
            },
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var completion = await ApiClient.ReadAsync(response);
        Assert.That(completion.GetProperty("object").GetString(), Is.EqualTo("chat.completion"));
        Assert.That(completion.GetProperty("id").GetString(), Does.StartWith("chatcmpl-"));
        Assert.That(completion.GetProperty("model").GetString(), Is.EqualTo("default"));
        var choice = completion.GetProperty("choices")[0];
        Assert.That(choice.GetProperty("message").GetProperty("role").GetString(), Is.EqualTo("assistant"));
        Assert.That(choice.GetProperty("message").GetProperty("content").GetString(), Is.EqualTo("You said: hello there"));
        Assert.That(choice.GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
        var usage = completion.GetProperty("usage");
        Assert.That(usage.GetProperty("completion_tokens").GetInt32(), Is.EqualTo(4));
        Assert.That(usage.GetProperty("total_tokens").GetInt32(),
            Is.EqualTo(usage.GetProperty("prompt_tokens").GetInt32() + 4));
        Assert.That(Host.Engine.Requests[^1].SystemPrompt, Is.EqualTo("You are terse."));

        var chats = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(chats.GetArrayLength(), Is.EqualTo(1));
        Assert.That(chats[0].GetProperty("title").GetString(), Is.EqualTo("hello there"));
        Assert.That(chats[0].GetProperty("model").GetString(), Is.EqualTo("default"));
    }

    [Test]
    public async Task Stream_SendsRoleFirst_ThenTheText_TheFinish_TheUsageWithNoChoices_AndDone()
    {
        var (client, _) = await KeyClientAsync();

        var events = await StreamAsync(client, new
        {
            model = "default",
            stream = true,
            stream_options = new { include_usage = true },
            messages = new[] { new { role = "user", content = "one two three" } },
        });

        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.That(chunks.All(c => c.GetProperty("object").GetString() == "chat.completion.chunk"));
        Assert.That(chunks.Select(c => c.GetProperty("id").GetString()).Distinct().Count(), Is.EqualTo(1));
        Assert.That(chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString(),
            Is.EqualTo("assistant"));
        var text = string.Concat(chunks.Where(c => c.GetProperty("choices").GetArrayLength() == 1)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Select(d => d.TryGetProperty("content", out var content) ? content.GetString() : ""));
        Assert.That(text, Is.EqualTo("You said: one two three"));
        var last = chunks[^2].GetProperty("choices")[0];
        Assert.That(last.GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
        Assert.That(chunks[^1].GetProperty("choices").GetArrayLength(), Is.Zero);
        Assert.That(chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32(), Is.EqualTo(5));
        Assert.That(chunks[..^2].Skip(1).All(c =>
            c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind == JsonValueKind.Null));
    }

    [Test]
    public async Task Stream_Embedded_ArrivesInSmallPieces_NotOncePerSecond()
    {
        var (client, _) = await KeyClientAsync();
        Host.Engine.Reply = _ => string.Join(' ', Enumerable.Range(1, 24).Select(i => $"w{i}"));
        Host.Engine.DelayBetweenTokens = TimeSpan.FromMilliseconds(50);

        var events = await StreamAsync(client, new
        {
            model = "default",
            stream = true,
            messages = new[] { new { role = "user", content = "count" } },
        });

        // 24 words over about 1.2 s: with pieces every 100 ms, about a dozen; once a second would be two or three.
        var pieces = events[..^1].Select(e => JsonDocument.Parse(e).RootElement)
            .Count(c => c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var t)
                        && t.GetString() is { Length: > 0 });
        Assert.That(pieces, Is.GreaterThanOrEqualTo(6));
    }

    [Test]
    public async Task Stream_WhoseEngineDiedMidAnswer_IsAnsweredAgain_AndTheClientGetsTheAnswerOnce()
    {
        var (client, _) = await KeyClientAsync();
        const string Answer = "alpha beta gamma delta epsilon zeta eta theta";
        Host.Engine.Reply = _ => Answer;
        Host.Engine.DelayBetweenTokens = TimeSpan.FromMilliseconds(60);
        Host.Engine.LoseEngineAfterWords = 4;

        var events = await StreamAsync(client, new
        {
            model = "default",
            stream = true,
            messages = new[] { new { role = "user", content = "the Greek letters" } },
        });

        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.That(chunks.Any(c => c.TryGetProperty("error", out _)), Is.False, string.Join("\n", events));
        Assert.That(StreamedText(chunks), Is.EqualTo(Answer), "what was sent before the engine died is not sent again");
        Assert.That(Host.Engine.Requests.Count(r => r.Turns[^1].Content == "the Greek letters"), Is.EqualTo(2),
            "asked again after the engine was lost");
    }

    [Test]
    public async Task Stream_AnsweredDifferentlyAfterItsEngineDied_EndsWithAnError_NotAMixedAnswer()
    {
        var (client, _) = await KeyClientAsync();
        var calls = 0;
        Host.Engine.Reply = _ => Interlocked.Increment(ref calls) == 1
            ? "first words of one answer that never ends"
            : "a wholly different second answer";
        Host.Engine.DelayBetweenTokens = TimeSpan.FromMilliseconds(60);
        Host.Engine.LoseEngineAfterWords = 4;

        var events = await StreamAsync(client, new
        {
            model = "default",
            stream = true,
            messages = new[] { new { role = "user", content = "two minds" } },
        });

        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.That(chunks[^1].GetProperty("error").GetProperty("message").GetString(), Does.Contain("ask again"));
        Assert.That("first words of one answer", Does.StartWith(StreamedText(chunks[..^1])).And.Not.Empty,
            "only the first answer's start was sent");
    }

    private static string StreamedText(IEnumerable<JsonElement> chunks) =>
        string.Concat(chunks.Where(c => c.TryGetProperty("choices", out var choices) && choices.GetArrayLength() == 1)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Select(d => d.TryGetProperty("content", out var content) ? content.GetString() : ""));

    [Test]
    public async Task AStreamWaitingForItsFirstWord_SendsCommentsSoProxiesKeepItOpen()
    {
        var (client, _) = await KeyClientAsync();
        // 2 s before each word at a 200 ms keep-alive: at least two comments even when timers run late under load (a CI
        // run with 700 ms saw one comment only: the 200 ms timers of a busy 2-core machine fired late).
        Host.Engine.DelayBetweenTokens = TimeSpan.FromSeconds(2);

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = JsonContent(new { model = "default", stream = true, messages = new[] { new { role = "user", content = "slow" } } }),
        };
        using var response = await client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var lines = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            lines.Add(line);
        }

        var firstText = lines.FindIndex(l => l.Contains("\"delta\":{\"content\":\"You", StringComparison.Ordinal));
        Assert.That(lines.Take(firstText).Count(l => l.StartsWith(':')), Is.GreaterThanOrEqualTo(2),
            "SSE comments while the first word was on its way");
        Assert.That(lines[^2], Is.EqualTo("data: [DONE]"));
    }

    [Test]
    public async Task AStream_EndsWithinSeconds_OfItsKeyBeingRevoked_AndItsGenerationStops()
    {
        await using var host = await new ApiHost(storage: Storage).StartAsync();
        host.Engine.Reply = _ => string.Join(' ', Enumerable.Repeat("word", 200));
        host.Engine.DelayBetweenTokens = TimeSpan.FromMilliseconds(200);
        using var owner = host.NewClient();
        await owner.SignUpAsync();
        var created = await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "sdk" }));
        using var client = host.NewClient();
        client.Http.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Bearer", created.GetProperty("key").GetString()!);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = JsonContent(new { model = "default", stream = true, messages = new[] { new { role = "user", content = "long" } } }),
        };
        using var response = await client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var lines = new List<string>();
        while (await reader.ReadLineAsync() is { } line && !line.Contains("\"content\":\"word", StringComparison.Ordinal))
        {
            lines.Add(line);
        }

        (await owner.DeleteAsync($"api/v1/auth/api-keys/{created.GetProperty("id").GetGuid()}")).EnsureSuccessStatusCode();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (await reader.ReadLineAsync(patience.Token) is { } line)
        {
            lines.Add(line);
        }

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "ended within seconds, not at the answer's end (40 s)");
        Assert.That(lines.Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => l[6..]),
            Has.Some.Contains("invalid_api_key"), "the stream says why it ends");
        Assert.That(lines.Where(l => l.Length > 0).Last(), Is.EqualTo("data: [DONE]"));
        await ChatApiTests.PollAsync(() => host.Engine.Cancellations > 0, "the model host did not stop generating it");
    }

    [Test]
    public async Task GrowingHistory_LandsInOneChat()
    {
        var (client, _) = await KeyClientAsync();
        var first = await CompleteAsync(client, [new { role = "user", content = "first question" }]);
        var answer = first.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;

        var second = await CompleteAsync(client,
        [
            new { role = "user", content = "first question" },
            new { role = "assistant", content = answer },
            new { role = "user", content = "second question" },
        ]);

        Assert.That(second.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(),
            Is.EqualTo("You said: second question"));
        var chats = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(chats.GetArrayLength(), Is.EqualTo(1));
        var messages = await ApiClient.ReadAsync(
            await client.GetAsync($"api/v1/sessions/{chats[0].GetProperty("id").GetGuid()}/messages"));
        Assert.That(messages.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()),
            Is.EqualTo(new[] { "first question", answer, "second question", "You said: second question" }));
        Assert.That(Host.Engine.Requests[^1].Turns.Select(t => t.Content),
            Is.EqualTo(new[] { "first question", answer, "second question" }));
    }

    [Test]
    public async Task HistoryFromElsewhere_StartsAChatHoldingIt()
    {
        var (client, _) = await KeyClientAsync();

        await CompleteAsync(client,
        [
            new { role = "developer", content = "Be brief." },
            new { role = "user", content = "earlier question" },
            new { role = "assistant", content = "an answer from another model" },
            new { role = "user", content = "now this" },
        ]);

        var chats = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(chats.GetArrayLength(), Is.EqualTo(1));
        Assert.That(chats[0].GetProperty("systemPrompt").GetString(), Is.EqualTo("Be brief."));
        var messages = await ApiClient.ReadAsync(
            await client.GetAsync($"api/v1/sessions/{chats[0].GetProperty("id").GetGuid()}/messages"));
        Assert.That(messages.GetProperty("messages").GetArrayLength(), Is.EqualTo(4));
        Assert.That(Host.Engine.Requests[^1].Turns.Select(t => t.Content),
            Is.EqualTo(new[] { "earlier question", "an answer from another model", "now this" }));
    }

    [Test]
    public async Task StoreFalse_KeepsNoChat()
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.PostAsync("v1/chat/completions", new
        {
            model = "default",
            store = false,
            messages = new[] { new { role = "user", content = "forget me" } },
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength() > 0)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the chat of a store:false completion was not deleted");
            await Task.Delay(50);
        }
    }

    [Test]
    public async Task GenerationParameters_ReachTheEngine()
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.PostAsync("v1/chat/completions", new
        {
            model = "default",
            messages = new[] { new { role = "user", content = "json please" } },
            stop = new[] { "END", "\n\n" },
            seed = 42,
            presence_penalty = 0.5,
            frequency_penalty = -0.25,
            temperature = 0.3,
            top_p = 0.9,
            max_completion_tokens = 77,
            response_format = new { type = "json_object" },
            n = 1,
            user = "someone",
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var asked = Host.Engine.Requests[^1];
        Assert.That(asked.Extras, Is.Not.Null);
        Assert.That(asked.Extras!.Stop, Is.EqualTo(new[] { "END", "\n\n" }));
        Assert.That(asked.Extras.Seed, Is.EqualTo(42));
        Assert.That(asked.Extras.PresencePenalty, Is.EqualTo(0.5));
        Assert.That(asked.Extras.FrequencyPenalty, Is.EqualTo(-0.25));
        Assert.That(JsonDocument.Parse(asked.Extras.ResponseFormat!).RootElement.GetProperty("type").GetString(),
            Is.EqualTo("json_object"));
        Assert.That(asked.Temperature, Is.EqualTo(0.3));
        Assert.That(asked.TopP, Is.EqualTo(0.9));
        Assert.That(asked.MaxTokens, Is.EqualTo(77));
    }

    [Test]
    public async Task AnAnswerThatUsesTheWholeLength_FinishesWithLength()
    {
        var (client, _) = await KeyClientAsync();

        var completion = await CompleteAsync(client, [new { role = "user", content = "a b c d e f" }], maxTokens: 3);

        // The scripted engine does not stop at the limit: it produces 7 tokens, over 3, and says so (finish "length").
        Assert.That(completion.GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("length"));
    }

    [Test]
    public async Task AnAnswerTheEngineEndedItself_FinishesWithStop_EvenAtExactlyTheLengthAsked()
    {
        var (client, _) = await KeyClientAsync();
        Host.Engine.Reply = _ => "one two three";
        Host.Engine.FinishReason = "stop"; // it ended by itself (end of text, or a stop sequence) on its third token

        var completion = await CompleteAsync(client, [new { role = "user", content = "count to three" }], maxTokens: 3);

        Assert.That(completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), Is.EqualTo(3));
        Assert.That(completion.GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("stop"),
            "the engine's own reason, not a guess from the token count");
    }

    [TestCase("""{"model":"default","messages":[{"role":"user","content":"x"}],"n":2}""", "n")]
    [TestCase("""{"model":"default","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]}""", "tools")]
    [TestCase("""{"model":"default","messages":[{"role":"user","content":"x"}],"logprobs":true}""", "logprobs")]
    [TestCase("""{"model":"default","messages":[{"role":"user","content":"x"}],"frobnicate":1}""", "frobnicate")]
    [TestCase("""{"model":"default","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}]}""", "messages[0].content")]
    [TestCase("""{"model":"default","messages":[{"role":"tool","content":"x"}]}""", "messages[0].role")]
    [TestCase("""{"model":"default","messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}]}""", "messages")]
    [TestCase("""{"model":"default","messages":[]}""", "messages")]
    [TestCase("""{"messages":[{"role":"user","content":"x"}]}""", "model")]
    [TestCase("""{"model":"default","messages":[{"role":"user","content":"x"}],"temperature":3}""", "temperature")]
    [TestCase("""{"model":"default","messages":[{"role":"user","content":"x"}],"max_tokens":0}""", "max_tokens")]
    [TestCase("""{"model":"default","messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]}""", "stop")]
    [TestCase("""{"model":"default","messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}}""", "response_format.type")]
    [TestCase("""{"model":"default","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}""", "stream_options")]
    [TestCase("""{"model":"default","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"string","pattern":"^a"}}}}""", "response_format.json_schema.schema")]
    public async Task Unsupported_Is400NamingTheParam_AndStoresNothing(string body, string param)
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.Http.PostAsync("v1/chat/completions",
            new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
        Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("invalid_request_error"));
        Assert.That(error.GetProperty("param").GetString(), Is.EqualTo(param));
        Assert.That(error.GetProperty("message").GetString(), Is.Not.Empty);
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task ASchemaThatWouldUnfoldExponentially_IsRefusedAt400_WithoutTheApiWorkingForIt()
    {
        // About 1.3 KB: before the bounds, each level's doubled type list doubled the grammar (about 195·2^20
        // characters here; at depth 23 the API ran out of memory).
        var (client, _) = await KeyClientAsync();
        var schema = """{"type":"string"}""";
        for (var i = 0; i < 20; i++)
        {
            schema = """{"type":["object","object"],"properties":{"a":""" + schema + ""","b":{"type":"number"}}}""";
        }

        var body = """{"model":"default","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"deep","schema":"""
                   + schema + "}}}";
        await client.Http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var response = await client.Http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        var elapsed = clock.Elapsed;
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
        Assert.That(error.GetProperty("param").GetString(), Is.EqualTo("response_format.json_schema.schema"));
        Assert.That(error.GetProperty("message").GetString(), Does.Contain("deeper than"));
        TestContext.Out.WriteLine($"refused in {elapsed.TotalMilliseconds:F1} ms, {allocated / 1024} KB allocated by the process meanwhile");
        // The whole process's allocations while the request ran (other work in the process included): the grammar it
        // used to build was hundreds of megabytes. Time is the benchmark's to measure; this bound only catches a return
        // of the blow-up.
        Assert.That(allocated, Is.LessThan(32L * 1024 * 1024), "the API's memory does not move");
        Assert.That(elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [TestCase("text/plain")]
    [TestCase("application/x-www-form-urlencoded")]
    [TestCase(null)]
    public async Task ABodyNotSentAsJson_Is415_AndStoresNothing(string? contentType)
    {
        var (client, _) = await KeyClientAsync();
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(
            """{"model":"default","messages":[{"role":"user","content":"x"}]}"""));
        if (contentType is not null)
        {
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        }

        var response = await client.Http.PostAsync("v1/chat/completions", content);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
        Assert.That(error.GetProperty("message").GetString(), Does.Contain("application/json"));
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task WrongKey_Is401InOpenAisShape()
    {
        using var client = Host.NewClient();
        client.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "ml_not-a-real-key");

        var response = await client.PostAsync("v1/chat/completions",
            new { model = "default", messages = new[] { new { role = "user", content = "x" } } });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
        Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("invalid_api_key"));
        Assert.That((await client.GetAsync("v1/models")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task UnknownModel_Is404_AndUnknownEndpoint_Is404InOpenAisShape()
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.PostAsync("v1/chat/completions",
            new { model = "gpt-4o", messages = new[] { new { role = "user", content = "x" } } });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await ApiClient.ReadAsync(response)).GetProperty("error").GetProperty("code").GetString(),
            Is.EqualTo("model_not_found"));

        var embeddings = await client.PostAsync("v1/embeddings", new { input = "x" });
        Assert.That(embeddings.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That((await ApiClient.ReadAsync(embeddings)).GetProperty("error").GetProperty("message").GetString(),
            Does.Contain("/v1/chat/completions"));
    }

    [Test]
    public async Task ClosingTheStream_CancelsTheGeneration()
    {
        var (client, _) = await KeyClientAsync();
        Host.Engine.DelayBetweenTokens = TimeSpan.FromMilliseconds(200);
        Host.Engine.Reply = _ => string.Join(' ', Enumerable.Repeat("word", 200));
        var cancelledBefore = Host.Engine.Cancellations;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = JsonContent(new { model = "default", stream = true, messages = new[] { new { role = "user", content = "long" } } }),
            };
            using var response = await client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using (var body = await response.Content.ReadAsStreamAsync())
            {
                using var reader = new StreamReader(body);
                var contentChunks = 0;
                while (contentChunks < 2 && await reader.ReadLineAsync() is { } line)
                {
                    if (line.Contains("\"delta\":{\"content\":\"", StringComparison.Ordinal))
                    {
                        contentChunks++;
                    }
                }
            }

            response.Dispose(); // the client goes away mid-answer
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (Host.Engine.Cancellations == cancelledBefore)
            {
                Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the engine was not told to stop");
                await Task.Delay(50);
            }
        }
        finally
        {
            Host.Engine.Reply = r => $"You said: {r.Turns[^1].Content}";
        }
    }

    [Test]
    public async Task NoModelHost_Is503WithRetryAfter_AndNothingPretendsToBeTheModel()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?> { ["Fallback:Mode"] = "Markov" },
            withEngine: false, storage: Storage).StartAsync();
        var (client, _) = await KeyClientAsync(host);

        var response = await client.PostAsync("v1/chat/completions",
            new { model = "default", messages = new[] { new { role = "user", content = "anyone there?" } } });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(response.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.Zero));
        var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
        Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("server_error"));
        Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("model_unavailable"));
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.Zero);

        // An expected state, not a fault: one warning line (no stack trace) however many calls meet it in a minute.
        for (var i = 0; i < 5; i++)
        {
            await client.PostAsync("v1/chat/completions",
                new { model = "default", messages = new[] { new { role = "user", content = "anyone there?" } } });
        }

        var logged = host.Logs.Entries.Where(e => e.Message.Contains("model host", StringComparison.OrdinalIgnoreCase)
                                                  || e.Exception is MeatLizard.Application.Common.Exceptions.ServiceUnavailableException).ToList();
        Assert.That(logged, Has.Count.EqualTo(1), string.Join(Environment.NewLine, logged));
        Assert.That(logged[0].Level, Is.EqualTo(Microsoft.Extensions.Logging.LogLevel.Warning));
        Assert.That(logged[0].Exception, Is.Null, "no stack trace");
        Assert.That(host.Logs.Entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error), Is.Empty,
            string.Join(Environment.NewLine, host.Logs.Entries));
    }

    [Test]
    public async Task OverTheRateLimit_Is429WithRetryAfter_AndLeavesNoChat()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["RateLimits:PerUserPerMinute"] = "1",
            ["RateLimits:UserBurst"] = "1",
        }, storage: Storage).StartAsync();
        var (client, _) = await KeyClientAsync(host);
        await CompleteAsync(client, [new { role = "user", content = "one" }]);

        var response = await client.PostAsync("v1/chat/completions",
            new { model = "default", messages = new[] { new { role = "user", content = "two" } } });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(response.Headers.RetryAfter?.Delta, Is.GreaterThan(TimeSpan.Zero));
        var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
        Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("rate_limit_error"));
        Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("rate_limit_exceeded"));
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.EqualTo(1),
            "the refused call left a chat behind");
    }

    [Test]
    public async Task OverTheRateLimit_AHistoryIsNeitherCompiledNorWritten_BeforeTheRefusal()
    {
        var counter = new CallCounter();
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["RateLimits:PerUserPerMinute"] = "1",
            ["RateLimits:UserBurst"] = "1",
        }, storage: Storage, services: services =>
        {
            CallCounter.Decorate<MeatLizard.Application.Abstractions.IChatSessionRepository>(services, counter);
            CallCounter.Decorate<MeatLizard.Application.Abstractions.IMessageRepository>(services, counter);
        }).StartAsync();
        var (client, _) = await KeyClientAsync(host);
        await CompleteAsync(client, [new { role = "user", content = "one" }]);
        counter.Reset();

        // A history to write and a schema the grammar refuses: before the fix the chat and its history were written
        // (and deleted again) and the schema compiled, and the caller was told 400, not 429.
        var history = Enumerable.Range(0, 40).Select(i => new { role = i % 2 == 0 ? "user" : "assistant", content = $"turn {i}" })
            .Append(new { role = "user", content = "and now?" }).ToArray();
        var response = await client.PostAsync("v1/chat/completions", new
        {
            model = "default",
            messages = history,
            response_format = new
            {
                type = "json_schema",
                json_schema = new { name = "s", schema = new { type = "string", pattern = "^a" } },
            },
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.Multiple(() =>
        {
            Assert.That(counter.Count(nameof(MeatLizard.Application.Abstractions.IChatSessionRepository.AddAsync)), Is.Zero,
                "no chat written");
            Assert.That(counter.Count(nameof(MeatLizard.Application.Abstractions.IMessageRepository.AddAsync)), Is.Zero,
                "no history written");
            Assert.That(counter.Count(nameof(MeatLizard.Application.Abstractions.IChatSessionRepository.DeleteAsync)), Is.Zero);
        });
    }

    [Test]
    public async Task ANewConversation_TakesAChatCreationToken_SharedWithTheWebApp_AndAContinuationDoesNot()
    {
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["RateLimits:ChatCreationPerUserPerMinute"] = "1",
            ["RateLimits:ChatCreationBurst"] = "1",
        }, storage: Storage).StartAsync();
        var (client, _) = await KeyClientAsync(host);
        var first = await CompleteAsync(client, [new { role = "user", content = "first question" }]);
        var answer = first.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;

        var another = await client.PostAsync("v1/chat/completions",
            new { model = "default", messages = new[] { new { role = "user", content = "another conversation" } } });
        var inTheWebApp = await client.PostAsync("api/v1/sessions", new { title = "by hand" });
        await CompleteAsync(client,
        [
            new { role = "user", content = "first question" },
            new { role = "assistant", content = answer },
            new { role = "user", content = "second question" },
        ]);

        await Assert.MultipleAsync(async () =>
        {
            Assert.That(another.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
            Assert.That((await ApiClient.ReadAsync(another)).GetProperty("error").GetProperty("code").GetString(),
                Is.EqualTo("rate_limit_exceeded"));
            Assert.That(inTheWebApp.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "one bucket for new chats");
            Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task AChatThatKeepsNothing_LeftByACrashBeforeItsQuestionWasQueued_IsDeletedByTheSweep_AStoredOneIsNot()
    {
        var stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await new ApiHost(storage: Storage, services: services =>
        {
            // The API stops dead between the chat's creation and its question being queued (as a kill -9 there would).
            var original = services.Last(d => d.ServiceType == typeof(MeatLizard.Application.Abstractions.IRelayRequestRepository));
            services.Add(new ServiceDescriptor(typeof(MeatLizard.Application.Abstractions.IRelayRequestRepository), provider =>
                StallingQueue.Wrap((MeatLizard.Application.Abstractions.IRelayRequestRepository)(original.ImplementationInstance
                    ?? original.ImplementationFactory?.Invoke(provider)
                    ?? ActivatorUtilities.CreateInstance(provider, original.ImplementationType!)), stall.Task), original.Lifetime));
        }).StartAsync();
        var (client, _) = await KeyClientAsync(host);
        object[] History(string topic) =>
        [
            new { role = "user", content = $"{topic}: the first question" },
            new { role = "assistant", content = "the first answer" },
            new { role = "user", content = "and then?" },
        ];

        var forgetful = client.PostAsync("v1/chat/completions", new { model = "default", messages = History("forget"), store = false });
        var kept = client.PostAsync("v1/chat/completions", new { model = "default", messages = History("keep"), store = true });
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength() < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var sweeper = host.Services.GetRequiredService<MeatLizard.Application.Sessions.ForgottenChatSweeper>();
        var now = await sweeper.SweepAsync(DateTimeOffset.UtcNow, CancellationToken.None);
        var later = await sweeper.SweepAsync(DateTimeOffset.UtcNow + MeatLizard.Application.Messages.NewChats.ForgetGrace + TimeSpan.FromMinutes(1),
            CancellationToken.None);
        var titles = (await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).EnumerateArray()
            .Select(c => c.GetProperty("title").GetString()).ToList();
        stall.SetResult();
        await Task.WhenAll(forgetful, kept);

        Assert.Multiple(() =>
        {
            Assert.That(now, Is.Zero, "not within its grace: its question may be on its way");
            Assert.That(later, Is.EqualTo(1));
            Assert.That(titles, Has.Count.EqualTo(1));
            Assert.That(titles[0], Does.StartWith("keep"), "the chat that keeps nothing went, the stored one stayed");
        });
    }

    /// <summary>Chat events whose subscriptions wait for <paramref name="gate"/>, cancellation or not.</summary>
    /// <summary>The relay queue of <c>inner</c>, whose queueing of a question waits for <c>gate</c>.</summary>
    public class StallingQueue : System.Reflection.DispatchProxy
    {
        private MeatLizard.Application.Abstractions.IRelayRequestRepository _inner = null!;
        private Task _gate = null!;

        public static MeatLizard.Application.Abstractions.IRelayRequestRepository Wrap(
            MeatLizard.Application.Abstractions.IRelayRequestRepository inner, Task gate)
        {
            var proxy = Create<MeatLizard.Application.Abstractions.IRelayRequestRepository, StallingQueue>();
            var stalling = (StallingQueue)(object)proxy;
            (stalling._inner, stalling._gate) = (inner, gate);
            return proxy;
        }

        protected override object? Invoke(System.Reflection.MethodInfo? targetMethod, object?[]? args) =>
            targetMethod!.Name == nameof(MeatLizard.Application.Abstractions.IRelayRequestRepository.TryQueueAsync)
                ? StallThenQueueAsync(targetMethod, args)
                : targetMethod.Invoke(_inner, args);

        private async Task<string?> StallThenQueueAsync(System.Reflection.MethodInfo method, object?[]? args)
        {
            await _gate;
            return await (Task<string?>)method.Invoke(_inner, args)!;
        }
    }

    private Task<(ApiClient Client, string Key)> KeyClientAsync() => KeyClientAsync(Host);

    /// <summary>A client with a fresh user's API key as its bearer credential, as the OpenAI SDKs send it.</summary>
    private static async Task<(ApiClient Client, string Key)> KeyClientAsync(ApiHost host)
    {
        using var owner = host.NewClient();
        await owner.SignUpAsync();
        var key = (await ApiClient.ReadAsync(await owner.PostAsync("api/v1/auth/api-keys", new { name = "sdk" })))
            .GetProperty("key").GetString()!;
        var client = host.NewClient();
        client.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return (client, key);
    }

    private static async Task<JsonElement> CompleteAsync(ApiClient client, object[] messages, int? maxTokens = null)
    {
        var response = await client.PostAsync("v1/chat/completions",
            new { model = "default", messages, max_tokens = maxTokens });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await ApiClient.ReadAsync(response);
    }

    /// <summary>The data of every event of a streamed completion, in order.</summary>
    private static async Task<List<string>> StreamAsync(ApiClient client, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = JsonContent(body) };
        using var response = await client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        var data = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data.Add(line["data: ".Length..]);
            }
        }

        return data;
    }

    private static StringContent JsonContent(object body) =>
        new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
}
