using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;
using MeatLizard.Domain.Common;

namespace MeatLizard.Application.Chats.Organising;

/// <summary>Pins the caller's chat (first in the list) or unpins it.</summary>
public sealed record PinChat(Guid Id, bool Pinned) : IRequest<MediatR.Unit>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

/// <summary>Archives the caller's chat (out of the list, kept, listed with <c>?archived=true</c>) or brings it back.</summary>
public sealed record ArchiveChat(Guid Id, bool Archived) : IRequest<MediatR.Unit>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

/// <summary>Puts the caller's chat in one of their folders, or out of any with no <see cref="FolderId"/>.</summary>
public sealed record MoveChatToFolder(Guid Id, Guid? FolderId) : IRequest<MediatR.Unit>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

/// <summary>
/// Where a chat stands in its owner's list. Only its owner organises a chat (another user's, an admin's too, is not
/// found), and doing so is not using it: the chat's updated_at, and so its place among the others, stays.
/// </summary>
public sealed class OrganiseChatHandlers(UserAccess access, IChatOrganisation organisation, IClock clock)
    : IRequestHandler<PinChat, MediatR.Unit>, IRequestHandler<ArchiveChat, MediatR.Unit>,
        IRequestHandler<MoveChatToFolder, MediatR.Unit>
{
    public async Task<MediatR.Unit> Handle(PinChat request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        return Found(await organisation.SetPinnedAsync(user.Id, new ChatId(request.Id),
            request.Pinned ? clock.UtcNow : null, cancellationToken));
    }

    public async Task<MediatR.Unit> Handle(ArchiveChat request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        return Found(await organisation.SetArchivedAsync(user.Id, new ChatId(request.Id),
            request.Archived ? clock.UtcNow : null, cancellationToken));
    }

    public async Task<MediatR.Unit> Handle(MoveChatToFolder request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        if (request.FolderId is { } folder && !await organisation.FolderExistsAsync(user.Id, folder, cancellationToken))
        {
            throw NotFoundException.Folder("folderId");
        }

        return Found(await organisation.MoveToFolderAsync(user.Id, new ChatId(request.Id), request.FolderId,
            cancellationToken));
    }

    private static MediatR.Unit Found(bool changed) => changed ? MediatR.Unit.Value : throw NotFoundException.Chat();
}
