using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Application.Messages.Caching;

/// <summary>One turn of the conversation a cached answer answers: who said it, what, and the tool calls it made or answers.</summary>
public sealed record CacheTurn(MessageRole Role, string Content, IReadOnlyList<ToolCall>? ToolCalls = null, string? ToolCallId = null);

/// <summary>
/// Which questions the answer cache may answer, and the key of one: a hash of everything the model's answer depends on
/// — the model, the system prompt, the conversation, the sampling and the generation options — and of the asker unless
/// answers are shared across users. Anything left out of the key would give one question's answer to another.
/// </summary>
public static class AnswerCacheKeys
{
    /// <summary>
    /// Only a deterministic question is answered from the cache: temperature 0, or a seed given. Any other is sampled
    /// afresh each time it is asked, as the asker expects.
    /// </summary>
    public static bool IsDeterministic(SamplingParameters sampling, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        ArgumentNullException.ThrowIfNull(options);
        return sampling.Temperature == 0 || options.Seed is not null;
    }

    /// <summary>The key (64 hex digits): a SHA-256 of the whole question written out in one fixed order.</summary>
    public static string Of(string model, SystemPrompt? systemPrompt, IReadOnlyList<CacheTurn> turns,
        SamplingParameters sampling, GenerationOptions options, Guid? asker)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(turns);
        ArgumentNullException.ThrowIfNull(sampling);
        ArgumentNullException.ThrowIfNull(options);
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("v", 1);
            json.WriteString("asker", asker?.ToString("N"));
            json.WriteString("model", model);
            json.WriteString("system", systemPrompt?.Value);
            json.WriteStartArray("turns");
            foreach (var turn in turns)
            {
                WriteTurn(json, turn);
            }

            json.WriteEndArray();
            WriteNumber(json, "temperature", sampling.Temperature);
            WriteNumber(json, "top_p", sampling.TopP);
            WriteNumber(json, "max_tokens", sampling.MaxTokens);
            WriteNumber(json, "seed", options.Seed);
            WriteNumber(json, "presence_penalty", options.PresencePenalty);
            WriteNumber(json, "frequency_penalty", options.FrequencyPenalty);
            json.WriteStartArray("stop");
            foreach (var stop in options.Stop)
            {
                json.WriteStringValue(stop);
            }

            json.WriteEndArray();
            json.WriteString("response_format", options.ResponseFormat);
            json.WriteString("tools", options.Tools);
            json.WriteString("tool_choice", options.ToolChoice);
            if (options.ParallelToolCalls is { } parallel)
            {
                json.WriteBoolean("parallel_tool_calls", parallel);
            }

            json.WriteEndObject();
        }

        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }

    private static void WriteTurn(Utf8JsonWriter json, CacheTurn turn)
    {
        json.WriteStartObject();
        json.WriteString("role", MessageRoles.Name(turn.Role));
        json.WriteString("content", turn.Content);
        if (turn.ToolCalls is { Count: > 0 } calls)
        {
            json.WriteStartArray("tool_calls");
            foreach (var call in calls)
            {
                json.WriteStartObject();
                json.WriteString("id", call.Id);
                json.WriteString("name", call.Name);
                json.WriteString("arguments", call.Arguments);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        if (turn.ToolCallId is { } id)
        {
            json.WriteString("tool_call_id", id);
        }

        json.WriteEndObject();
    }

    private static void WriteNumber(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
    }

    private static void WriteNumber(Utf8JsonWriter json, string name, long? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
    }
}
