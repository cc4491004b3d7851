using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Presentation.Api.OpenAi;
using MeatLizard.Tests.Metrics;

namespace MeatLizard.Api.Tests;

/// <summary>
/// The answer cache (<c>Cache:Answers</c>) through <c>/v1</c> on both databases: a deterministic question asked again is
/// answered from the cache without asking the model host, stored as a chat like any answer and marked cached; any
/// other question is asked of the model every time; one user's answer is not another's; hits and misses are counted.
/// </summary>
[Parallelizable(ParallelScope.Self)]
[TestFixtureSource(typeof(StorageProvider), nameof(StorageProvider.Names))]
public sealed class AnswerCacheApiTests(string storage) : ApiHostFixture(storage)
{
    private const string Token = "test-metrics-token-answer-cache-0123";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Cache:Answers:Enabled"] = "true",
        ["Metrics:BearerToken"] = Token,
    };

    [SetUp]
    public void ResetEngine() => Host.Engine.Reply = r => $"You said: {r.Turns[^1].Content}";

    [Test]
    public async Task ASecondIdenticalTemperatureZeroCompletion_IsAnsweredFromTheCache_WithoutTheModel()
    {
        var client = await KeyClientAsync();
        var question = "Cache me " + Guid.NewGuid().ToString("N")[..8];
        var before = await ScrapeAsync();
        var asked = Host.Engine.Requests.Count;

        var (first, firstCache, _) = await CompleteAsync(client, question, temperature: 0);
        var askedAfterFirst = Host.Engine.Requests.Count;
        var (second, secondCache, elapsed) = await CompleteAsync(client, question, temperature: 0);
        var after = await ScrapeAsync();
        // Once more, warm (the first hit of a host pays for its code's first run and, with Redis, the script's load).
        var warm = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            warm.Add((await CompleteAsync(client, question, temperature: 0)).Elapsed.TotalMilliseconds);
        }

        TestContext.Progress.WriteLine(
            $"[{Storage}] cached /v1 completions answered in {elapsed.TotalMilliseconds:F1} ms (first hit), then " +
            $"{string.Join(", ", warm.Select(ms => ms.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))} ms " +
            "(HTTP round trip on loopback included)");

        Assert.Multiple(() =>
        {
            Assert.That(askedAfterFirst - asked, Is.EqualTo(1), "the first is asked of the model");
            Assert.That(Host.Engine.Requests.Count, Is.EqualTo(askedAfterFirst), "the second (and the warm ones) not");
            Assert.That(firstCache, Is.EqualTo("miss"));
            Assert.That(secondCache, Is.EqualTo("hit"));
            Assert.That(Content(second), Is.EqualTo(Content(first)).And.EqualTo($"You said: {question}"));
            Assert.That(second.GetProperty("usage").GetProperty("completion_tokens").GetInt32(),
                Is.EqualTo(first.GetProperty("usage").GetProperty("completion_tokens").GetInt32()));
            Assert.That(second.GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
            Assert.That(elapsed, Is.LessThan(TimeSpan.FromSeconds(2)), "answered at once, not after a model's turn");
            Assert.That(Moved(before, after, "meatlizard_answer_cache_lookups_total", ("result", "miss")), Is.EqualTo(1));
            Assert.That(Moved(before, after, "meatlizard_answer_cache_lookups_total", ("result", "hit")), Is.EqualTo(1));
            Assert.That(Moved(before, after, "meatlizard_messages_sent_total", ("kind", "send")), Is.EqualTo(2),
                "a cached answer is counted like any");
        });

        // Stored like any answer, each in a chat of its own, and marked as cached: all but the model's first.
        var chats = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        Assert.That(chats.GetArrayLength(), Is.EqualTo(2 + warm.Count));
        var answers = new List<JsonElement>();
        foreach (var chat in chats.EnumerateArray())
        {
            var page = await ApiClient.ReadAsync(
                await client.GetAsync($"api/v1/sessions/{chat.GetProperty("id").GetGuid()}/messages"));
            answers.Add(page.GetProperty("messages").EnumerateArray().Single(m => m.GetProperty("role").GetString() == "assistant"));
        }

        Assert.That(answers.Select(a => a.GetProperty("source").GetString()), Is.All.EqualTo("model"));
        Assert.That(answers.Count(a => a.TryGetProperty("cached", out var cached) && cached.GetBoolean()), Is.EqualTo(1 + warm.Count));
        Assert.That(answers.Select(a => a.GetProperty("content").GetString()), Is.All.EqualTo($"You said: {question}"));
    }

    [Test]
    public async Task ASeed_MakesAQuestionCacheable_AndAStreamedHitIsAStreamLikeAnyOther()
    {
        var client = await KeyClientAsync();
        var question = "Seeded " + Guid.NewGuid().ToString("N")[..8];
        await CompleteAsync(client, question, temperature: 0.8, seed: 42);
        var asked = Host.Engine.Requests.Count;

        using var response = await client.Http.PostAsync("v1/chat/completions", Json(new
        {
            model = "default", temperature = 0.8, seed = 42, stream = true,
            messages = new object[] { new { role = "user", content = question } },
        }));
        var text = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        Assert.That(response.Headers.GetValues(OpenAiEndpoints.AnswerCacheHeader).Single(), Is.EqualTo("hit"));
        Assert.That(Host.Engine.Requests.Count, Is.EqualTo(asked), "not asked of the model");
        var pieces = text.Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
            .Select(l => JsonDocument.Parse(l[6..]).RootElement)
            .Select(e => e.GetProperty("choices").EnumerateArray().Select(c =>
                c.GetProperty("delta").TryGetProperty("content", out var piece) ? piece.GetString() : null).FirstOrDefault())
            .Where(p => p is not null);
        Assert.That(string.Concat(pieces), Is.EqualTo($"You said: {question}"));
        Assert.That(text.TrimEnd(), Does.EndWith("data: [DONE]"));
    }

    [Test]
    public async Task ANonDeterministicQuestion_IsNeverCached()
    {
        var client = await KeyClientAsync();
        var question = "Sample me " + Guid.NewGuid().ToString("N")[..8];
        var asked = Host.Engine.Requests.Count;

        var (_, firstCache, _) = await CompleteAsync(client, question, temperature: 0.7);
        var (_, secondCache, _) = await CompleteAsync(client, question, temperature: 0.7);
        var (_, defaultCache, _) = await CompleteAsync(client, question, temperature: null);

        Assert.That(Host.Engine.Requests.Count - asked, Is.EqualTo(3), "every one asked of the model");
        Assert.That(new[] { firstCache, secondCache, defaultCache }, Is.All.Null, "the cache did not apply");
    }

    [Test]
    public async Task AnotherUsersSameQuestion_IsNotAnsweredFromTheFirstUsersCache()
    {
        var question = "Mine " + Guid.NewGuid().ToString("N")[..8];
        await CompleteAsync(await KeyClientAsync(), question, temperature: 0);
        var asked = Host.Engine.Requests.Count;

        var (_, cache, _) = await CompleteAsync(await KeyClientAsync(), question, temperature: 0);

        Assert.That(cache, Is.EqualTo("miss"), "answers are per user unless Cache:Answers:SharedAcrossUsers");
        Assert.That(Host.Engine.Requests.Count - asked, Is.EqualTo(1));
    }

    [Test]
    public async Task ADifferentConversationOrOption_IsADifferentQuestion()
    {
        var client = await KeyClientAsync();
        var question = "Vary " + Guid.NewGuid().ToString("N")[..8];
        await CompleteAsync(client, question, temperature: 0);
        var asked = Host.Engine.Requests.Count;

        var (_, longer, _) = await CompleteAsync(client, question, temperature: 0, maxTokens: 7);
        var (_, seeded, _) = await CompleteAsync(client, question, temperature: 0, seed: 1);

        Assert.That(new[] { longer, seeded }, Is.All.EqualTo("miss"));
        Assert.That(Host.Engine.Requests.Count - asked, Is.EqualTo(2));
    }

    private async Task<(JsonElement Completion, string? Cache, TimeSpan Elapsed)> CompleteAsync(ApiClient client,
        string question, double? temperature, long? seed = null, int? maxTokens = null)
    {
        var started = Stopwatch.StartNew();
        using var response = await client.Http.PostAsync("v1/chat/completions", Json(new
        {
            model = "default", temperature, seed, max_tokens = maxTokens,
            messages = new object[] { new { role = "user", content = question } },
        }));
        var elapsed = started.Elapsed;
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var cache = response.Headers.TryGetValues(OpenAiEndpoints.AnswerCacheHeader, out var values) ? values.Single() : null;
        return (await ApiClient.ReadAsync(response), cache, elapsed);
    }

    private static StringContent Json(object body) => new(
        JsonSerializer.Serialize(body, new JsonSerializerOptions
        {
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        }), System.Text.Encoding.UTF8, "application/json");

    private static string? Content(JsonElement completion) =>
        completion.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();

    private async Task<ApiClient> KeyClientAsync() => (await OpenAiApiTests.KeyClientAsync(Host)).Client;

    private async Task<PrometheusText> ScrapeAsync()
    {
        using var http = new HttpClient { BaseAddress = Host.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, "metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        var response = await http.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        return PrometheusText.Parse(await response.Content.ReadAsStringAsync());
    }

    private static double Moved(PrometheusText before, PrometheusText after, string sample, params (string, string)[] labels) =>
        after.Sum(sample, labels) - before.Sum(sample, labels);
}
