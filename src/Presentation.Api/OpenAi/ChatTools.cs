using System.Text.Json;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Presentation.Api.OpenAi;

/// <summary>
/// OpenAI's function calling in a chat-completions body, read as OpenAI documents it: <c>tools</c> (functions the model
/// may call), <c>tool_choice</c>, and an assistant message's <c>tool_calls</c>. Each refusal names its parameter.
/// </summary>
internal static class ChatTools
{
    private static readonly string[] ToolFields = ["type", "function"];
    private static readonly string[] FunctionFields = ["name", "description", "parameters", "strict"];

    /// <summary>
    /// The tools as JSON (null when none are given: an empty array asks nothing) and the choice among them as JSON
    /// (null for the default: the model decides).
    /// </summary>
    public static (string? Tools, string? ToolChoice) Read(JsonElement? tools, JsonElement? toolChoice)
    {
        var names = tools is { } given ? Names(given) : [];
        var choice = toolChoice is { } chosen ? Choice(chosen, names) : null;
        return names.Count == 0 ? (null, null) : (tools!.Value.GetRawText(), choice);
    }

    /// <summary>An assistant message's tool calls: <c>[{"id", "type": "function", "function": {"name", "arguments"}}]</c>.</summary>
    public static IReadOnlyList<ToolCall> Calls(JsonElement value, string at)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw new ChatCompletionRequest.Refused("'tool_calls' is an array of tool calls.", at);
        }

        var calls = new List<ToolCall>();
        var i = 0;
        foreach (var call in value.EnumerateArray())
        {
            var field = $"{at}[{i++}]";
            if (call.ValueKind != JsonValueKind.Object || Text(call, "type") != "function"
                || !call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            {
                throw new ChatCompletionRequest.Refused(
                    "A tool call is an object with 'id', 'type': 'function' and 'function' ({'name', 'arguments'}).", field);
            }

            calls.Add(Checked(() => ToolCall.Create(Text(call, "id"), Text(function, "name"), Text(function, "arguments"), field)));
        }

        return Checked(() => ToolCall.Several(calls, at));
    }

    /// <summary>The functions' names, each checked; none for an empty array.</summary>
    private static List<string> Names(JsonElement tools)
    {
        if (tools.ValueKind != JsonValueKind.Array)
        {
            throw new ChatCompletionRequest.Refused("'tools' is an array of tools.", "tools");
        }

        if (tools.GetArrayLength() > ToolCall.MaxPerAnswer)
        {
            throw new ChatCompletionRequest.Refused($"At most {ToolCall.MaxPerAnswer} tools.", "tools");
        }

        var names = new List<string>();
        var i = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            var at = $"tools[{i++}]";
            if (tool.ValueKind != JsonValueKind.Object || Text(tool, "type") != "function"
                || !tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            {
                throw new ChatCompletionRequest.Refused(
                    "A tool is an object with 'type': 'function' and 'function' (its 'name', 'description' and 'parameters').", at);
            }

            Known(tool, ToolFields, at);
            Known(function, FunctionFields, $"{at}.function");
            var name = Text(function, "name");
            if (!ToolCall.IsName(name))
            {
                throw new ChatCompletionRequest.Refused(
                    $"A function's name has 1 to {ToolCall.MaxNameLength} letters, digits, underscores or dashes.",
                    $"{at}.function.name");
            }

            if (names.Contains(name!, StringComparer.Ordinal))
            {
                throw new ChatCompletionRequest.Refused($"Two tools are named '{name}'.", $"{at}.function.name");
            }

            Kind(function, "description", JsonValueKind.String, $"{at}.function.description");
            Kind(function, "parameters", JsonValueKind.Object, $"{at}.function.parameters");
            if (function.TryGetProperty("strict", out var strict) && strict.ValueKind is not (JsonValueKind.True
                    or JsonValueKind.False or JsonValueKind.Null))
            {
                throw new ChatCompletionRequest.Refused("'strict' is true or false.", $"{at}.function.strict");
            }

            names.Add(name!);
        }

        return names;
    }

    /// <summary><c>none</c>, <c>auto</c>, <c>required</c>, or <c>{"type": "function", "function": {"name"}}</c> naming a tool.</summary>
    private static string? Choice(JsonElement choice, List<string> names)
    {
        const string param = "tool_choice";
        if (choice.ValueKind == JsonValueKind.String && choice.GetString() is "none" or "auto" or "required")
        {
            if (names.Count == 0 && choice.GetString() == "required")
            {
                throw new ChatCompletionRequest.Refused("'tool_choice' is 'required' but no 'tools' are given.", param);
            }

            return choice.GetRawText();
        }

        if (choice.ValueKind == JsonValueKind.Object && Text(choice, "type") == "function"
            && choice.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
            && Text(function, "name") is { } name)
        {
            return names.Contains(name, StringComparer.Ordinal)
                ? choice.GetRawText()
                : throw new ChatCompletionRequest.Refused($"'tool_choice' names '{name}', which is not among 'tools'.",
                    "tool_choice.function.name");
        }

        throw new ChatCompletionRequest.Refused(
            "'tool_choice' is 'none', 'auto', 'required' or {'type': 'function', 'function': {'name': …}}.", param);
    }

    private static void Known(JsonElement value, string[] fields, string at)
    {
        foreach (var property in value.EnumerateObject())
        {
            if (!fields.Contains(property.Name, StringComparer.Ordinal))
            {
                throw new ChatCompletionRequest.Refused($"The field '{property.Name}' is not supported here.",
                    $"{at}.{property.Name}");
            }
        }
    }

    private static void Kind(JsonElement value, string name, JsonValueKind kind, string at)
    {
        if (value.TryGetProperty(name, out var field) && field.ValueKind != kind && field.ValueKind != JsonValueKind.Null)
        {
            throw new ChatCompletionRequest.Refused(
                $"'{name}' is {(kind == JsonValueKind.Object ? "a JSON schema object" : "a string")}.", at);
        }
    }

    private static string? Text(JsonElement value, string name) =>
        value.TryGetProperty(name, out var field) && field.ValueKind == JsonValueKind.String ? field.GetString() : null;

    private static T Checked<T>(Func<T> make)
    {
        try
        {
            return make();
        }
        catch (DomainException refused)
        {
            throw new ChatCompletionRequest.Refused(refused.Message, refused.Field);
        }
    }
}
