using System.Security.Cryptography;
using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.OpenAi.Commands;

/// <summary>
/// One message of an OpenAI conversation: role system, developer, user, assistant or tool, and its text; an assistant's
/// message may hold the tool calls it asked for, and a tool's names the call it answers.
/// </summary>
public sealed record ConversationMessage(
    string Role, string Content, IReadOnlyList<ToolCall>? ToolCalls = null, string? ToolCallId = null)
{
    /// <summary>
    /// The images a user's message holds, as read and checked: the question's and those of earlier user messages alike
    /// (each message within the caps on its own).
    /// </summary>
    public IReadOnlyList<ImageInput> Images { get; init; } = [];
}

/// <summary>
/// An image as a client sent it: <paramref name="Param"/> names its field (<c>messages[1].content[0].image_url</c>, or
/// the web app's <c>images[0]</c>),
/// <paramref name="Data"/> its bytes, <paramref name="Header"/> what they are.
/// </summary>
public sealed record ImageInput(string Param, byte[] Data, ImageHeader Header)
{
    private string? _sha256;

    /// <summary>The SHA-256 of its bytes, lower-case hex (as <see cref="MessageImage.Sha256"/> records it).</summary>
    public string Sha256 => _sha256 ??= Convert.ToHexStringLower(SHA256.HashData(Data));
}
