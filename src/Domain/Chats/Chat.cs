using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Users;

namespace MeatLizard.Domain.Chats;

public enum ChatStatus
{
    Active,
    Closed,
}

/// <summary>A conversation owned by one user. Only the owner (or an admin) reads it; a closed one takes no message.</summary>
public sealed class Chat : Entity<ChatId>
{
    /// <summary>What a missing chat, and another user's, is called: the two read the same.</summary>
    public const string NotFoundMessage = "There is no chat with this id.";

    private Chat(ChatId id, UserId ownerId, ChatTitle title, ChatStatus status, ModelName? model,
        SystemPrompt? systemPrompt, SamplingParameters sampling, DateTimeOffset createdAt,
        DateTimeOffset updatedAt, DateTimeOffset? closedAt)
        : base(id)
    {
        OwnerId = ownerId;
        Title = title;
        Status = status;
        Model = model;
        SystemPrompt = systemPrompt;
        Sampling = sampling;
        CreatedAt = createdAt;
        UpdatedAt = updatedAt;
        ClosedAt = closedAt;
    }

    public UserId OwnerId { get; }

    public ChatTitle Title { get; private set; }

    public ChatStatus Status { get; private set; }

    /// <summary>The model this chat asks for; null means the platform's default.</summary>
    public ModelName? Model { get; private set; }

    public SystemPrompt? SystemPrompt { get; private set; }

    /// <summary>Defaults for every message of this chat; a message may override them.</summary>
    public SamplingParameters Sampling { get; private set; }

    public DateTimeOffset CreatedAt { get; }

    public DateTimeOffset UpdatedAt { get; private set; }

    public DateTimeOffset? ClosedAt { get; private set; }

    public bool IsClosed => Status == ChatStatus.Closed;

    /// <summary>
    /// A new chat of <paramref name="owner"/>'s; <paramref name="id"/> when the caller named it before (a chat network
    /// records the question with its chat before the chat is stored), else a new one.
    /// </summary>
    public static Chat Start(User owner, ChatTitle? title, ModelName? model, SystemPrompt? systemPrompt,
        SamplingParameters? sampling, DateTimeOffset now, ChatId? id = null)
    {
        owner.EnsureCanAct();
        var chat = new Chat(id ?? ChatId.New(), owner.Id, title ?? ChatTitle.Default, ChatStatus.Active,
            model ?? owner.Preferences.DefaultModel, systemPrompt ?? owner.Preferences.SystemPrompt,
            sampling ?? SamplingParameters.Default, now, now, null);
        return chat;
    }

    public static Chat Restore(ChatId id, UserId ownerId, ChatTitle title, ChatStatus status,
        ModelName? model, SystemPrompt? systemPrompt, SamplingParameters sampling,
        DateTimeOffset createdAt, DateTimeOffset updatedAt, DateTimeOffset? closedAt) =>
        new(id, ownerId, title, status, model, systemPrompt, sampling, createdAt, updatedAt, closedAt);

    public bool IsVisibleTo(User user) => user.Id == OwnerId || user.IsAdmin;

    /// <summary>Another user's chat does not exist for them: the rule reports NotFound, not Forbidden.</summary>
    public void EnsureAccessibleBy(User user)
    {
        user.EnsureCanAct();
        CheckRule(new OnlyOwnerOrAdminMayAccessChatRule(this, user));
    }

    /// <summary>The user's next question. A chat still under the default title is named after it.</summary>
    public Message PostUserMessage(User author, PromptText content, DateTimeOffset now,
        IReadOnlyList<MessageImage>? images = null)
    {
        EnsureAccessibleBy(author);
        CheckRule(new ClosedChatAcceptsNoMessageRule(this));
        var message = Message.FromUser(Id, content, now, images);
        if (Title == ChatTitle.Default)
        {
            Title = ChatTitle.FromQuestion(content.Value);
        }

        UpdatedAt = now;
        return message;
    }

