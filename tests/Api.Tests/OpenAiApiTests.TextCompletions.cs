using System.Net;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;

namespace MeatLizard.Api.Tests;

/// <summary>
/// OpenAI's legacy text completion (<c>POST /v1/completions</c>): the prompt asked as a chat's one question, answered as
/// <c>text_completion</c> objects, whole or streamed; what only a raw-text model could do is refused naming its
/// parameter. And the models' details (<c>context_length</c>, <c>capabilities</c>).
/// </summary>
public sealed partial class OpenAiApiTests
{
    [Test]
    public async Task TextCompletion_AnswersAsTextCompletion_WithOpenAisDefaultLength_AndIsStoredAsAChat()
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.PostAsync("v1/completions", new { model = "default", prompt = "Once upon a time", temperature = 0.2 });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var completion = await ApiClient.ReadAsync(response);
        var choice = completion.GetProperty("choices")[0];
        Assert.Multiple(() =>
        {
            Assert.That(completion.GetProperty("object").GetString(), Is.EqualTo("text_completion"));
            Assert.That(completion.GetProperty("id").GetString(), Does.StartWith("cmpl-"));
            Assert.That(completion.GetProperty("model").GetString(), Is.EqualTo("default"));
            Assert.That(choice.GetProperty("index").GetInt32(), Is.Zero);
            Assert.That(choice.GetProperty("text").GetString(), Is.EqualTo("You said: Once upon a time"));
            Assert.That(choice.GetProperty("logprobs").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(choice.GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
            Assert.That(choice.TryGetProperty("message", out _), Is.False);
            Assert.That(completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), Is.EqualTo(6), "a word each");
            Assert.That(Host.Engine.Requests[^1].MaxTokens, Is.EqualTo(16), "OpenAI's documented default for max_tokens");
            Assert.That(Host.Engine.Requests[^1].Temperature, Is.EqualTo(0.2));
            Assert.That(Host.Engine.Requests[^1].Turns.Select(t => t.Content), Is.EqualTo(new[] { "Once upon a time" }));
        });

        var chats = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(chats.GetArrayLength(), Is.EqualTo(1), "stored like any chat");
    }

    [Test]
    public async Task TextCompletion_Streamed_SendsTextChunks_WithoutARole_TheFinish_TheUsage_AndDone()
    {
        var (client, _) = await KeyClientAsync();

        var events = await StreamAsync(client, new
        {
            model = "default",
            prompt = new[] { "one two three" },
            max_tokens = 40,
            stream = true,
            stream_options = new { include_usage = true },
        }, "v1/completions");

        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        var withChoice = chunks.Where(c => c.GetProperty("choices").GetArrayLength() == 1).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(chunks.Select(c => c.GetProperty("object").GetString()), Is.All.EqualTo("text_completion"));
            Assert.That(chunks.Select(c => c.GetProperty("id").GetString()).Distinct().Single(), Does.StartWith("cmpl-"));
            Assert.That(string.Concat(withChoice.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())),
                Is.EqualTo("You said: one two three"));
            Assert.That(withChoice.Select(c => c.GetProperty("choices")[0].TryGetProperty("delta", out _)), Is.All.False);
            Assert.That(withChoice[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
            Assert.That(withChoice[..^1].Select(c => c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind),
                Is.All.EqualTo(JsonValueKind.Null));
            Assert.That(chunks[^1].GetProperty("choices").GetArrayLength(), Is.Zero);
            Assert.That(chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32(), Is.EqualTo(5));
            Assert.That(Host.Engine.Requests[^1].MaxTokens, Is.EqualTo(40));
        });
    }

    [TestCase("""{"model":"default"}""", "prompt")]
    [TestCase("""{"model":"default","prompt":""}""", "prompt")]
    [TestCase("""{"model":"default","prompt":[1,2,3]}""", "prompt")]
    [TestCase("""{"model":"default","prompt":["a","b"]}""", "prompt")]
    [TestCase("""{"model":"default","prompt":{"text":"x"}}""", "prompt")]
    [TestCase("""{"prompt":"x"}""", "model")]
    [TestCase("""{"model":"default","prompt":"x","echo":true}""", "echo")]
    [TestCase("""{"model":"default","prompt":"x","suffix":"end"}""", "suffix")]
    [TestCase("""{"model":"default","prompt":"x","logprobs":2}""", "logprobs")]
    [TestCase("""{"model":"default","prompt":"x","best_of":3}""", "best_of")]
    [TestCase("""{"model":"default","prompt":"x","n":2}""", "n")]
    [TestCase("""{"model":"default","prompt":"x","logit_bias":{"50256":-100}}""", "logit_bias")]
    [TestCase("""{"model":"default","prompt":"x","max_tokens":0}""", "max_tokens")]
    [TestCase("""{"model":"default","prompt":"x","messages":[]}""", "messages")]
    [TestCase("""{"model":"default","prompt":"x","stream_options":{"include_usage":true}}""", "stream_options")]
    public async Task TextCompletion_WhatItCannotHonour_Is400NamingTheParameter_AndStoresNothing(string body, string param)
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.Http.PostAsync("v1/completions",
            new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), await response.Content.ReadAsStringAsync());
        var error = (await ApiClient.ReadAsync(response)).GetProperty("error");
        Assert.That(error.GetProperty("param").GetString(), Is.EqualTo(param));
        Assert.That((await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"))).GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task TextCompletion_WhatAsksForNothing_IsTaken()
    {
        var (client, _) = await KeyClientAsync();

        var response = await client.PostAsync("v1/completions", new
        {
            model = "default", prompt = "x", echo = false, n = 1, best_of = 1, logit_bias = new { }, suffix = (string?)null,
            logprobs = (int?)null, user = "someone",
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Models_SayWhatTheHostsSayOfThem_ContextHostsAndCapabilities()
    {
        var (client, _) = await KeyClientAsync();

        var model = await ApiClient.ReadAsync(await client.GetAsync("v1/models/default"));
        var listed = (await ApiClient.ReadAsync(await client.GetAsync("v1/models"))).GetProperty("data")
            .EnumerateArray().Single(m => m.GetProperty("id").GetString() == "default");

        Assert.Multiple(() =>
        {
            Assert.That(model.GetProperty("default").GetBoolean(), Is.True);
            Assert.That(model.GetProperty("hosts").GetInt32(), Is.EqualTo(1), "the embedded host");
            Assert.That(model.TryGetProperty("context_length", out _), Is.True);
            var capabilities = model.GetProperty("capabilities");
            Assert.That(capabilities.GetProperty("chat").GetBoolean(), Is.True);
            Assert.That(capabilities.GetProperty("completion").GetBoolean(), Is.True);
            Assert.That(capabilities.GetProperty("vision").GetBoolean(), Is.False);
            Assert.That(capabilities.GetProperty("embeddings").GetBoolean(), Is.False);
            Assert.That(listed.GetRawText(), Is.EqualTo(model.GetRawText()), "the list and the model say the same");
        });
    }
}
