using System.Text.Json;

namespace MeatLizard.Api.Tests.Support;

/// <summary>
/// What OpenAI's clients rely on in what <c>tests/OpenAiClient/client.mjs</c> observed, checked the same way in every
/// mode the API runs in: the words are the test model's gibberish, so only the shapes are judged.
/// </summary>
public static class OpenAiShapes
{
    /// <summary>The answer length client.mjs asks for unless a scenario says otherwise.</summary>
    public const int AskedMaxTokens = 16;

    /// <summary>The <c>complete</c> scenario: one whole answer of the model's, with usage and a finish reason.</summary>
    public static void AssertCompletion(JsonElement seen)
    {
        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(seen.GetProperty("object").GetString(), Is.EqualTo("chat.completion"));
            Assert.That(seen.GetProperty("id").GetString(), Does.StartWith("chatcmpl-"));
            Assert.That(seen.GetProperty("model").GetString(), Is.EqualTo("default"));
            Assert.That(seen.GetProperty("role").GetString(), Is.EqualTo("assistant"));
            Assert.That(seen.GetProperty("content").GetString(), Is.Not.Empty);
            AssertUsageAndFinish(seen.GetProperty("usage"), seen.GetProperty("finish").GetString());
        });
    }

    /// <summary>
    /// The <c>stream</c> scenario (every chunk, with include_usage): the role first, one id throughout, one finish
    /// reason, and a last chunk with the usage and no choices.
    /// </summary>
    public static void AssertStream(JsonElement seen)
    {
        Assert.That(seen.GetProperty("ok").GetBoolean(), Is.True, seen.ToString());
        var chunks = seen.GetProperty("chunks").EnumerateArray().ToList();
        Assert.That(chunks, Has.Count.GreaterThanOrEqualTo(4), "role, text, finish, usage");
        var (usageChunk, withChoice) = (chunks[^1], chunks[..^1]);
        Assert.Multiple(() =>
        {
            Assert.That(chunks.Select(c => c.GetProperty("object").GetString()), Is.All.EqualTo("chat.completion.chunk"));
            Assert.That(chunks.Select(c => c.GetProperty("id").GetString()).Distinct().Single(), Does.StartWith("chatcmpl-"));
            Assert.That(withChoice[0].GetProperty("role").GetString(), Is.EqualTo("assistant"), "the first chunk has the role");
            Assert.That(withChoice.Select(c => c.GetProperty("choices").GetInt32()), Is.All.EqualTo(1));
            Assert.That(withChoice.Select(c => c.GetProperty("usage").ValueKind), Is.All.EqualTo(JsonValueKind.Null),
                "only the last chunk carries the usage");
            Assert.That(withChoice.Count(c => c.GetProperty("finish").ValueKind != JsonValueKind.Null), Is.EqualTo(1),
                "one finish reason");
            Assert.That(string.Concat(withChoice.Select(c => c.GetProperty("content").GetString())), Is.Not.Empty);
            Assert.That(usageChunk.GetProperty("choices").GetInt32(), Is.Zero, "the usage chunk has no choices");
            AssertUsageAndFinish(usageChunk.GetProperty("usage"), withChoice[^1].GetProperty("finish").GetString());
        });
    }

    /// <summary>
    /// The <c>abort</c> scenario: the SDK read two pieces of a long answer and aborted before it ended. Returns the
    /// relay request's id (the completion's id is <c>chatcmpl-</c> and the request's id).
    /// </summary>
    public static Guid AssertAborted(JsonElement seen)
    {
        Assert.That(seen.GetProperty("pieces").GetInt32(), Is.GreaterThanOrEqualTo(2), seen.ToString());
        Assert.That(seen.GetProperty("aborted").GetBoolean(), Is.True);
        Assert.That(seen.GetProperty("finish").ValueKind, Is.EqualTo(JsonValueKind.Null), "closed before the answer ended");
        return Guid.ParseExact(seen.GetProperty("id").GetString()!["chatcmpl-".Length..], "N");
    }

    /// <summary>An aborted answer as the chat keeps it: the model's, as far as it got, without a finished answer's token counts.</summary>
    public static void AssertKeptAsFarAsItGot(JsonElement answer) => Assert.Multiple(() =>
    {
        Assert.That(answer.GetProperty("source").GetString(), Is.EqualTo("model"));
        Assert.That(answer.GetProperty("content").GetString(), Is.Not.Empty);
        Assert.That(answer.TryGetProperty("tokens", out var tokens) && tokens.ValueKind != JsonValueKind.Null,
            Is.False, "the answer was cancelled, not finished");
    });

    /// <summary>Usage that adds up, and a finish reason that agrees with it: length exactly when the asked length was used.</summary>
    public static void AssertUsageAndFinish(JsonElement usage, string? finish)
    {
        var prompt = usage.GetProperty("prompt_tokens").GetInt32();
        var completion = usage.GetProperty("completion_tokens").GetInt32();
        Assert.That(prompt, Is.GreaterThan(5));
        Assert.That(completion, Is.InRange(1, AskedMaxTokens));
        Assert.That(usage.GetProperty("total_tokens").GetInt32(), Is.EqualTo(prompt + completion));
        Assert.That(finish, Is.EqualTo(completion == AskedMaxTokens ? "length" : "stop"));
    }
}
