using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Relay;
using MeatLizard.Domain.Chats;

namespace MeatLizard.Application.Messages;

/// <summary>
/// A question for the model, whichever way it came in: where it goes (<see cref="Chat"/>), its text, how to sample,
/// what else the generation is asked (OpenAI's options) and <see cref="Way"/>, the way in the metrics name. A question
/// may instead be the results of the tool calls the chat's last answer asked for (<see cref="ToolResults"/>, and no
/// text): the model answers them.
/// </summary>
public sealed record Question(
    ChatToAsk Chat, PromptText? Text, SamplingParameters Sampling, GenerationOptions Options, string Way)
{
    /// <summary>The tool results this question is, in the order the calls were asked; empty for a question in words.</summary>
    public IReadOnlyList<ToolResult> ToolResults { get; init; } = [];

    /// <summary>The images the question in words holds, already kept in the object store (<see cref="ChatImages"/>).</summary>
    public IReadOnlyList<MessageImage> Images { get; init; } = [];
}

/// <summary>What the caller's run of the tool call <see cref="ToolCallId"/> gave.</summary>
public sealed record ToolResult(string ToolCallId, string Content);

/// <summary>Where a question goes: a chat of the asker's (<see cref="InChat"/>) or a new one (<see cref="InNewChat"/>).</summary>
public abstract record ChatToAsk;

/// <summary>A chat the asker may write in.</summary>
public sealed record InChat(ChatId Id) : ChatToAsk;

/// <summary>
/// A new chat, started for the question and removed again when the question is refused, titled after its first
/// question. <see cref="Earlier"/>: turns of a conversation held elsewhere before this question (an OpenAI client's
/// history), whose first question then titles the chat. <see cref="KeepNothing"/>: the chat is deleted once answered.
/// <see cref="Id"/>: the id the caller chose before (else a new one). <see cref="Sampling"/>: the chat's sampling
/// defaults (a persona's temperature), null for the engine's.
/// </summary>
public sealed record InNewChat(
    ModelName? Model,
    SystemPrompt? SystemPrompt = null,
    IReadOnlyList<EarlierTurn>? Earlier = null,
    bool KeepNothing = false,
    ChatId? Id = null,
    SamplingParameters? Sampling = null) : ChatToAsk
{
    public IReadOnlyList<EarlierTurn> Turns => Earlier ?? [];
}

/// <summary>
/// One turn of a conversation held before the question: who said it and what — an answer with the tool calls it asked
/// for, a tool's result with the call it answers.
/// </summary>
public sealed record EarlierTurn(
    MessageRole Role, string Content, IReadOnlyList<ToolCall>? ToolCalls = null, string? ToolCallId = null)
{
    /// <summary>A user's turn's images, already kept in the object store under the new chat (<see cref="ChatImages"/>).</summary>
    public IReadOnlyList<MessageImage> Images { get; init; } = [];
}

/// <summary>The queued question: its chat (as stored) and the relay request that will be answered.</summary>
public sealed record Asked(Chat Chat, RelayRequest Request)
{
    /// <summary>The answer cache's look-up of the question (null: the cache did not apply); a hit answered it.</summary>
    public Caching.CacheLookup? Cache { get; init; }

    /// <summary>
    /// The body to send the request with when it was placed on a model host before it was stored
    /// (<see cref="IQuestionHandOff.PlaceAsync"/>, <see cref="IQuestionHandOff.PlaceInChatAsync"/>): it is stored
    /// dispatched, to be sent now; null when it waits in the queue.
    /// </summary>
    public Relay.RequestBody? Placed { get; init; }

    /// <summary>Answered from the answer cache, without asking a model host.</summary>
    public bool AnsweredFromCache => Cache?.Hit is not null;

    /// <summary>"hit" when the answer cache answered the question, "miss" when it was looked up and not found; else null.</summary>
    public string? CacheResult => Cache is null ? null : AnsweredFromCache ? "hit" : "miss";

    public Guid ChatId => Chat.Id.Value;

    public Guid RequestId => Request.Id.Value;

    public Guid MessageId => Request.UserMessageId.Value;
}
