using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MeatLizard.Api.Tests.Support;
using MeatLizard.Application.OpenAi.Commands;
using Microsoft.Extensions.DependencyInjection;

namespace MeatLizard.Api.Tests;

/// <summary>Streamed completions: their chunks, keep-alive comments, an engine lost mid-answer, a revoked key, a client that leaves.</summary>
public sealed partial class OpenAiApiTests
{
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
        Host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(50);

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
        Host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(60);
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
        Assert.That(Host.Engine.Requests.Where(r => r.Turns[^1].Content == "the Greek letters").Select(r => r.AnswerStart),
            Is.EqualTo(new[] { null, "alpha beta gamma delta" }),
            "asked again after the engine was lost: its next run went on from the four words written");
    }

    [Test]
    public async Task Stream_WhoseEngineDiedMidAnswer_GoesOnFromWhatItSent_WhenTheNextAttemptContinuesIt()
    {
        var (client, _) = await KeyClientAsync();
        // A model that would answer differently if asked again from the start: only going on from what was sent keeps
        // the stream one answer.
        var calls = 0;
        Host.Engine.Reply = r => r.AnswerStart is { } start
            ? start + " and then the sky turned green"
            : Interlocked.Increment(ref calls) == 1 ? "first words of one answer that never ends" : "a wholly different second answer";
        Host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(60);
        Host.Engine.LoseEngineAfterWords = 4;

        var events = await StreamAsync(client, new
        {
            model = "default",
            stream = true,
            messages = new[] { new { role = "user", content = "go on" } },
        });

        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.That(chunks.Any(c => c.TryGetProperty("error", out _)), Is.False, string.Join("\n", events));
        var streamed = StreamedText(chunks);
        Assert.That(streamed, Does.StartWith("first words").And.EndWith(" and then the sky turned green"));
        var second = Host.Engine.Requests.Last(r => r.Turns[^1].Content == "go on");
        Assert.That(second.AnswerStart, Is.Not.Empty.And.EqualTo(streamed[..^" and then the sky turned green".Length]),
            "asked to go on from exactly what the stream had sent");
        Assert.That(await StoredAnswerOfAsync(client, "go on"), Is.EqualTo(streamed), "the stored answer is the streamed one");
    }

    [Test]
    public async Task Stream_AnsweredDifferentlyAfterItsEngineDied_EndsWithAnError_NotAMixedAnswer()
    {
        var (client, _) = await KeyClientAsync();
        Host.Engine.Continues = false; // an engine that cannot go on from a given start answers from the beginning
        var calls = 0;
        Host.Engine.Reply = _ => Interlocked.Increment(ref calls) == 1
            ? "first words of one answer that never ends"
            : "a wholly different second answer";
        Host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(60);
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

    /// <summary>The stored answer of the client's chat titled <paramref name="title"/> (a completion's chat).</summary>
    private static async Task<string?> StoredAnswerOfAsync(ApiClient client, string title)
    {
        var chats = await ApiClient.ReadAsync(await client.GetAsync("api/v1/sessions"));
        var chat = chats.EnumerateArray().Single(c => c.GetProperty("title").GetString() == title);
        var page = await ApiClient.ReadAsync(await client.GetAsync($"api/v1/sessions/{chat.GetProperty("id").GetString()}/messages"));
        return page.GetProperty("messages").EnumerateArray()
            .Last(m => m.GetProperty("role").GetString() == "assistant").GetProperty("content").GetString();
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
        Host.Engine.DelayBetweenWords = TimeSpan.FromSeconds(2);

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
        host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(200);
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
    public async Task ClosingTheStream_CancelsTheGeneration()
    {
        var (client, _) = await KeyClientAsync();
        Host.Engine.DelayBetweenWords = TimeSpan.FromMilliseconds(200);
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
}
