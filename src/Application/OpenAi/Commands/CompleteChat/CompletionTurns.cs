using MeatLizard.Application.Inference;
using MeatLizard.Application.Messages;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.OpenAi.Commands;

/// <summary>The messages of an OpenAI chat completion read as a chat: its system prompt, its turns and their images.</summary>
internal static class CompletionTurns
{
    /// <summary>
    /// System and developer text become the system prompt; the rest are the turns, the last the question: the user's
    /// words, or the results of the calls the answer before them asked for (each tool message answers one of them).
    /// <c>Images</c>: each turn's images as sent, in the turns' order (none but a user's).
    /// </summary>
    public static (SystemPrompt? SystemPrompt, List<EarlierTurn> Turns, List<IReadOnlyList<ImageInput>> Images) Read(
        IReadOnlyList<ConversationMessage>? conversation)
    {
        if (conversation is not { Count: > 0 })
        {
            throw new DomainException("'messages' holds at least one message.", DomainErrorKind.Invalid, "messages");
        }

        var system = new List<string>();
        var turns = new List<EarlierTurn>();
        var images = new List<IReadOnlyList<ImageInput>>();
        IReadOnlyList<ToolCall> calls = [];
        for (var i = 0; i < conversation.Count; i++)
        {
            var (role, content, toolCalls, toolCallId) = conversation[i];
            switch (role)
            {
                case "system" or "developer":
                    system.Add(content);
                    break;
                case "user":
                    if (i < conversation.Count - 1)
                    {
                        RequireWords(content, i);
                    }

                    turns.Add(new EarlierTurn(MessageRole.User, content));
                    images.Add(conversation[i].Images);
                    calls = [];
                    break;
                case "assistant":
                    calls = toolCalls ?? [];
                    turns.Add(new EarlierTurn(MessageRole.Assistant, content, calls));
                    images.Add([]);
                    break;
                case "tool":
                    if (!calls.Any(c => c.Id == toolCallId))
                    {
                        throw new DomainException(
                            "A tool message answers a tool call of the assistant message before it: its 'tool_call_id' names one.",
                            DomainErrorKind.Invalid, $"messages[{i}].tool_call_id");
                    }

                    turns.Add(new EarlierTurn(MessageRole.Tool, content, ToolCallId: toolCallId));
                    images.Add([]);
                    break;
                default:
                    throw new DomainException(
                        $"A message's role is system, developer, user, assistant or tool, not '{role}'.",
                        DomainErrorKind.Invalid, $"messages[{i}].role");
            }
        }

        if (turns.Count == 0 || turns[^1].Role is not (MessageRole.User or MessageRole.Tool))
        {
            throw new DomainException(
                "The last message (after any system text) is the user's, or a tool's result: the question to answer.",
                DomainErrorKind.Invalid, "messages");
        }

        if (turns[^1].Role == MessageRole.User)
        {
            RequireWords(turns[^1].Content, conversation.Count - 1, "The question");
        }

        var prompt = system.Count == 0 ? null : string.Join("\n\n", system);
        if (prompt is { Length: > Domain.Common.SystemPrompt.MaxLength })
        {
            throw new DomainException(
                $"The system and developer messages hold at most {Domain.Common.SystemPrompt.MaxLength} characters together.",
                DomainErrorKind.Invalid, "messages");
        }

        return (Domain.Common.SystemPrompt.FromOptional(prompt), turns, images);
    }

    /// <summary>A user's message (<c>messages[i]</c>) holds words, within a message's length: an image alone is no message here.</summary>
    private static void RequireWords(string content, int i, string what = "A user's message")
    {
        if (string.IsNullOrWhiteSpace(content) || content.Length > PromptText.MaxLength)
        {
            throw new DomainException($"{what} holds 1 to {PromptText.MaxLength} characters.",
                content.Length > PromptText.MaxLength ? DomainErrorKind.TooLarge : DomainErrorKind.Invalid,
                $"messages[{i}].content");
        }
    }
}
