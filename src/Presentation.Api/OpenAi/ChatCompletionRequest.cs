using System.Text;
using System.Text.Json;
using MeatLizard.Application.Common;
using MeatLizard.Application.Inference;
using MeatLizard.Application.OpenAi.Commands;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;

namespace MeatLizard.Presentation.Api.OpenAi;

/// <summary>
/// A <c>POST /v1/chat/completions</c> body as OpenAI documents it, read field by field so that every value this
/// platform cannot honour is refused naming its parameter (never silently ignored). Parameters whose value asks for
/// nothing (<c>n: 1</c>, <c>logprobs: false</c>, empty <c>tools</c>) are accepted.
/// </summary>
public sealed record ChatCompletionRequest(CompleteChat Command, bool Stream, bool IncludeUsage)
{
    /// <summary>A request this platform cannot take: the message, and the parameter it is about.</summary>
    public sealed class Refused(string message, string? param) : Exception(message)
    {
        public string? Param { get; } = param;

        public int Status { get; init; } = StatusCodes.Status400BadRequest;
    }

    /// <summary>
    /// Whether it came as a legacy text completion (<c>POST /v1/completions</c>): its prompt is asked as one user
    /// message, and it is answered as <c>text_completion</c> objects.
    /// </summary>
    public bool Text { get; init; }

    /// <summary>OpenAI's default answer length for a text completion, as its reference documents it.</summary>
    public const int TextMaxTokensDefault = 16;

    /// <summary>Reads a chat completion's body; <paramref name="caps"/> bound its images (the defaults when null).</summary>
    public static ChatCompletionRequest Read(JsonElement body, OpenAiOptions? caps = null)
    {
        RequireObject(body);
        IReadOnlyList<ConversationMessage>? messages = null;
        var shared = new SharedParameters();
        string? responseFormat = null;
        JsonElement? tools = null, toolChoice = null;
        bool? parallelToolCalls = null;
        foreach (var property in body.EnumerateObject())
        {
            var value = property.Value;
            var name = property.Name;
            if (name == "messages")
            {
                messages = Messages(value, new ImageParts(caps ?? new OpenAiOptions()));
                continue;
            }

            if (shared.TryRead(name, value) || value.ValueKind == JsonValueKind.Null)
            {
                continue; // null is "not given" for every optional parameter
            }

            switch (name)
            {
                case "max_completion_tokens":
                    shared.MaxTokens = Int(value, name, 1, SamplingParameters.MaxTokensLimit);
                    break;
                case "response_format":
                    responseFormat = ResponseFormat(value);
                    break;
                case "logprobs":
                    if (value.ValueKind != JsonValueKind.False)
                    {
                        throw new Refused("Log probabilities are not supported here.", name);
                    }

                    break;
                case "tools":
                    tools = value;
                    break;
                case "tool_choice":
                    toolChoice = value;
                    break;
                case "parallel_tool_calls":
                    parallelToolCalls = Bool(value, name);
                    break;
                case "functions" or "function_call":
                    if (value.ValueKind is not (JsonValueKind.Array or JsonValueKind.String)
                        || (value.ValueKind == JsonValueKind.Array ? value.GetArrayLength() > 0 : value.GetString() != "none"))
                    {
                        throw new Refused($"'{name}' is OpenAI's deprecated form of function calling; send 'tools' and 'tool_choice'.", name);
                    }

                    break;
                default:
                    throw new Refused($"The parameter '{name}' is not supported here.", name);
            }
        }

        if (messages is null)
        {
            throw new Refused("'messages' is required: the conversation, its last message the question.", "messages");
        }

        var (toolsJson, choiceJson) = ChatTools.Read(tools, toolChoice);
        return shared.Request(messages, responseFormat, toolsJson, choiceJson, toolsJson is null ? null : parallelToolCalls);
    }

