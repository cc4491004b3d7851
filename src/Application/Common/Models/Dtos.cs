using MeatLizard.Domain.Messages;

namespace MeatLizard.Application.Common.Models;

public sealed record TokensDto(int Prompt, int Completion, int Total);

/// <summary>
/// A message as clients see it. Role: user|assistant|system|tool; source: user|model|fallback|notice.
/// <paramref name="Model"/> names the model that wrote an answer of the model's (null otherwise);
/// <paramref name="ToolCalls"/> are the tool calls such an answer asked for (null when none), and
/// <paramref name="ToolCallId"/> the call a tool's result answers; <paramref name="ParentId"/> the message this one follows in
/// the chat's tree (null for a first message).
/// </summary>
public sealed record MessageDto(
    Guid Id, Guid SessionId, string Role, string Content, string Source, DateTimeOffset CreatedAt, TokensDto? Tokens,
    Guid? RequestId, string? Model = null, string? FinishReason = null, IReadOnlyList<ToolCallDto>? ToolCalls = null,
    string? ToolCallId = null, Guid? ParentId = null)
{
    /// <summary>
    /// On the current path's page (<c>GET …/messages</c>): the versions of this turn, this one among them, oldest first
    /// (ids to switch to), and this one's place among them (from 0). Null elsewhere.
    /// </summary>
    public IReadOnlyList<Guid>? SiblingIds { get; init; }

    public int? SiblingIndex { get; init; }

    public int? SiblingCount { get; init; }

    /// <summary>True for an answer the answer cache gave again (Cache:Answers) without asking a model; absent otherwise.</summary>
    public bool? Cached { get; init; }

    /// <summary>A user's message's images, in the order sent (<c>GET …/images/{name}</c> gives each); absent when none.</summary>
    public IReadOnlyList<ImageDto>? Images { get; init; }
}

/// <summary>
/// An image of a message: its name in the chat (<c>GET /api/v1/sessions/{id}/images/{name}</c>), media type, pixel size
/// and bytes. <see cref="DataUrl"/>: its bytes, in an exported transcript only.
/// </summary>
public sealed record ImageDto(string Name, string MediaType, int Width, int Height, long Bytes)
{
    public string? DataUrl { get; init; }

    /// <summary>The SHA-256 of its bytes when recorded (<see cref="MessageImage.Sha256"/>); for the server's own use, not shown.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string? Sha256 { get; init; }
}

/// <summary>A function the model asked to call: the call's id, the function's name and its arguments (JSON text).</summary>
public sealed record ToolCallDto(string Id, string Name, string Arguments);

public sealed record SessionDto(
    Guid Id, string Title, string Status, string? Model, string? SystemPrompt, double? Temperature, double? TopP,
    int? MaxTokens, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ClosedAt)
{
    /// <summary>Pinned by its owner: first in the list. Set in the list (GET /sessions); false in a single chat's answers.</summary>
    public bool Pinned { get; init; }

    /// <summary>Archived by its owner (listed with ?archived=true only). Set in the list; false in a single chat's answers.</summary>
    public bool Archived { get; init; }

    /// <summary>The owner's folder it is in (GET /folders), if any. Set in the list; null in a single chat's answers.</summary>
    public Guid? FolderId { get; init; }
}

public sealed record ApiKeyDto(Guid Id, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt);

public sealed record UserDto(Guid Id, string Username, string Role)
{
    /// <summary>The user's security stamp, for the host to put in the credentials it issues; never shown to anyone.</summary>
    public string SecurityStamp { get; init; } = "";

    /// <summary>The account waits for an admin's approval before it can sign in.</summary>
    public bool AwaitingApproval { get; init; }
}

