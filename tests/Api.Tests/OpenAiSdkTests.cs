using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Relay;
using MeatLizard.Infrastructure.Inference.LlamaCpp;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The official <c>openai</c> npm package, as an outside client, against <c>/v1</c> with the real llama.cpp engine (the
/// generated test model, so the words are gibberish: the shapes are what is checked). Each scenario is one run of
/// <c>tests/OpenAiClient/client.mjs</c> (<see cref="OpenAiSdkClient"/>), which prints what the SDK observed.
/// </summary>
[NonParallelizable]
public sealed class OpenAiSdkTests
{
    private ApiHost _host = null!;
    private string _key = null!;
    private ApiClient _owner = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _host = await new ApiHost(new Dictionary<string, string?>
        {
            ["Inference:Engine"] = "LlamaServer",
            ["Inference:LlamaCppDir"] = LlamaTestHost.Required("MEATLIZARD_LLAMA_DIR"),
            ["Inference:ModelPath"] = LlamaTestHost.Required("MEATLIZARD_TEST_MODEL"),
            ["Inference:ModelName"] = "lizard-test",
            // Room for an answer long enough that a cancelled one is told apart from a finished one (the abort test).
            ["Inference:ContextSize"] = "4096",
            ["Inference:MaxTokens"] = "32",
            ["Inference:Threads"] = "2",
            ["Relay:CompletionTimeout"] = "00:01:00",
        }, withEngine: false).StartAsync();
        (_owner, _key) = await SignUpWithKeyAsync(_host);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await LlamaTestHost.WorkerReadyAsync(_owner))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the llama-server worker did not report ready within 60 s");
            await Task.Delay(100);
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _owner.Dispose();
        await _host.DisposeAsync();
    }

    [Test]
    public async Task Models_ListTheDefaultAndTheHostsModel()
    {
        var seen = await RunAsync("models");

        Assert.That(seen.GetProperty("ids").EnumerateArray().Select(i => i.GetString()),
            Is.SupersetOf(new[] { "default", "lizard-test" }));
    }

    [Test]
    public async Task Model_IsRetrievedWithItsContextLengthAndCapabilities()
    {
        var seen = await RunAsync("model");

        Assert.Multiple(() =>
        {
            Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
            Assert.That(seen.GetProperty("object").GetString(), Is.EqualTo("model"));
            Assert.That(seen.GetProperty("context_length").GetInt32(), Is.EqualTo(4096), "the context llama-server runs it with");
            Assert.That(seen.GetProperty("capabilities").GetProperty("chat").GetBoolean(), Is.True);
        });
    }

    [Test]
    public async Task TextCompletion_Whole_AndStreamed_AsTheSdkReadsThem()
    {
        var whole = await RunAsync("text-complete");
        var streamed = await RunAsync("text-stream");

        Assert.Multiple(() =>
        {
            Assert.That(whole.GetProperty("ok").GetBoolean(), Is.True, whole.ToString());
            Assert.That(whole.GetProperty("object").GetString(), Is.EqualTo("text_completion"));
            Assert.That(whole.GetProperty("id").GetString(), Does.StartWith("cmpl-"));
            Assert.That(whole.GetProperty("text").GetString(), Is.Not.Empty);
            Assert.That(whole.GetProperty("finish").GetString(), Is.AnyOf("stop", "length"));
            Assert.That(whole.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), Is.InRange(1, 16));
            Assert.That(streamed.GetProperty("ok").GetBoolean(), Is.True, streamed.ToString());
            var chunks = streamed.GetProperty("chunks").EnumerateArray().ToList();
            Assert.That(chunks.Select(c => c.GetProperty("object").GetString()), Is.All.EqualTo("text_completion"));
            Assert.That(string.Concat(chunks.Where(c => c.GetProperty("choices").GetInt32() == 1)
                .Select(c => c.GetProperty("text").GetString())), Is.Not.Empty);
            Assert.That(chunks[^1].GetProperty("choices").GetInt32(), Is.Zero, "the usage chunk last");
            Assert.That(chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32(), Is.InRange(1, 16));
        });
    }

    [Test]
    public async Task Complete_AnswersWithUsageAndAFinishReason() => OpenAiShapes.AssertCompletion(await RunAsync("complete"));

    [Test]
    public async Task Stream_WithUsage_StartsWithTheRole_AndEndsWithAUsageChunkWithoutChoices() =>
        OpenAiShapes.AssertStream(await RunAsync("stream"));

    [Test]
    public async Task StreamHelper_BuildsTheWholeCompletion()
    {
        var seen = await RunAsync("stream-helper");

        Assert.Multiple(() =>
        {
            Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
            Assert.That(seen.GetProperty("role").GetString(), Is.EqualTo("assistant"));
            Assert.That(seen.GetProperty("content").GetString(), Is.Not.Empty);
            OpenAiShapes.AssertUsageAndFinish(seen.GetProperty("usage"), seen.GetProperty("finish").GetString());
        });
    }

    [Test]
    public async Task Stop_EndsTheAnswerBeforeTheStopSequence()
    {
        var seen = await RunAsync("stop");

        Assert.That(seen.TryGetProperty("tooShort", out _), Is.False, "the free answer was too short to stop inside");
        var stop = seen.GetProperty("stop").GetString()!;
        var stopped = seen.GetProperty("stopped").GetString()!;
        Assert.Multiple(() =>
        {
            Assert.That(stopped, Does.Not.Contain(stop));
            Assert.That(stopped, Has.Length.LessThan(seen.GetProperty("free").GetString()!.Length));
            Assert.That(seen.GetProperty("finish").GetString(), Is.EqualTo("stop"));
        });
    }

    [Test]
    public async Task MaxTokens_FinishesWithLength()
    {
        var seen = await RunAsync("length");

        Assert.That(seen.GetProperty("finish").GetString(), Is.EqualTo("length"));
        Assert.That(seen.GetProperty("completionTokens").GetInt32(), Is.EqualTo(3));
    }

    /// <summary>
    /// The test model ends a JSON string of its own accord about once in ten answers of 256 tokens, so an answer cut at
    /// max_tokens cannot be demanded to parse (OpenAI's is cut there too): all of it is JSON as far as it goes, and
    /// an answer that ended of its own accord parses.
    /// </summary>
    [Test]
    public async Task ResponseFormatJsonObject_GivesJson()
    {
        var seen = await RunAsync("json");

        var content = seen.GetProperty("content").GetString()!;
        Assert.That(content, Does.StartWith("{"));
        if (seen.GetProperty("finish").GetString() == "stop")
        {
            Assert.That(seen.GetProperty("parses").GetBoolean(), Is.True, content);
        }
        else
        {
            Assert.That(seen.GetProperty("shape").GetString(), Is.AnyOf("cut", "complete"), content);
        }
    }

    [Test]
    public async Task ResponseFormatJsonSchema_GivesAnAnswerValidUnderTheSchema()
    {
        var seen = await RunAsync("schema");

        var content = seen.GetProperty("content").GetString()!;
        Assert.That(seen.GetProperty("finish").GetString(), Is.EqualTo("stop"), content);
        using var answer = JsonDocument.Parse(content);
        var lizard = answer.RootElement;
        Assert.That(lizard.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "name", "legs", "colour" }), content);
        // maxLength counts characters — Unicode code points, as JSON Schema and the grammar's `char` do — not .NET's
        // UTF-16 units: the test model may write a letter beyond the BMP, two units here (CI once read 11 for 8 or fewer).
        Assert.That(lizard.GetProperty("name").GetString()!.EnumerateRunes().Count(), Is.InRange(1, 8), content);
        Assert.That(lizard.GetProperty("legs").TryGetInt64(out _), Is.True, content);
        Assert.That(lizard.GetProperty("colour").GetString(), Is.AnyOf("green", "brown", "grey"));
    }

    [Test]
    public async Task WrongKey_RaisesAuthenticationError()
    {
        var seen = await RunAsync("complete", key: "ml_this-key-does-not-exist");

        Assert.That(seen.GetProperty("error").GetString(), Is.EqualTo("AuthenticationError"));
        Assert.That(seen.GetProperty("status").GetInt32(), Is.EqualTo(401));
        Assert.That(seen.GetProperty("code").GetString(), Is.EqualTo("invalid_api_key"));
    }

    [Test]
    public async Task TwoChoices_RaiseBadRequestErrorNamingN()
    {
        var seen = await RunAsync("n2");

        Assert.That(seen.GetProperty("error").GetString(), Is.EqualTo("BadRequestError"));
        Assert.That(seen.GetProperty("status").GetInt32(), Is.EqualTo(400));
        Assert.That(seen.GetProperty("param").GetString(), Is.EqualTo("n"));
    }

    [Test]
    public async Task AnUnknownModel_RaisesNotFoundErrorNamingTheModel()
    {
        var seen = await RunAsync("unknown-model");

        Assert.That(seen.GetProperty("error").GetString(), Is.EqualTo("NotFoundError"));
        Assert.That(seen.GetProperty("status").GetInt32(), Is.EqualTo(404));
        Assert.That(seen.GetProperty("param").GetString(), Is.EqualTo("model"));
        Assert.That(seen.GetProperty("code").GetString(), Is.EqualTo("model_not_found"));
    }

    /// <summary>
    /// The client aborts after two pieces of an answer of up to 4,000 tokens: the relay request is cancelled (not
    /// completed), llama-server's slot goes idle at once, and the answer is kept as far as it got, without the token
    /// counts a finished answer has.
    /// </summary>
    [Test]
    public async Task AbortingAStream_CancelsTheGeneration_AndKeepsWhatWasSaid()
    {
        var seen = await RunAsync("abort");

        var requestId = OpenAiShapes.AssertAborted(seen);

        var request = await Polled.UntilAsync(() => RelayRequestAsync(requestId), r => r.IsFinished,
            "the aborted request did not end");
        Assert.That(request.Status, Is.EqualTo(RelayRequestStatus.Cancelled));
        // The whole answer takes llama-server ~16 s on a 2-core machine; a cancelled one ends at once.
        await Polled.UntilAsync(LlamaServerBusyAsync, busy => !busy, "llama-server kept generating",
            within: TimeSpan.FromSeconds(3));

        var answer = await Polled.UntilAsync(() => AnswerAsync(request.ChatId.Value, requestId), a => a is not null,
            "the aborted answer was not stored");
        OpenAiShapes.AssertKeptAsFarAsItGot(answer!.Value);
    }

    [Test]
    public async Task StoreFalse_AnswersAndLeavesNoChat()
    {
        var before = await ChatCountAsync(_owner);

        var seen = await RunAsync("nostore");

        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
        Assert.That(seen.GetProperty("content").GetString(), Is.Not.Empty);
        await Polled.UntilAsync(() => ChatCountAsync(_owner), count => count == before, "the store:false chat was kept");
    }

    [Test]
    public async Task AGrowingHistory_LandsInOneChat()
    {
        var before = await ChatCountAsync(_owner);

        var seen = await RunAsync("history");

        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
        Assert.That(await ChatCountAsync(_owner), Is.EqualTo(before + 1));
        var chats = await ApiClient.ReadAsync(await _owner.GetAsync("api/v1/sessions"));
        var messages = (await ApiClient.ReadAsync(
            await _owner.GetAsync($"api/v1/sessions/{chats[0].GetProperty("id").GetGuid()}/messages"))).GetProperty("messages");
        Assert.That(messages.EnumerateArray().Select(m => (m.GetProperty("role").GetString(), m.GetProperty("content").GetString())),
            Is.EqualTo(new[]
            {
                ("user", seen.GetProperty("question").GetString()),
                ("assistant", seen.GetProperty("first").GetString()),
                ("user", seen.GetProperty("next").GetString()),
                ("assistant", seen.GetProperty("second").GetString()),
            }));
    }

    [Test]
    public async Task OverTheRateLimit_RaisesRateLimitError_AfterTheSdksOwnRetry()
    {
        // A host of its own with a limit of one answer a second (burst 1) and the scripted engine.
        await using var host = await new ApiHost(new Dictionary<string, string?>
        {
            ["RateLimits:PerUserPerMinute"] = "60",
            ["RateLimits:UserBurst"] = "1",
        }).StartAsync();
        var (owner, key) = await SignUpWithKeyAsync(host);
        owner.Dispose();

        var seen = await OpenAiSdkClient.RunAsync("ratelimit", host.BaseAddress, key, maxRetries: 1);

        Assert.Multiple(() =>
        {
            Assert.That(seen.GetProperty("error").GetString(), Is.EqualTo("RateLimitError"), seen.ToString());
            Assert.That(seen.GetProperty("status").GetInt32(), Is.EqualTo(429));
            Assert.That(seen.GetProperty("code").GetString(), Is.EqualTo("rate_limit_exceeded"));
            Assert.That(seen.GetProperty("requests").GetInt32(), Is.GreaterThanOrEqualTo(4),
                "three calls, and the SDK sent the refused ones again before giving up");
        });
    }

    private Task<JsonElement> RunAsync(string scenario, string? key = null) =>
        OpenAiSdkClient.RunAsync(scenario, _host.BaseAddress, key ?? _key);

    private async Task<RelayRequest> RelayRequestAsync(Guid requestId)
    {
        using var scope = _host.Services.CreateScope();
        var request = await scope.ServiceProvider.GetRequiredService<IRelayRequestRepository>()
            .GetAsync(new RelayRequestId(requestId), CancellationToken.None);
        return request ?? throw new AssertionException($"relay request {requestId} is not stored");
    }

    /// <summary>Whether any of llama-server's slots is generating (its /slots monitoring endpoint, on by default).</summary>
    private async Task<bool> LlamaServerBusyAsync()
    {
        var engine = _host.Services.GetRequiredService<LlamaServerEngine>();
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", engine.ApiKey);
        var slots = JsonDocument.Parse(await http.GetStringAsync(new Uri(engine.BaseAddress!, "slots"))).RootElement;
        return slots.EnumerateArray().Any(slot => slot.GetProperty("is_processing").GetBoolean());
    }

    private async Task<JsonElement?> AnswerAsync(Guid chatId, Guid requestId)
    {
        var messages = (await ApiClient.ReadAsync(await _owner.GetAsync($"api/v1/sessions/{chatId}/messages")))
            .GetProperty("messages");
        return messages.EnumerateArray().Cast<JsonElement?>().FirstOrDefault(m =>
            m!.Value.GetProperty("role").GetString() == "assistant"
            && m.Value.TryGetProperty("requestId", out var id) && id.GetGuid() == requestId);
    }

    private static async Task<(ApiClient Owner, string Key)> SignUpWithKeyAsync(ApiHost host)
    {
        var owner = host.NewClient();
        await owner.SignUpAsync();
        var created = await owner.PostAsync("api/v1/auth/api-keys", new { name = "openai sdk" });
        return (owner, (await ApiClient.ReadAsync(created)).GetProperty("key").GetString()!);
    }

    private static async Task<int> ChatCountAsync(ApiClient owner) =>
        (await ApiClient.ReadAsync(await owner.GetAsync("api/v1/sessions"))).GetArrayLength();
}
