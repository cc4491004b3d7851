using System.Buffers;
using System.Text.Json;
using MeatLizard.Application.Common.Models;

namespace MeatLizard.Presentation.Api.OpenAi;

/// <summary>
/// The objects of OpenAI's chat API as it documents them — <c>model</c>, <c>chat.completion</c>,
/// <c>chat.completion.chunk</c>, and the legacy <c>text_completion</c> — written straight to UTF-8.
/// </summary>
public static class OpenAiJson
{
    /// <summary>
    /// What every object of one completion repeats; <paramref name="Text"/> for a legacy text completion, whose objects
    /// are <c>text_completion</c> with each choice's <c>text</c>.
    /// </summary>
    public sealed record Completion(string Id, long Created, string Model, bool Text = false);

    public sealed record Usage(int Prompt, int Completion);

    public static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            write(json);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// A model as OpenAI describes one (<c>id</c>, <c>object</c>, <c>created</c>, <c>owned_by</c>), and what the hosts
    /// say of it: <c>context_length</c> (null when no host says), how many <c>hosts</c> serve it now, and its
    /// <c>capabilities</c> — chat and text completions always, <c>tools</c> when a host takes them with it,
    /// <c>embeddings</c> when a host makes them with it; no host here takes images yet.
    /// </summary>
    public static void WriteModel(Utf8JsonWriter json, Application.OpenAi.ModelInfo model)
    {
        json.WriteStartObject();
        json.WriteString("id", model.Name);
        json.WriteString("object", "model");
        json.WriteNumber("created", 0);
        json.WriteString("owned_by", "meatlizard");
        if (model.ContextLength is { } context)
        {
            json.WriteNumber("context_length", context);
        }
        else
        {
            json.WriteNull("context_length");
        }

        json.WriteNumber("hosts", model.Hosts);
        json.WriteBoolean("default", model.IsDefault);
        json.WriteStartObject("capabilities");
        json.WriteBoolean("chat", true);
        json.WriteBoolean("completion", true);
        json.WriteBoolean("tools", model.Tools);
        json.WriteBoolean("vision", model.Vision);
        json.WriteBoolean("embeddings", model.Embeddings);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>
    /// OpenAI's answer to an embeddings request: a <c>list</c> of <c>embedding</c> objects by index, each vector as
    /// numbers or (<paramref name="base64"/>) the base64 of its little-endian 32-bit floats, the model asked for, and the
    /// usage (embeddings read tokens only).
    /// </summary>
    public static void WriteEmbeddings(Utf8JsonWriter json, Application.Abstractions.EmbeddingsMade made, string model, bool base64)
    {
        json.WriteStartObject();
        json.WriteString("object", "list");
        json.WriteStartArray("data");
        for (var i = 0; i < made.Vectors.Count; i++)
        {
            json.WriteStartObject();
            json.WriteString("object", "embedding");
            json.WriteNumber("index", i);
            if (base64)
            {
                json.WriteString("embedding", Application.Embeddings.EmbeddingVectors.ToBase64(made.Vectors[i]));
            }
            else
            {
                json.WriteStartArray("embedding");
                foreach (var value in made.Vectors[i])
                {
                    json.WriteNumberValue(value);
                }

                json.WriteEndArray();
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteString("model", model);
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", made.PromptTokens);
        json.WriteNumber("total_tokens", made.PromptTokens);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>
    /// A whole completion. An answer that asks for tool calls holds them in <c>message.tool_calls</c>, its content null
    /// when it said nothing besides.
    /// </summary>
    public static void WriteCompletion(Utf8JsonWriter json, Completion completion, string content, string finish,
        Usage usage, IReadOnlyList<ToolCallDto>? toolCalls = null)
    {
        json.WriteStartObject();
        WriteHead(json, completion, completion.Text ? "text_completion" : "chat.completion");
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        if (completion.Text)
        {
            WriteTextChoice(json, content, finish);
            json.WriteEndArray();
            WriteUsage(json, usage);
            json.WriteEndObject();
            return;
        }

        json.WriteStartObject("message");
        json.WriteString("role", "assistant");
        if (toolCalls is { Count: > 0 } && content.Length == 0)
        {
            json.WriteNull("content");
        }
        else
        {
            json.WriteString("content", content);
        }

        json.WriteNull("refusal");
        if (toolCalls is { Count: > 0 })
        {
            json.WriteStartArray("tool_calls");
            foreach (var call in toolCalls)
            {
                WriteToolCall(json, call, index: null);
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
        WriteChoiceEnd(json, finish);
        json.WriteEndArray();
        WriteUsage(json, usage);
        json.WriteEndObject();
    }

    /// <summary>
    /// One streamed piece: the role (first chunk), text, or the finish reason (last chunk); null parts are left out. A
    /// text completion's chunk holds its text (empty with the finish reason) and has no role: null for the role alone.
    /// </summary>
    public static byte[]? Chunk(Completion completion, string? role, string? content, string? finish) =>
        completion.Text
            ? role is not null
                ? null
                : Write(json =>
                {
                    json.WriteStartObject();
                    WriteHead(json, completion, "text_completion");
                    json.WriteStartArray("choices");
                    json.WriteStartObject();
                    json.WriteNumber("index", 0);
                    WriteTextChoice(json, content ?? "", finish);
                    json.WriteEndArray();
                    json.WriteEndObject();
                })
            : DeltaChunk(completion, finish, json =>
        {
            if (role is not null)
            {
                json.WriteString("role", role);
            }

            if (content is not null)
            {
                json.WriteString("content", content);
            }
        });

    /// <summary>
    /// The tool calls an answer asks for, as one chunk: each call whole, by its index (a client gathers a call's pieces
    /// by index, and one piece is a call whole).
    /// </summary>
    public static byte[] ToolCallsChunk(Completion completion, IReadOnlyList<ToolCallDto> toolCalls) =>
        DeltaChunk(completion, finish: null, json =>
        {
            json.WriteStartArray("tool_calls");
            for (var i = 0; i < toolCalls.Count; i++)
            {
                WriteToolCall(json, toolCalls[i], i);
            }

            json.WriteEndArray();
        });

    /// <summary>A <c>chat.completion.chunk</c> of one choice whose delta <paramref name="delta"/> writes.</summary>
    private static byte[] DeltaChunk(Completion completion, string? finish, Action<Utf8JsonWriter> delta) => Write(json =>
    {
        json.WriteStartObject();
        WriteHead(json, completion, "chat.completion.chunk");
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("delta");
        delta(json);
        json.WriteEndObject();
        WriteChoiceEnd(json, finish);
        json.WriteEndArray();
        json.WriteEndObject();
    });

    /// <summary>The rest of a text completion's choice, after its index: its text, no log probabilities, how it finished.</summary>
    private static void WriteTextChoice(Utf8JsonWriter json, string text, string? finish)
    {
        json.WriteString("text", text);
        WriteChoiceEnd(json, finish);
    }

    /// <summary>A choice's last fields — no log probabilities, how it finished (null while it goes on) — and its end.</summary>
    private static void WriteChoiceEnd(Utf8JsonWriter json, string? finish)
    {
        json.WriteNull("logprobs");
        if (finish is null)
        {
            json.WriteNull("finish_reason");
        }
        else
        {
            json.WriteString("finish_reason", finish);
        }

        json.WriteEndObject();
    }

    private static void WriteToolCall(Utf8JsonWriter json, ToolCallDto call, int? index)
    {
        json.WriteStartObject();
        if (index is { } i)
        {
            json.WriteNumber("index", i);
        }

        json.WriteString("id", call.Id);
        json.WriteString("type", "function");
        json.WriteStartObject("function");
        json.WriteString("name", call.Name);
        json.WriteString("arguments", call.Arguments);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>The usage chunk asked for with <c>stream_options.include_usage</c>: its <c>choices</c> are empty.</summary>
    public static byte[] UsageChunk(Completion completion, Usage usage) => Write(json =>
    {
        json.WriteStartObject();
        WriteHead(json, completion, completion.Text ? "text_completion" : "chat.completion.chunk");
        json.WriteStartArray("choices");
        json.WriteEndArray();
        WriteUsage(json, usage);
        json.WriteEndObject();
    });

    private static void WriteHead(Utf8JsonWriter json, Completion completion, string kind)
    {
        json.WriteString("id", completion.Id);
        json.WriteString("object", kind);
        json.WriteNumber("created", completion.Created);
        json.WriteString("model", completion.Model);
        json.WriteNull("system_fingerprint");
    }

    private static void WriteUsage(Utf8JsonWriter json, Usage usage)
    {
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", usage.Prompt);
        json.WriteNumber("completion_tokens", usage.Completion);
        json.WriteNumber("total_tokens", usage.Prompt + usage.Completion);
        json.WriteEndObject();
    }
}
