using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Models;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Messages.Queries;

/// <summary>
/// A page of the chat's current path, oldest first, each message with the versions of its turn. Pass
/// <see cref="NextBefore"/> as <c>before</c> to get the older page.
/// </summary>
public sealed record MessagePage(IReadOnlyList<MessageDto> Messages, bool HasMore, Guid? NextBefore);

public sealed record GetMessages(Guid ChatId, Guid? Before, int Limit = GetMessages.DefaultLimit)
    : IRequest<MessagePage>
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;
}

public sealed class GetMessagesHandler(UserAccess access, IChatReadModel reads) : IRequestHandler<GetMessages, MessagePage>
{
    public async Task<MessagePage> Handle(GetMessages request, CancellationToken cancellationToken)
    {
        var (_, chat) = await access.RequireSessionAsync(request.ChatId, cancellationToken);
        var before = request.Before is { } id ? new MessageId(id) : (MessageId?)null;
        return await ReadPageAsync(reads, chat.Id, before, request.Limit, cancellationToken);
    }

    /// <summary>The page of the current path before <paramref name="before"/> (the newest when null).</summary>
    internal static async Task<MessagePage> ReadPageAsync(IChatReadModel reads, ChatId chatId, MessageId? before,
        int limit, CancellationToken cancellationToken)
    {
        var page = await reads.GetMessagesPageAsync(chatId, before, limit + 1, cancellationToken);
        var hasMore = page.Count > limit;
        var messages = hasMore ? page.Skip(1).ToList() : page;
        return new MessagePage(messages, hasMore, hasMore ? messages[0].Id : null);
    }
}