    /// <summary>
    /// A turn the conversation had before it came here — a client that sends the whole history each time, as OpenAI's
    /// API does: the user's words, or an answer they were given (stored as the model's, since the client shows it as
    /// such). System text is the chat's system prompt, not a turn. A user's turn may hold images (kept already).
    /// </summary>
    public Message RecordEarlierTurn(User author, MessageRole role, string content, DateTimeOffset now,
        IReadOnlyList<ToolCall>? toolCalls = null, string? toolCallId = null, IReadOnlyList<MessageImage>? images = null)
    {
        EnsureAccessibleBy(author);
        CheckRule(new ClosedChatAcceptsNoMessageRule(this));
        if (images is { Count: > 0 } && role != MessageRole.User)
        {
            throw new DomainException("Only a user's turn holds images.", DomainErrorKind.Invalid, "messages");
        }

        var message = role switch
        {
            MessageRole.User => Message.FromUser(Id, PromptText.From(content), now, images),
            MessageRole.Assistant => Message.EarlierAnswer(Id, content, now, toolCalls),
            MessageRole.Tool => Message.ToolResult(Id, toolCallId!, content, now),
            _ => throw new DomainException("An earlier turn is the user's, an answer or a tool's result.",
                DomainErrorKind.Invalid, "messages"),
        };
        UpdatedAt = now;
        return message;
    }

    /// <summary>
    /// The results of the tool calls the chat's last answer asked for, sent back by the caller: they are the question
    /// the model answers next.
    /// </summary>
    public IReadOnlyList<Message> PostToolResults(User author, IReadOnlyList<(string ToolCallId, string Content)> results,
        DateTimeOffset now)
    {
        EnsureAccessibleBy(author);
        CheckRule(new ClosedChatAcceptsNoMessageRule(this));
        if (results is not { Count: > 0 })
        {
            throw new DomainException("At least one tool result.", DomainErrorKind.Invalid, "messages");
        }

        var messages = results.Select(r => Message.ToolResult(Id, r.ToolCallId, r.Content, now)).ToList();
        UpdatedAt = now;
        return messages;
    }

    public void Rename(User actor, ChatTitle title, DateTimeOffset now)
    {
        EnsureAccessibleBy(actor);
        Title = title;
        UpdatedAt = now;
    }

    public void ChangeSettings(User actor, ModelName? model, SystemPrompt? systemPrompt, SamplingParameters sampling,
        DateTimeOffset now)
    {
        EnsureAccessibleBy(actor);
        CheckRule(new ClosedChatAcceptsNoMessageRule(this));
        Model = model;
        SystemPrompt = systemPrompt;
        Sampling = sampling;
        UpdatedAt = now;
    }

    /// <summary>Closing twice is harmless: the second call changes nothing.</summary>
    public void Close(User actor, DateTimeOffset now)
    {
        EnsureAccessibleBy(actor);
        CloseNow(now);
    }

    /// <summary>
    /// The platform's operators (the Discord server's admins, who hold no account here) may close any chat, e.g. one
    /// that is being abused. Closing twice is harmless.
    /// </summary>
    public void CloseAsOperator(DateTimeOffset now) => CloseNow(now);

    private void CloseNow(DateTimeOffset now)
    {
        if (IsClosed)
        {
            return;
        }

        Status = ChatStatus.Closed;
        ClosedAt = now;
        UpdatedAt = now;
    }

    public void Touch(DateTimeOffset now) => UpdatedAt = now;
}

public sealed class ClosedChatAcceptsNoMessageRule(Chat chat) : IBusinessRule
{
    public DomainErrorKind Kind => DomainErrorKind.Conflict;

    public string Message => "This chat is closed and accepts no more messages. Start a new chat to continue.";

    public bool IsBroken() => chat.IsClosed;
}

public sealed class OnlyOwnerOrAdminMayAccessChatRule(Chat chat, User user) : IBusinessRule
{
    public DomainErrorKind Kind => DomainErrorKind.NotFound;

    public string Message => Chat.NotFoundMessage;

    public bool IsBroken() => !chat.IsVisibleTo(user);
}

