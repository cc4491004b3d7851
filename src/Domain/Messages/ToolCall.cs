using System.Text.RegularExpressions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Domain.Messages;

/// <summary>
/// A function the model asked the caller to run (OpenAI's tool call): the call's id, which the caller's result names
/// (<see cref="Message.ToolCallId"/>), the function's name, and its arguments as the model wrote them (JSON text, not
/// checked: the model may write anything, and the caller judges it).
/// </summary>
public sealed partial record ToolCall
{
    public const int MaxIdLength = 128;
    public const int MaxNameLength = 64;
    public const int MaxArgumentsLength = 64_000;

    /// <summary>At most this many calls in one answer (OpenAI's limit on tools in one request).</summary>
    public const int MaxPerAnswer = 128;

    private ToolCall(string id, string name, string arguments)
    {
        Id = id;
        Name = name;
        Arguments = arguments;
    }

    public string Id { get; }

    public string Name { get; }

    public string Arguments { get; }

    /// <summary>Checks the call; <paramref name="field"/> names it in a refusal.</summary>
    public static ToolCall Create(string? id, string? name, string? arguments, string field = "tool_calls")
    {
        if (!IsId(id))
        {
            throw new DomainException($"A tool call's id has 1 to {MaxIdLength} printable characters.",
                DomainErrorKind.Invalid, $"{field}.id");
        }

        if (!IsName(name))
        {
            throw new DomainException(
                $"A function's name has 1 to {MaxNameLength} letters, digits, underscores or dashes.",
                DomainErrorKind.Invalid, $"{field}.function.name");
        }

        if (arguments is not { Length: <= MaxArgumentsLength })
        {
            throw new DomainException($"A tool call's arguments are a string of at most {MaxArgumentsLength} characters.",
                DomainErrorKind.Invalid, $"{field}.function.arguments");
        }

        return new ToolCall(id!, name!, arguments);
    }

    /// <summary>A tool call id: 1 to <see cref="MaxIdLength"/> printable characters.</summary>
    public static bool IsId(string? id) =>
        id is { Length: > 0 and <= MaxIdLength } && !id.Any(c => char.IsControl(c) || char.IsWhiteSpace(c));

    /// <summary>A function name as OpenAI takes it.</summary>
    public static bool IsName(string? name) => name is not null && NamePattern().IsMatch(name);

    /// <summary>The calls of one answer, checked: at most <see cref="MaxPerAnswer"/>, ids distinct.</summary>
    public static IReadOnlyList<ToolCall> Several(IReadOnlyList<ToolCall>? calls, string field = "tool_calls")
    {
        if (calls is not { Count: > 0 })
        {
            return [];
        }

        if (calls.Count > MaxPerAnswer)
        {
            throw new DomainException($"An answer holds at most {MaxPerAnswer} tool calls.", DomainErrorKind.Invalid,
                field);
        }

        if (calls.Select(c => c.Id).Distinct(StringComparer.Ordinal).Count() != calls.Count)
        {
            throw new DomainException("The tool calls of one answer have distinct ids.", DomainErrorKind.Invalid, field);
        }

        return [.. calls];
    }

    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,64}\z")]
    private static partial Regex NamePattern();
}
