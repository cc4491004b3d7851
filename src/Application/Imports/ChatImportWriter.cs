using MeatLizard.Application.Abstractions;
using MeatLizard.Domain.Common;
using MeatLizard.Domain.Messages;
using MeatLizard.Domain.Chats;
using MeatLizard.Domain.Users;
using Microsoft.Extensions.Logging;

namespace MeatLizard.Application.Imports;

/// <summary>
/// Stores one imported conversation as a chat of its owner's, in one transaction: the chat (title and times from the
/// export), its messages as the tree they came with and its current path, and its import key — so the same
/// conversation imported again is skipped. Every message goes through the chat's rule for earlier turns
/// (<see cref="Chat.RecordEarlierTurn"/>); one it refuses (too long) fails the conversation, and only it.
/// </summary>
public sealed partial class ChatImportWriter(
    IChatRepository chats, IChatImports imports, IUnitOfWork unitOfWork, ILogger<ChatImportWriter> logger)
{
    public const string Imported = "imported";
    public const string Skipped = "skipped";
    public const string Failed = "failed";

    public async Task<ImportedConversationDto> WriteAsync(User owner, ImportedConversation conversation,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(conversation);
        var title = conversation.Title is { } named && !string.IsNullOrWhiteSpace(named) ? ChatTitle.Restore(named)
            : conversation.Turns.FirstOrDefault(t => t.Role == MessageRole.User) is { } first ? ChatTitle.FromQuestion(first.Content)
            : ChatTitle.Default;
        ImportedConversationDto Outcome(string outcome, string? reason, Guid? chat = null) =>
            new(title.Value, outcome, chat, chat is null ? 0 : conversation.Turns.Count,
                chat is null ? 0 : conversation.Turns.Count(t => !conversation.Path.Contains(t.Id)), reason, conversation.Notes);

        if (conversation.Problem is { } problem)
        {
            return Outcome(Failed, problem);
        }

        if (conversation.Turns.Count == 0)
        {
            return Outcome(Skipped, "It holds no text message to import.");
        }

        var key = conversation.Key ?? KeyOf(conversation);
        if (await imports.IsImportedAsync(owner.Id, key, cancellationToken))
        {
            return Outcome(Skipped, "Imported before.");
        }

        Chat chat;
        List<(Message Message, MessageId? Parent, bool OnPath)> messages;
        try
        {
            (chat, messages) = Build(owner, conversation, title);
        }
        catch (DomainException ex)
        {
            return Outcome(Failed, ex.Message);
        }

        try
        {
            await unitOfWork.InTransactionAsync(async ct =>
            {
                await chats.AddAsync(chat, ct);
                await imports.MarkImportedAsync(chat.Id, key, ct);
                foreach (var (message, parent, onPath) in messages)
                {
                    await imports.AddAsync(message, parent, onPath, ct);
                }

                return true;
            }, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // E.g. the same conversation imported by a call running beside this one: its key is taken.
            LogStoreFailed(ex.GetType().Name);
            return Outcome(Failed, "It could not be stored; importing the file again retries it.");
        }

        return Outcome(Imported, null, chat.Id.Value);
    }

    private static (Chat Chat, List<(Message, MessageId?, bool)> Messages) Build(User owner, ImportedConversation conversation,
        ChatTitle title)
    {
        var created = conversation.CreatedAt ?? conversation.Turns[0].CreatedAt;
        var chat = Chat.Start(owner, title, null, null, null, created);
        var ids = new Dictionary<string, MessageId>();
        var messages = new List<(Message, MessageId?, bool)>();
        foreach (var turn in conversation.Turns)
        {
            var message = chat.RecordEarlierTurn(owner, turn.Role, turn.Content, turn.CreatedAt);
            ids[turn.Id] = message.Id;
            messages.Add((message, turn.ParentId is { } parent ? ids[parent] : null, conversation.Path.Contains(turn.Id)));
        }

        chat.Touch(new[] { conversation.UpdatedAt ?? created, conversation.Turns.Max(t => t.CreatedAt) }.Max());
        return (chat, messages);
    }

    /// <summary>A conversation with no id of its own is known by its title and first message's time.</summary>
    private static string KeyOf(ImportedConversation conversation) =>
        $"untitled:{conversation.Title}:{conversation.Turns[0].CreatedAt.ToUnixTimeMilliseconds()}";

    [LoggerMessage(Level = LogLevel.Warning, Message = "An imported conversation could not be stored ({ErrorType})")]
    private partial void LogStoreFailed(string errorType);
}