    /// <summary>
    /// A <c>POST /v1/completions</c> body (OpenAI's legacy text completion): its one prompt asked as a user message of a
    /// new chat, with the sampling parameters chat completions take; <c>max_tokens</c> 16 when not given, as OpenAI's
    /// reference says. What only a raw-text model can do (<c>echo</c>, <c>suffix</c>, <c>logprobs</c>, token arrays,
    /// several prompts or choices) is refused naming its parameter.
    /// </summary>
    public static ChatCompletionRequest ReadText(JsonElement body)
    {
        RequireObject(body);
        string? prompt = null;
        var shared = new SharedParameters { MaxTokens = TextMaxTokensDefault };
        foreach (var property in body.EnumerateObject())
        {
            var value = property.Value;
            var name = property.Name;
            if (name == "prompt")
            {
                prompt = Prompt(value);
                continue;
            }

            if (shared.TryRead(name, value) || value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            switch (name)
            {
                case "best_of":
                    _ = value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var best) && best == 1
                        ? best
                        : throw new Refused("Only one candidate per request is supported here ('best_of' must be 1).", name);
                    break;
                case "echo":
                    if (value.ValueKind != JsonValueKind.False)
                    {
                        throw new Refused("Echoing the prompt back is not supported here ('echo' must be false).", name);
                    }

                    break;
                case "logit_bias" when value.ValueKind == JsonValueKind.Object && !value.EnumerateObject().Any():
                    break;
                default:
                    throw new Refused(name is "suffix" or "logprobs" or "logit_bias"
                        ? $"'{name}' is not supported here: the model hosts answer chat turns, not raw text."
                        : $"The parameter '{name}' is not supported here.", name);
            }
        }

        if (prompt is null)
        {
            throw new Refused("'prompt' is required: the text to complete, as a string.", "prompt");
        }

        return shared.Request([new ConversationMessage("user", prompt, null, null)], null, null, null, null) with
        {
            Text = true,
        };
    }

