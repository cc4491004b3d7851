using System.Text.Json.Nodes;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Messages;
using MeatLizard.Infrastructure.Inference.LlamaCpp;

namespace MeatLizard.Infrastructure.Inference.ChatCompletions;

/// <summary>
/// The body of a streamed OpenAI chat-completions request, as every engine that speaks that API sends it: the fitted
/// conversation, usage in the last chunk, and the request's sampling and extras (stop, seed, penalties), with the
/// configured defaults where the request sets none. Structured output (<c>response_format</c>) is each engine's own:
/// llama-server gets a grammar, other servers the request's format as asked.
/// </summary>
public static class ChatCompletionsBody
{
    public static JsonObject Create(InferenceRequest request, ChatPrompt prompt, LlamaCppOptions defaults)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(defaults);
        var messages = new JsonArray();
        foreach (var turn in prompt.Messages())
        {
            messages.Add(Message(turn));
        }

        var body = new JsonObject
        {
            ["messages"] = messages,
            ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
            ["max_tokens"] = prompt.MaxTokens,
            ["temperature"] = request.Temperature ?? defaults.Temperature,
            ["top_p"] = request.TopP ?? defaults.TopP,
        };
        if ((request.Extras?.Seed ?? (defaults.Seed >= 0 ? defaults.Seed : null)) is { } seed)
        {
            body["seed"] = seed;
        }

        if (request.Extras is not { } extras)
        {
            return body;
        }

        if (extras.Stop is { Count: > 0 } stop)
        {
            body["stop"] = new JsonArray([.. stop.Select(s => JsonValue.Create(s))]);
        }

        if (extras.PresencePenalty is { } presence)
        {
            body["presence_penalty"] = presence;
        }

        if (extras.FrequencyPenalty is { } frequency)
        {
            body["frequency_penalty"] = frequency;
        }

        if (extras.Tools is { } tools)
        {
            // As the API checked them: OpenAI's shapes, which every server of this API takes.
            body["tools"] = JsonNode.Parse(tools);
            if (extras.ToolChoice is { } choice)
            {
                body["tool_choice"] = JsonNode.Parse(choice);
            }

            if (extras.ParallelToolCalls is { } parallel)
            {
                body["parallel_tool_calls"] = parallel;
            }
        }

        return body;
    }

    /// <summary>
    /// One message in OpenAI's shape: an answer's tool calls, a tool result's call id, a user's images as content parts
    /// after its text (<c>image_url</c> with the <c>data:</c> URL, as llama-server's multimodal input and OpenAI take them).
    /// </summary>
    private static JsonObject Message(ChatTurn turn)
    {
        JsonNode content = turn.Images is { Count: > 0 } images
            ? new JsonArray([
                new JsonObject { ["type"] = "text", ["text"] = turn.Content },
                .. images.Where(i => i.DataUrl is not null).Select(i => new JsonObject
                {
                    ["type"] = "image_url",
                    ["image_url"] = new JsonObject { ["url"] = i.DataUrl },
                }),
            ])
            : JsonValue.Create(turn.Content);
        var message = new JsonObject { ["role"] = MessageRoles.Name(turn.Role), ["content"] = content };
        if (turn.ToolCalls is { Count: > 0 } calls)
        {
            message["tool_calls"] = new JsonArray([.. calls.Select(c => new JsonObject
            {
                ["id"] = c.Id,
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = c.Arguments },
            })]);
        }

        if (turn.ToolCallId is { } callId)
        {
            message["tool_call_id"] = callId;
        }

        return message;
    }
}