/// <summary>
/// One turn of the conversation as the model sees it: an answer with the tool calls it asked for, a tool's result with
/// the id of the call it answers.
/// </summary>
public sealed record ChatTurn(
    MessageRole Role, string Content, IReadOnlyList<ToolCall>? ToolCalls = null, string? ToolCallId = null)
{
    /// <summary>
    /// The images a user's turn holds, in order: kept ones (their object keys) as the server reads the history, their
    /// bytes (data URLs) once in the envelope and at the host; null when it holds none.
    /// </summary>
    public IReadOnlyList<TurnImage>? Images { get; init; }

    /// <summary>
    /// The turns the model is shown of a chat's <paramref name="messages"/> (oldest first, all on the chat's path), as
    /// the dispatcher's claim reads them once stored (<see cref="Abstractions.ClaimedRequest.History"/>): the users' and
    /// the model's, not fallback replies or notices, the newest <paramref name="max"/>.
    /// </summary>
    public static IReadOnlyList<ChatTurn> Recent(IReadOnlyList<Message> messages, int max)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = messages.Where(m => m.Source is MessageSource.User or MessageSource.Model)
            .Select(m => new ChatTurn(m.Role, m.Content, m.ToolCalls is { Count: > 0 } calls ? calls : null, m.ToolCallId)
            {
                Images = m.Images is { Count: > 0 } images ? [.. images.Select(TurnImage.Kept)] : null,
            })
            .ToList();
        return turns.Count > max ? turns.GetRange(turns.Count - max, Math.Max(0, max)) : turns;
    }

    /// <summary>The text the model reads of this turn, for estimating its tokens: its words and its calls.</summary>
    public string CountedText => ToolCalls is not { Count: > 0 } calls
        ? Content
        : Content + string.Concat(calls.Select(c => c.Name + c.Arguments));

    /// <summary>
    /// Where a prompt cut at <paramref name="firstKept"/> starts instead so that no tool result is kept without the
    /// answer whose call it answers (a model server refuses such a conversation): earlier, at that answer.
    /// </summary>
    public static int KeepingCalls(IReadOnlyList<ChatTurn> turns, int firstKept)
    {
        ArgumentNullException.ThrowIfNull(turns);
        while (firstKept > 0 && firstKept < turns.Count && turns[firstKept].Role == MessageRole.Tool)
        {
            firstKept--;
        }

        return firstKept;
    }

    /// <summary>Equal when every part is, the tool calls compared call by call (a list is not equal to its copy).</summary>
    public bool Equals(ChatTurn? other) =>
        other is not null && Role == other.Role && Content == other.Content && ToolCallId == other.ToolCallId
        && (ToolCalls ?? []).SequenceEqual(other.ToolCalls ?? []) && (Images ?? []).SequenceEqual(other.Images ?? []);

    public override int GetHashCode() => HashCode.Combine(Role, Content, ToolCallId, ToolCalls?.Count ?? 0);
}

/// <summary>
/// An image of a turn: its media type, and where it is — its key in the object store (<see cref="Key"/>, as the server
/// keeps it) or its bytes as a <c>data:</c> URL (<see cref="DataUrl"/>, as it travels to the host and the engine).
/// </summary>
public sealed record TurnImage(string MediaType, string? Key = null, string? DataUrl = null)
{
    /// <summary>Its size in bytes (decoded), as kept; null when not known (an image as the envelope brings it).</summary>
    public long? Bytes { get; init; }

    public static TurnImage Kept(MessageImage image) => new(image.MediaType, Key: image.Key) { Bytes = image.Bytes };

    public static TurnImage Inline(string mediaType, ReadOnlySpan<byte> data) =>
        new(mediaType, DataUrl: $"data:{mediaType};base64,{Convert.ToBase64String(data)}");

    /// <summary>An image as the envelope brings it: a <c>data:</c> URL, its media type read from it.</summary>
    public static TurnImage FromDataUrl(string dataUrl)
    {
        ArgumentNullException.ThrowIfNull(dataUrl);
        var end = dataUrl.IndexOf(';', StringComparison.Ordinal);
        return new TurnImage(dataUrl.StartsWith("data:", StringComparison.Ordinal) && end > 5 ? dataUrl[5..end] : "",
            DataUrl: dataUrl);
    }
}
