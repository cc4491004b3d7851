using FluentValidation;
using MediatR;
using MeatLizard.Application.Abstractions;
using MeatLizard.Application.Common;
using MeatLizard.Application.Common.Behaviours;
using MeatLizard.Application.Common.Exceptions;

namespace MeatLizard.Application.Chats.Organising;

/// <summary>The caller's folders, by name.</summary>
public sealed record ListFolders : IRequest<IReadOnlyList<ChatFolderDto>>;

/// <summary>A new folder of the caller's; its name is unique among theirs, ignoring case.</summary>
public sealed record CreateFolder(string? Name) : IRequest<ChatFolderDto>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

/// <summary>Renames one of the caller's folders.</summary>
public sealed record RenameFolder(Guid Id, string? Name) : IRequest<ChatFolderDto>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

/// <summary>Deletes one of the caller's folders; its chats are kept, out of any folder.</summary>
public sealed record DeleteFolder(Guid Id) : IRequest<MediatR.Unit>, IRateLimitedRequest
{
    public IReadOnlyList<RateLimitScope> LimitedBy => [RateLimitScope.Edit];
}

public sealed class FolderHandlers(UserAccess access, IChatOrganisation organisation, IClock clock)
    : IRequestHandler<ListFolders, IReadOnlyList<ChatFolderDto>>, IRequestHandler<CreateFolder, ChatFolderDto>,
        IRequestHandler<RenameFolder, ChatFolderDto>, IRequestHandler<DeleteFolder, MediatR.Unit>
{
    public async Task<IReadOnlyList<ChatFolderDto>> Handle(ListFolders request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        return await organisation.ListFoldersAsync(user.Id, cancellationToken);
    }

    public async Task<ChatFolderDto> Handle(CreateFolder request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var name = request.Name!.Trim();
        await EnsureFreeAsync(user.Id, name, null, cancellationToken);
        var id = Guid.NewGuid();
        await organisation.AddFolderAsync(user.Id, id, name, clock.UtcNow, cancellationToken);
        return await ReadAsync(user.Id, id, cancellationToken);
    }

    public async Task<ChatFolderDto> Handle(RenameFolder request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        var name = request.Name!.Trim();
        await EnsureFreeAsync(user.Id, name, request.Id, cancellationToken);
        if (!await organisation.RenameFolderAsync(user.Id, request.Id, name, cancellationToken))
        {
            throw NotFoundException.Folder();
        }

        return await ReadAsync(user.Id, request.Id, cancellationToken);
    }

    public async Task<MediatR.Unit> Handle(DeleteFolder request, CancellationToken cancellationToken)
    {
        var user = await access.RequireActiveUserAsync(cancellationToken);
        return await organisation.DeleteFolderAsync(user.Id, request.Id, cancellationToken)
            ? MediatR.Unit.Value
            : throw NotFoundException.Folder();
    }

    private async Task EnsureFreeAsync(Domain.Common.UserId owner, string name, Guid? except, CancellationToken cancellationToken)
    {
        if (await organisation.FolderNameTakenAsync(owner, name, except, cancellationToken))
        {
            throw new ConflictException($"You have a folder named “{name}” already.", "name");
        }
    }

    private async Task<ChatFolderDto> ReadAsync(Domain.Common.UserId owner, Guid id, CancellationToken cancellationToken) =>
        (await organisation.ListFoldersAsync(owner, cancellationToken)).FirstOrDefault(f => f.Id == id)
        ?? throw NotFoundException.Folder();
}

public sealed class CreateFolderValidator : AbstractValidator<CreateFolder>
{
    public CreateFolderValidator() => FolderNameRule.Apply(RuleFor(c => c.Name));
}

public sealed class RenameFolderValidator : AbstractValidator<RenameFolder>
{
    public RenameFolderValidator() => FolderNameRule.Apply(RuleFor(c => c.Name));
}