    private static void RequireObject(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw new Refused("The request body is a JSON object.", null);
        }
    }

    /// <summary>A text completion's prompt: a string, or an array holding one; token arrays are refused.</summary>
    private static string Prompt(JsonElement value)
    {
        var text = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Array when value.GetArrayLength() == 1 && value[0].ValueKind == JsonValueKind.String => value[0].GetString(),
            JsonValueKind.Array when value.EnumerateArray().Any(p => p.ValueKind != JsonValueKind.String) =>
                throw new Refused("'prompt' is text: token arrays are not supported here.", "prompt"),
            JsonValueKind.Array => throw new Refused("One prompt per request is supported here.", "prompt"),
            _ => throw new Refused("'prompt' is the text to complete, as a string.", "prompt"),
        };
        return text is { Length: > 0 } ? Storable(text, "prompt") : throw new Refused("'prompt' is not empty.", "prompt");
    }

    /// <summary>The parameters chat and text completions share, as they are read.</summary>
    private sealed class SharedParameters
    {
        public int? MaxTokens { get; set; }

        private string? _model;
        private bool _stream, _includeUsage;
        private bool? _store;
        private double? _temperature, _topP, _presence, _frequency;
        private long? _seed;
        private IReadOnlyList<string>? _stop;

        /// <summary>Reads <paramref name="name"/> when it is one of them (a null value is "not given"); false when it is not.</summary>
        public bool TryRead(string name, JsonElement value)
        {
            if (value.ValueKind == JsonValueKind.Null && name != "model")
            {
                return false; // not given: the caller passes over it
            }

            switch (name)
            {
                case "model":
                    _model = value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } m
                        ? m
                        : throw new Refused("'model' names a model (see GET /v1/models).", "model");
                    return true;
                case "stream":
                    _stream = Bool(value, name);
                    return true;
                case "stream_options":
                    _includeUsage = StreamOptions(value);
                    return true;
                case "max_tokens":
                    MaxTokens = Int(value, name, 1, SamplingParameters.MaxTokensLimit);
                    return true;
                case "temperature":
                    _temperature = Number(value, name, 0, SamplingParameters.MaxTemperature);
                    return true;
                case "top_p":
                    _topP = Number(value, name, 0, 1);
                    return _topP != 0 ? true : throw new Refused("'top_p' is greater than 0 and at most 1.", name);
                case "presence_penalty":
                    _presence = Number(value, name, -GenerationOptions.MaxPenalty, GenerationOptions.MaxPenalty);
                    return true;
                case "frequency_penalty":
                    _frequency = Number(value, name, -GenerationOptions.MaxPenalty, GenerationOptions.MaxPenalty);
                    return true;
                case "seed":
                    _seed = value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var s) && s >= 0 && s <= uint.MaxValue
                        ? s
                        : throw new Refused($"'seed' is a whole number from 0 to {uint.MaxValue}.", name);
                    return true;
                case "stop":
                    _stop = Stop(value);
                    return true;
                case "store":
                    _store = Bool(value, name);
                    return true;
                case "user":
                    // OpenAI's end-user id for abuse monitoring; here every call is already its key's user.
                    return value.ValueKind == JsonValueKind.String ? true : throw new Refused("'user' is a string.", name);
                case "safety_identifier":
                    // What replaces 'user' at OpenAI (at most 64 characters there): read as 'user' is.
                    return value.ValueKind == JsonValueKind.String && value.GetString()!.Length <= 64
                        ? true
                        : throw new Refused("'safety_identifier' is a string of at most 64 characters.", name);
                case "prompt_cache_key":
                    // A hint for OpenAI's prompt cache; llama-server reuses a slot's cached prompt by itself.
                    return value.ValueKind == JsonValueKind.String
                        ? true
                        : throw new Refused("'prompt_cache_key' is a string.", name);
                case "n":
                    return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) && n == 1
                        ? true
                        : throw new Refused("Only one choice per request is supported here ('n' must be 1).", name);
                default:
                    return false;
            }
        }

        /// <summary>The request, once the body is read: the model is required, and usage is streamed only in a stream.</summary>
        public ChatCompletionRequest Request(IReadOnlyList<ConversationMessage> messages, string? responseFormat,
            string? tools, string? toolChoice, bool? parallelToolCalls)
        {
            if (_model is null)
            {
                throw new Refused("'model' is required (see GET /v1/models).", "model");
            }

            if (_includeUsage && !_stream)
            {
                throw new Refused("'stream_options' is only for streamed requests ('stream': true).", "stream_options");
            }

            var options = GenerationOptions.Create(_stop, _seed, _presence, _frequency, responseFormat, tools: tools,
                toolChoice: toolChoice, parallelToolCalls: parallelToolCalls);
            return new ChatCompletionRequest(
                new CompleteChat(messages, _model, _temperature, _topP, MaxTokens, options, _store), _stream, _includeUsage);
        }
    }

    private static List<ConversationMessage> Messages(JsonElement value, ImageParts images)
    {
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
        {
            throw new Refused("'messages' is a non-empty array of messages.", "messages");
        }

        var messages = new List<ConversationMessage>(value.GetArrayLength());
        var i = 0;
        foreach (var message in value.EnumerateArray())
        {
            var at = $"messages[{i}]";
            if (message.ValueKind != JsonValueKind.Object)
            {
                throw new Refused("A message is an object with 'role' and 'content'.", at);
            }

            string? role = null, content = null, toolCallId = null;
            IReadOnlyList<ToolCall>? toolCalls = null;
            foreach (var field in message.EnumerateObject())
            {
                switch (field.Name)
                {
                    case "role":
                        role = field.Value.ValueKind == JsonValueKind.String
                            ? field.Value.GetString()
                            : throw new Refused("A message's role is a string.", $"{at}.role");
                        break;
                    case "content":
                        // An answer that only asked for tool calls says nothing: its content is null.
                        content = field.Value.ValueKind == JsonValueKind.Null
                            ? null
                            : Content(field.Value, $"{at}.content", images);
                        break;
                    case "tool_calls":
                        toolCalls = ChatTools.Calls(field.Value, $"{at}.tool_calls");
                        break;
                    case "tool_call_id":
                        toolCallId = field.Value.ValueKind == JsonValueKind.String
                            ? field.Value.GetString()
                            : throw new Refused("A tool message's 'tool_call_id' is a string.", $"{at}.tool_call_id");
                        break;
                    case "refusal" when field.Value.ValueKind == JsonValueKind.Null:
                        // An answer as the SDK gives it back, sent again: no refusal.
                        break;
                    case "name":
                        // A participant's name: llama.cpp's chat templates have no place for it, and the role says who.
                        break;
                    default:
                        throw new Refused($"The message field '{field.Name}' is not supported here.", $"{at}.{field.Name}");
                }
            }

            if (role is null)
            {
                throw new Refused("A message needs its 'role'.", $"{at}.role");
            }

            if (toolCalls is not null && role != "assistant")
            {
                throw new Refused("Only an assistant's message holds 'tool_calls'.", $"{at}.tool_calls");
            }

            if ((toolCallId is not null) != (role == "tool"))
            {
                throw new Refused("A tool message, and only one, names the call it answers in 'tool_call_id'.",
                    $"{at}.tool_call_id");
            }

            // Each message's images within the caps on their own; a user's only, as OpenAI takes them.
            var pictures = images.TakeMessage();
            if (pictures.Count > 0 && role != "user")
            {
                throw new Refused("Images are taken in user messages only.", pictures[0].Param);
            }

            messages.Add(new ConversationMessage(role,
                content ?? (toolCalls is { Count: > 0 } ? "" : throw new Refused("A message needs its 'content'.", $"{at}.content")),
                toolCalls, toolCallId) { Images = pictures });
            i++;
        }

        return messages;
    }

    /// <summary>
    /// A string, or an array of parts: text parts joined, <c>image_url</c> parts read by <paramref name="images"/>;
    /// audio and file parts are refused.
    /// </summary>
    private static string Content(JsonElement value, string at, ImageParts images)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return Storable(value.GetString()!, at);
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw new Refused("A message's content is a string or an array of text parts.", at);
        }

        var text = new StringBuilder();
        var j = 0;
        foreach (var part in value.EnumerateArray())
        {
            var partAt = $"{at}[{j++}]";
            var type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t)
                                                             && t.ValueKind == JsonValueKind.String
                ? t.GetString()
                : throw new Refused("A content part is an object with a 'type'.", partAt);
            if (type == "image_url")
            {
                images.Read(part, partAt);
                continue;
            }

            if (type != "text")
            {
                throw new Refused($"Content parts of type '{type}' are not supported by the model hosts here; send text or images.",
                    partAt);
            }

            if (!part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
            {
                throw new Refused("A text part holds its 'text' as a string.", partAt);
            }

            text.Append(Storable(partText.GetString()!, $"{partAt}.text"));
        }

        return text.ToString();
    }

    /// <summary>
    /// Text a chat keeps, as the REST API takes it (<see cref="StorableText"/>): no control character but tab, newline
    /// and carriage return, no half of a surrogate pair — every message of a conversation is stored, and PostgreSQL's
    /// text cannot hold NUL. Otherwise a 400 naming <paramref name="at"/>.
    /// </summary>
    private static string Storable(string text, string at)
    {
        StorableText.Check(text, at);
        return text;
    }

    private static bool StreamOptions(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new Refused("'stream_options' is an object.", "stream_options");
        }

        var includeUsage = false;
        foreach (var option in value.EnumerateObject())
        {
            if (option.Name != "include_usage")
            {
                throw new Refused($"The stream option '{option.Name}' is not supported here.", $"stream_options.{option.Name}");
            }

            includeUsage = option.Value.ValueKind != JsonValueKind.Null
                           && Bool(option.Value, "stream_options.include_usage");
        }

        return includeUsage;
    }

    private static List<string> Stop(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return [value.GetString()!];
        }

        if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(s => s.ValueKind != JsonValueKind.String))
        {
            throw new Refused("'stop' is a string or an array of up to 4 strings.", "stop");
        }

        return value.EnumerateArray().Select(s => s.GetString()!).ToList();
    }

    /// <summary>
    /// OpenAI's <c>response_format</c>: text (nothing asked), <c>json_object</c>, or <c>json_schema</c> with a schema
    /// that a grammar can enforce (<see cref="JsonSchemaGrammar"/>, checked by <see cref="CompleteChat"/>). Passed on
    /// as JSON.
    /// </summary>
    private static string? ResponseFormat(JsonElement value)
    {
        const string param = "response_format";
        if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty("type", out var type)
                                                    || type.ValueKind != JsonValueKind.String)
        {
            throw new Refused("'response_format' is an object with a 'type'.", param);
        }

        switch (type.GetString())
        {
            case "text":
                return null;
            case "json_object":
                return """{"type":"json_object"}""";
            case "json_schema":
                if (!value.TryGetProperty("json_schema", out var schema) || schema.ValueKind != JsonValueKind.Object
                    || !schema.TryGetProperty("schema", out var inner) || inner.ValueKind != JsonValueKind.Object)
                {
                    throw new Refused("A 'json_schema' response format holds 'json_schema.schema', a JSON schema object.",
                        "response_format.json_schema");
                }

                // Compiled to its grammar by the completion, once the caller's limits are taken.
                return value.GetRawText();
            default:
                throw new Refused($"The response format '{type.GetString()}' is not supported; use text, json_object or json_schema.",
                    "response_format.type");
        }
    }

    private static bool Bool(JsonElement value, string name) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new Refused($"'{name}' is true or false.", name),
    };

    private static int Int(JsonElement value, string name, int min, int max) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) && n >= min && n <= max
            ? n
            : throw new Refused($"'{name}' is a whole number from {min} to {max}.", name);

    private static double Number(JsonElement value, string name, double min, double max) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d) && d >= min && d <= max
            ? d
            : throw new Refused($"'{name}' is a number from {min} to {max}.", name);
}
