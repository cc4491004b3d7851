using FluentValidation;
using FluentValidation.Results;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Sharing.Commands;

/// <summary>
/// A read-only link to the caller's chat as it is now, up to <paramref name="UpToMessageId"/> (the newest message when
/// null). Only the chat's owner shares it, an admin included.
/// </summary>
public sealed record CreateShareLink(Guid ChatId, Guid? UpToMessageId) : IRequest<CreatedShareLinkDto>,
    Common.Behaviours.IRateLimitedRequest
{
    /// <summary>Each link is a stored copy: limited per user like the other edits of one's own records.</summary>
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

public sealed class CreateShareLinkHandler(UserAccess access, IShareLinkStore links, IUnitOfWork unitOfWork, IClock clock)
    : IRequestHandler<CreateShareLink, CreatedShareLinkDto>
{
    public async Task<CreatedShareLinkDto> Handle(CreateShareLink request, CancellationToken cancellationToken)
    {
        var (user, chat) = await access.RequireOwnChatAsync(request.ChatId, cancellationToken);
        var asked = request.UpToMessageId is { } id ? new MessageId(id) : (MessageId?)null;
        var token = ShareTokens.New();
        var linkId = Guid.NewGuid();
        var now = clock.UtcNow;
        var (end, copied) = await unitOfWork.InTransactionAsync(async ct =>
        {
            var end = await links.FindEndAsync(chat.Id, asked, ct)
                      ?? throw new ValidationException([new ValidationFailure("upToMessageId", asked is null
                          ? "The chat has no message to share yet."
                          : "upToMessageId is not a message of this chat.")]);
            return (end, await links.AddAsync(linkId, user.Id, chat.Id, end, ShareTokens.Hash(token), now, ct));
        }, cancellationToken);
        return new CreatedShareLinkDto(linkId, chat.Id.Value, token, $"/s/{token}", end.Value, copied, now);
    }
}
